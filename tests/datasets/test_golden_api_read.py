"""Reading golden sets: the list with latest versions, a set's versions, a version's items by intent."""

from __future__ import annotations

import pytest

from tests.sbs.helpers import golden_version

ITEMS = [("b-1", ["billing"]), ("b-2", ["billing", "returns"]), ("r-1", ["returns"]), ("s-1", ["shipping"])]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def test_it_lists_sets_with_their_latest_version_in_one_query(api, executive, engineer, django_assert_max_num_queries):
    golden_version(engineer, ITEMS[:2], name="alpha")
    latest = golden_version(engineer, ITEMS, name="alpha")
    only = golden_version(engineer, ITEMS[2:], name="beta")
    client = api(executive)

    with django_assert_max_num_queries(4):  # token (and its first use), roles, the page (sets with counts)
        response = client.get("/api/v1/golden-sets/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["name"], r["version_count"], r["latest_version"]) for r in rows] == [
        ("alpha", 2, {"number": 2, "sha256": latest.sha256}),
        ("beta", 1, {"number": 1, "sha256": only.sha256}),
    ]


def test_it_shows_a_set_with_each_version(api, executive, engineer):
    first = golden_version(engineer, ITEMS[:2], name="alpha")
    golden_version(engineer, ITEMS, name="alpha")

    body = api(executive).get("/api/v1/golden-sets/alpha/").json()

    assert [(v["number"], v["item_count"], v["intent_counts"]) for v in body["versions"]] == [
        (1, 2, {"billing": 2, "returns": 1}),
        (2, 4, {"billing": 2, "returns": 2, "shipping": 1}),
    ]
    assert body["versions"][0]["sha256"] == first.sha256
    assert body["versions"][0]["check"]["status"] == "queued"
    assert body["versions"][0]["uploaded_by"] == engineer.username


def test_it_filters_items_by_intent_and_pages_them(api, executive, engineer, django_assert_max_num_queries):
    golden_version(engineer, ITEMS, name="alpha")
    client = api(executive)

    with django_assert_max_num_queries(5):  # token (and its first use), roles, the version, the page
        billing = client.get("/api/v1/golden-sets/alpha/versions/1/items/?intent=billing")
    first = client.get("/api/v1/golden-sets/alpha/versions/1/items/?page_size=3").json()
    rest = client.get(first["next"]).json()

    assert [row["item_id"] for row in billing.json()["results"]] == ["b-1", "b-2"]
    assert [row["item_id"] for row in first["results"] + rest["results"]] == ["b-1", "b-2", "r-1", "s-1"]
    assert rest["next"] is None


def test_it_matches_an_intent_whole_not_a_prefix(api, executive, engineer):
    golden_version(engineer, [("a-1", ["bill"]), ("a-2", ["billing"])], name="alpha")

    rows = api(executive).get("/api/v1/golden-sets/alpha/versions/1/items/?intent=bill").json()["results"]

    assert [row["item_id"] for row in rows] == ["a-1"]


def test_it_answers_404_for_what_is_not_there(api, executive, engineer):
    golden_version(engineer, ITEMS, name="alpha")
    client = api(executive)

    assert client.get("/api/v1/golden-sets/nope/").status_code == 404
    assert client.get("/api/v1/golden-sets/alpha/versions/2/").status_code == 404
    assert client.get(f"/api/v1/golden-sets/alpha/versions/{10**30}/items/").status_code == 404
    assert client.get("/api/v1/golden-sets/alpha/versions/1/items/?intent=a%00b").status_code == 400
    assert client.get("/api/v1/golden-sets/alpha/versions/1/items/?cursor=junk").status_code == 400


def test_it_names_the_golden_set_on_the_dataset(api, executive, engineer):
    version = golden_version(engineer, ITEMS, name="alpha")

    detail = api(executive).get(f"/api/v1/datasets/{version.sha256}/").json()
    [row] = api(executive).get("/api/v1/datasets/?kind=golden").json()["results"]

    assert (detail["golden_set"], detail["golden_version"]) == ("alpha", 1)
    assert (row["golden_set"], row["golden_version"]) == ("alpha", 1)
