"""API requests read the catalogue from a per-process copy that the auth epoch vouches for.

lifecycle.selectors.catalogue_cached: a token-authenticated request has read the auth epoch
to trust its token; a copy of the catalogue taken under the same value needs no query. Every
write to an entry moves the epoch (a trigger, so every write path), and the next request sees it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import auth_cache
from lifecycle.models import ModelKind, Provider, ProviderModel
from lifecycle.selectors import catalogue_cached, catalogue_forget, runway
from registry import services
from tests.conftest import model_payload, version_payload

BASE = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def entry(db):
    return ProviderModel.objects.create(
        provider=Provider.OPENAI,
        model_id=BASE,
        kind=ModelKind.BASE,
        shutdown_date=timezone.localdate() + timedelta(days=40),
    )


@pytest.fixture
def version(engineer, entry):
    model = services.model_create(actor=engineer, **model_payload(base_model=BASE))
    return services.version_register(model=model, actor=engineer, **version_payload(version="v1"))


def catalogue_reads(queries) -> int:
    return sum('"lifecycle_providermodel"' in q["sql"] for q in queries.captured_queries)


def detail(client, version) -> tuple[dict, int]:
    """The version's runway as the API shows it (`lifecycle`), and how many statements read the catalogue for it."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/models/{version.model.name}/versions/{version.version}/")
    assert response.status_code == 200, response.content
    return response.json()["lifecycle"], catalogue_reads(queries)


def test_a_request_reads_the_catalogue_only_when_the_copy_is_not_current(api, engineer, version):
    client = api(engineer)
    catalogue_forget()
    first, reads_first = detail(client, version)
    again, reads_again = detail(client, version)

    assert reads_first == 1
    assert reads_again == 0
    assert again == first
    assert first["shutdown_date"] == (timezone.localdate() + timedelta(days=40)).isoformat()


@pytest.mark.parametrize("how", ["save", "queryset update", "raw sql", "delete"])
def test_an_entry_changed_by_any_write_path_shows_on_the_next_request(api, engineer, version, entry, how):
    client = api(engineer)
    detail(client, version)  # the copy is current
    new_date = timezone.localdate() + timedelta(days=9)

    if how == "save":
        entry.shutdown_date = new_date
        entry.save()
    elif how == "queryset update":  # no signal: only the trigger sees it
        ProviderModel.objects.filter(pk=entry.pk).update(shutdown_date=new_date)
    elif how == "raw sql":
        with connection.cursor() as cursor:
            cursor.execute("UPDATE lifecycle_providermodel SET shutdown_date = %s WHERE id = %s", [new_date, entry.pk])
    else:
        entry.delete()

    shown, reads = detail(client, version)
    assert reads == 1
    if how == "delete":
        assert shown["state"] == "unknown"
    else:
        assert shown["shutdown_date"] == new_date.isoformat()
        assert shown["days_left"] == 9


def test_the_syncs_stamp_does_not_move_the_epoch(api, engineer, version, entry):
    client = api(engineer)
    detail(client, version)
    ProviderModel.objects.filter(pk=entry.pk).update(last_synced_at=timezone.now())
    _, reads = detail(client, version)
    assert reads == 0


def test_registration_refuses_a_base_model_the_moment_the_catalogue_says_it_shut_down(api, engineer, version, entry):
    client = api(engineer)
    url = f"/api/v1/models/{version.model.name}/versions/"
    assert client.post(url, version_payload(version="v2"), format="json").status_code == 201  # the copy is current

    ProviderModel.objects.filter(pk=entry.pk).update(shutdown_date=timezone.localdate() - timedelta(days=1))
    refused = client.post(url, version_payload(version="v3"), format="json")

    assert refused.status_code == 409, refused.content
    assert refused.json()["error"]["code"] == "model_shut_down"


def test_outside_a_token_request_nothing_is_copied(engineer, entry):
    assert auth_cache.request_epoch() is None
    assert catalogue_cached() is None
    with CaptureQueriesContext(connection) as queries:
        found = runway(provider=Provider.OPENAI, base_model=BASE)
    assert catalogue_reads(queries) == 1
    assert found.days_left == 40


@pytest.fixture
def connection_kept():
    """As Django's test client does: a request's start and end do not close the test's connection."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def test_the_epoch_a_request_read_is_forgotten_when_a_request_starts_or_ends_or_this_thread_writes_an_entry(
    entry, connection_kept
):
    for forget in (
        lambda: request_started.send(sender=None),
        lambda: request_finished.send(sender=None),
        lambda: entry.save(),
    ):
        auth_cache._seen.epoch = auth_cache.epoch_read()
        assert auth_cache.request_epoch() is not None
        forget()
        assert auth_cache.request_epoch() is None


def test_a_copy_is_kept_under_the_epoch_the_request_read(api, engineer, version, entry):
    client = api(engineer)
    detail(client, version)
    epoch = auth_cache.epoch_read()
    auth_cache._seen.epoch = epoch
    try:
        copied = catalogue_cached()
        assert copied[(Provider.OPENAI, BASE)].shutdown_date == entry.shutdown_date
        auth_cache._seen.epoch = epoch + 1  # another value: the copy is not trusted, the catalogue read again
        with CaptureQueriesContext(connection) as queries:
            assert catalogue_cached() == copied
        assert catalogue_reads(queries) == 1
    finally:
        auth_cache.request_epoch_forget()
