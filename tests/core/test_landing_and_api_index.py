"""No dead ends: `/` says what this is and where to go, `/api/v1/` lists what the API holds."""

from __future__ import annotations

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core.api_index import RESOURCES
from tests.conftest import client_for


def _collections_served() -> set[str]:
    """The names of every /api/v1/ route without a parameter, read from the URLconf itself."""
    names = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "api/v1/":
            for route in entry.url_patterns:
                if isinstance(route, URLPattern) and not route.pattern.converters and route.name:
                    names.add(route.name)
    return names - {"api-index"}


def test_it_answers_the_root_with_a_page_that_leads_to_the_admin_the_docs_and_the_schema(db):
    response = Client().get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Fineprint</h1>" in page
    for url in ("/admin/", "/api/docs/", "/api/schema/", "/api/v1/"):
        assert f'href="{url}"' in page


def test_it_answers_an_unknown_page_with_a_plain_404(db):
    assert Client().get("/nowhere/").status_code == 404


def test_it_lists_every_collection_of_the_api_at_its_root(db):
    response = Client().get("/api/v1/")

    assert response.status_code == 200
    body = response.json()
    assert body["docs"] == "http://testserver/api/docs/"
    assert body["schema"] == "http://testserver/api/schema/"
    assert set(RESOURCES) == _collections_served()
    assert body["resources"]["model-list"] == {
        "url": "http://testserver/api/v1/models/",
        "description": RESOURCES["model-list"],
    }


def test_each_listed_collection_answers_a_reader(compliance):
    api = client_for(compliance)
    listed = api.get("/api/v1/").json()["resources"]

    answers = {name: api.get(entry["url"]).status_code for name, entry in listed.items()}

    assert answers == dict.fromkeys(listed, 200)


def test_it_still_answers_an_unknown_api_path_with_the_json_error_shape(db):
    response = Client().get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_admins_view_site_link_leads_to_the_landing_page(compliance):
    client = Client()
    client.force_login(compliance)

    page = client.get(reverse("admin:index")).content.decode()

    assert '<a href="/">View site</a>' in page
    assert client.get("/").status_code == 200
