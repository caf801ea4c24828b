"""The provider catalogue in the admin: every role reads it; compliance corrects it with a reason, or syncs it now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.audit import Source
from core.roles import Role
from lifecycle.models import CatalogueSync, ProviderModel, ValueSource
from lifecycle.selectors import today
from lifecycle.services import catalogue_entry_correct, catalogue_sync
from providers.fake_openai import OPENAI_MODELS, Fault
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LIST = "/admin/lifecycle/providermodel/"
SOON = "gpt-4o-2024-08-06"
NANO = "gpt-4.1-nano-2025-04-14"
GPT35 = "gpt-3.5-turbo-0125"


def entry(model_id: str) -> ProviderModel:
    return ProviderModel.objects.get(provider="openai", model_id=model_id)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(compliance) -> Client:
    return client_of(compliance)


@pytest.fixture
def staff_engineer(db):
    return make_user("sam-staff-engineer", Role.ENGINEER, is_staff=True)


@pytest.fixture
def catalogue(fake_openai):
    """The fake provider's list, with one model shutting down five days from today."""
    fake_openai.model_set(SOON, (today() + timedelta(days=5)).isoformat())
    catalogue_sync()
    return fake_openai


def change_url(model_id: str) -> str:
    return f"{LIST}{entry(model_id).pk}/change/"


def correction(**values) -> dict:
    form = {"shutdown_date": "", "replacement": "", "change_reason": ""}
    return {**form, **values}


def listed(model_id: str) -> str:
    """How the list shows an entry's id: a link, with its provider and kind beneath."""
    return f'>{model_id}<span class="fp-sub">'


def row_of(html: str, model_id: str) -> str:
    """The list's table row that shows `model_id`."""
    start = html.index(listed(model_id))
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_it_lists_each_entry_with_its_state_days_left_and_source(admin_client, catalogue):
    response = admin_client.get(LIST)

    html = response.content.decode()
    assert response.status_code == 200
    soon = row_of(html, SOON)
    assert ">5 days<" in soon and "fp-week" in soon and "Deprecated" in soon
    assert f'{(today() + timedelta(days=5)).isoformat()}<span class="fp-sub">provider</span>' in soon
    assert "OpenAI · base model" in soon
    gpt35 = row_of(html, GPT35)
    assert "Shut down" in gpt35 and "fp-shutdown" in gpt35
    nano = row_of(html, NANO)
    assert ">No date<" in nano and "Active" in nano and "fp-none" in nano
    later = row_of(html, "gpt-4.1-mini-2025-04-14")
    expected = (OPENAI_MODELS["gpt-4.1-mini-2025-04-14"], today())
    days = (today().fromisoformat(expected[0]) - expected[1]).days
    assert f">{days} days<" in later


def test_it_shows_when_the_catalogue_was_last_synced(admin_client, catalogue):
    sync = CatalogueSync.objects.get()

    html = admin_client.get(LIST).content.decode()

    assert f"last synced {sync.finished_at:%Y-%m-%d %H:%M}" in html
    assert f"{len(OPENAI_MODELS)} models listed" in html


def test_it_says_when_the_last_sync_failed(admin_client, catalogue):
    catalogue.inject(Fault(status=500, path="/v1/models"))
    catalogue_sync()

    html = admin_client.get(LIST).content.decode()

    assert "The last attempt failed" in html
    assert "last synced" in html  # the earlier good sync is still named


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("state__exact=shutdown", GPT35, NANO),
        ("state__exact=active", NANO, SOON),
        ("kind__exact=base", NANO, None),
        ("shutdown_date_source__exact=manual", SOON, NANO),
        ("disagrees=yes", SOON, GPT35),
        ("q=nano", NANO, SOON),
    ],
)
def test_it_filters_and_searches(admin_client, compliance, catalogue, query, shown, hidden):
    catalogue_entry_correct(
        entry=entry(SOON), actor=compliance, reason="Extension agreed", shutdown_date=today() + timedelta(days=40)
    )

    html = admin_client.get(f"{LIST}?{query}").content.decode()

    assert listed(shown) in html
    if hidden:
        assert listed(hidden) not in html


def test_a_manual_date_the_provider_disagrees_with_is_marked(admin_client, compliance, catalogue):
    catalogue_entry_correct(
        entry=entry(SOON), actor=compliance, reason="Extension agreed", shutdown_date=today() + timedelta(days=40)
    )

    html = admin_client.get(LIST).content.decode()

    provider_date = (today() + timedelta(days=5)).isoformat()
    assert f"⚠ provider says {provider_date}" in row_of(html, SOON)
    assert "⚠" not in row_of(html, NANO)


def test_the_list_reads_a_fixed_number_of_queries(admin_client, catalogue):
    admin_client.get(LIST)  # warm up: the session, the user, content types

    with CaptureQueriesContext(connection) as one:
        response = admin_client.get(f"{LIST}?q={NANO}")
    with CaptureQueriesContext(connection) as all_rows:
        everything = admin_client.get(LIST)

    assert response.content.decode().count('class="fp-badge fp-none"') >= 1
    assert everything.content.decode().count('class="fp-sub"') > 2 * 3
    assert len(all_rows) == len(one)


def test_the_change_page_shows_the_provider_date_beside_the_manual_one_and_the_history(
    admin_client, compliance, catalogue
):
    manual = today() + timedelta(days=40)
    catalogue_entry_correct(entry=entry(SOON), actor=compliance, reason="Extension agreed", shutdown_date=manual)

    html = admin_client.get(change_url(SOON)).content.decode()

    assert f'value="{manual.isoformat()}"' in html  # the date in force, editable
    assert f"OpenAI says {(today() + timedelta(days=5)).isoformat()}" in html
    assert "stays in force" in html
    assert "Extension agreed" in html and compliance.username in html  # the history, with who and why
    assert "Listed by OpenAI" in html
    assert 'name="change_reason"' in html and 'name="use_provider_date"' in html
    assert "40 days left · within 90 days" in html
    history = admin_client.get(change_url(SOON).replace("/change/", "/history/"))
    assert history.status_code == 200 and "Extension agreed" in history.content.decode()


def test_a_correction_without_a_reason_is_refused(admin_client, catalogue):
    before = entry(SOON)
    rows = before.history.count()

    response = admin_client.post(change_url(SOON), correction(shutdown_date="2027-06-30", replacement="gpt-5-mini"))

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    after = entry(SOON)
    assert (after.shutdown_date, after.replacement) == (before.shutdown_date, "")
    assert after.history.count() == rows


def test_a_correction_is_saved_through_the_service_with_user_and_reason(admin_client, compliance, catalogue):
    response = admin_client.post(
        change_url(SOON),
        correction(shutdown_date="2027-06-30", replacement="gpt-5-mini", change_reason="Account team: extension"),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    corrected = entry(SOON)
    assert (corrected.shutdown_date.isoformat(), corrected.shutdown_date_source) == ("2027-06-30", ValueSource.MANUAL)
    assert (corrected.replacement, corrected.replacement_source) == ("gpt-5-mini", ValueSource.MANUAL)
    assert (corrected.manual_by, corrected.manual_reason) == (compliance, "Account team: extension")
    row = corrected.history.first()
    assert (row.history_user, row.history_source, row.history_change_reason) == (
        compliance,
        Source.ADMIN,
        "Account team: extension",
    )
    assert corrected.history.count() == 2  # listed by the sync, then this one correction


def test_the_provider_date_can_be_put_back_in_force(admin_client, compliance, catalogue):
    catalogue_entry_correct(
        entry=entry(SOON), actor=compliance, reason="Extension agreed", shutdown_date=today() + timedelta(days=40)
    )
    current = entry(SOON).shutdown_date.isoformat()

    response = admin_client.post(
        change_url(SOON),
        correction(shutdown_date=current, use_provider_date="on", change_reason="Extension withdrawn"),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    back = entry(SOON)
    assert back.shutdown_date == today() + timedelta(days=5)
    assert back.shutdown_date_source == ValueSource.PROVIDER
    assert back.history.first().history_change_reason == "Extension withdrawn"


def test_a_new_date_and_the_provider_date_at_once_is_refused(admin_client, catalogue):
    response = admin_client.post(
        change_url(SOON),
        correction(shutdown_date="2027-06-30", use_provider_date="on", change_reason="Both"),
    )

    assert response.status_code == 200
    assert "not both" in response.content.decode()
    assert entry(SOON).shutdown_date_source == ValueSource.PROVIDER


def test_other_roles_read_but_cannot_correct(staff_engineer, catalogue):
    client = client_of(staff_engineer)
    url = change_url(SOON)

    page = client.get(url)
    listed = client.get(LIST)
    posted = client.post(url, correction(shutdown_date="2027-06-30", change_reason="I think so"))
    synced = client.post(f"{LIST}sync/")

    assert page.status_code == 200 and listed.status_code == 200
    assert 'name="shutdown_date"' not in page.content.decode()
    assert "Sync now" not in listed.content.decode()
    assert (posted.status_code, synced.status_code) == (403, 403)
    assert entry(SOON).shutdown_date_source == ValueSource.PROVIDER


def test_entries_are_never_added_or_deleted_in_the_admin(admin_client, catalogue):
    pk = entry(NANO).pk

    assert admin_client.get(f"{LIST}add/").status_code == 403
    assert admin_client.post(f"{LIST}{pk}/delete/", {"post": "yes"}).status_code == 403
    assert ProviderModel.objects.filter(pk=pk).exists()


def test_sync_now_queues_the_sync_on_behalf_of_the_user_and_fills_the_catalogue(
    admin_client, compliance, fake_openai, eager_celery, django_capture_on_commit_callbacks
):
    assert admin_client.get(LIST).content.decode().count("Sync now") >= 1

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(f"{LIST}sync/", follow=True)

    assert len(callbacks) == 1  # queued after commit, not before
    assert "Queued a sync of the OpenAI catalogue" in response.content.decode()
    assert ProviderModel.objects.count() == len(OPENAI_MODELS)
    row = entry(GPT35).history.get()
    assert (row.history_source, row.history_on_behalf_of) == (Source.TASK, compliance)
    assert CatalogueSync.objects.get().ok


def test_sync_now_is_a_post(admin_client):
    assert admin_client.get(f"{LIST}sync/").status_code == 405


def test_compliance_reads_the_sync_log_and_engineers_do_not(admin_client, staff_engineer, catalogue):
    assert admin_client.get("/admin/lifecycle/cataloguesync/").status_code == 200
    assert client_of(staff_engineer).get("/admin/lifecycle/cataloguesync/").status_code == 403
