"""The per-process token cache: one query per request, and nothing it knows outlives a change.

Every way a token stops working (revoked by the service, by a queryset update, by raw
SQL; expired; its user deactivated; a role taken away, renamed or deleted) is refused
on the very next request, through the database triggers that change the epoch.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory

from core import auth_cache, services
from core.authentication import BearerTokenAuthentication
from core.models import ApiToken
from core.roles import Role, roles_of
from registry.models import RegisteredModel
from tests.conftest import make_user, model_payload

URL = "/api/v1/models/"


@pytest.fixture(autouse=True)
def _empty_auth_cache():
    auth_cache.clear()
    yield
    auth_cache.clear()


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def own_token(user) -> services.IssuedToken:
    return services.token_issue(user=user, name="ci", issued_by=user, via="tests")


def epoch() -> int | None:
    return auth_cache.epoch_read()


def auth_queries(captured) -> list[str]:
    words = ("core_apitoken", "auth_user_groups", "auth_group", "core_authepoch")
    return [q["sql"] for q in captured if any(word in q["sql"] for word in words)]


@pytest.fixture
def cached(engineer):
    """An engineer's token, used once (so cached and its use recorded)."""
    issued = own_token(engineer)
    client = bearer(issued.secret)
    assert client.get(URL).status_code == 200
    return issued, client


def test_it_authenticates_a_cached_token_with_one_query(cached, django_assert_num_queries):
    issued, _ = cached
    request = APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {issued.secret}")

    with django_assert_num_queries(1) as captured:
        user, token = BearerTokenAuthentication().authenticate(request)

    assert captured.captured_queries[0]["sql"] == auth_cache.EPOCH_SQL
    assert (user.pk, user.username, user.is_authenticated, user.is_superuser) == (
        issued.token.user_id,
        "erin-engineer",
        True,
        False,
    )
    assert token.pk == issued.token.pk and token.user is user and token.created_by_id == issued.token.created_by_id
    with django_assert_num_queries(0):
        assert roles_of(user) == {Role.ENGINEER}
        assert token.user.username == "erin-engineer"


def test_a_cached_request_reads_only_the_epoch_for_authentication(cached):
    _, client = cached
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200

    assert auth_queries(captured.captured_queries) == [auth_cache.EPOCH_SQL]


def test_a_first_request_loads_token_user_roles_and_epoch_in_one_query(engineer):
    issued = own_token(engineer)
    request = APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {issued.secret}")

    with CaptureQueriesContext(connection) as captured:
        user, _ = BearerTokenAuthentication().authenticate(request)
        assert roles_of(user) == {Role.ENGINEER}

    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 1, reads  # plus the first use's UPDATE of last_used_at


def test_the_cached_user_writes_history_and_foreign_keys(cached, engineer):
    _, client = cached
    response = client.post(URL, model_payload(), format="json")
    assert response.status_code == 201, response.content

    model = RegisteredModel.objects.get(name=response.json()["name"])
    assert model.history.get().history_user == engineer


def test_recording_a_use_does_not_change_the_epoch(cached):
    issued, client = cached
    before = epoch()
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=timezone.now() - timedelta(hours=2))
    assert epoch() == before

    assert client.get(URL).status_code == 200  # the cached last use is an hour old: written again
    assert epoch() == before
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    assert not [q for q in captured.captured_queries if q["sql"].startswith("UPDATE")]


def test_the_cache_knows_when_a_use_was_recorded(cached, django_assert_num_queries):
    issued, _ = cached
    request = APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    with django_assert_num_queries(1):  # no second UPDATE of last_used_at within the hour
        BearerTokenAuthentication().authenticate(request)


def refused(client) -> int:
    return client.get(URL).status_code


def test_a_token_revoked_by_the_service_is_refused_next(cached, engineer):
    issued, client = cached
    services.token_revoke(token=issued.token, actor=engineer, reason="leaked")
    assert refused(client) == 401


def test_a_token_revoked_by_a_queryset_update_is_refused_next(cached):
    issued, client = cached
    ApiToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())
    assert refused(client) == 401


def test_a_token_revoked_by_raw_sql_is_refused_next(cached):
    issued, client = cached
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_apitoken SET revoked_at = %s WHERE id = %s", [timezone.now(), issued.token.pk])
    assert refused(client) == 401


def test_a_token_deleted_is_refused_next(cached):
    issued, client = cached
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_apitoken WHERE id = %s", [issued.token.pk])
    assert refused(client) == 401


def test_a_token_whose_expiry_is_brought_forward_is_refused_next(cached):
    issued, client = cached
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refused(client) == 401


def test_a_cached_token_expires_by_the_clock(cached, monkeypatch):
    issued, client = cached
    later = issued.token.expires_at + timedelta(seconds=1)
    monkeypatch.setattr("core.authentication.timezone.now", lambda: later)
    assert refused(client) == 401


def test_a_deactivated_user_is_refused_next(cached, engineer):
    _, client = cached
    engineer.is_active = False
    engineer.save()
    assert refused(client) == 401


def test_a_role_taken_away_is_gone_next(cached, engineer):
    _, client = cached
    engineer.groups.remove(Group.objects.get(name=Role.ENGINEER))
    assert refused(client) == 403


def test_a_role_renamed_is_gone_next(cached):
    _, client = cached
    Group.objects.filter(name=Role.ENGINEER).update(name="Former engineers")
    assert refused(client) == 403


def test_a_role_deleted_is_gone_next(cached):
    _, client = cached
    Group.objects.get(name=Role.ENGINEER).delete()
    assert refused(client) == 403


def test_a_role_given_counts_next(db):
    # Django adds a membership with INSERT OR IGNORE on SQLite, whose policy the trigger's statements inherit.
    newcomer = make_user("nora-newcomer")
    client = bearer(own_token(newcomer).secret)
    assert refused(client) == 403

    newcomer.groups.add(Group.objects.get(name=Role.COMPLIANCE))
    assert client.get(URL).status_code == 200


def test_a_user_made_administrator_counts_next(db):
    newcomer = make_user("nora-newcomer")
    client = bearer(own_token(newcomer).secret)
    assert refused(client) == 403

    newcomer.is_superuser = True
    newcomer.save()
    assert client.get(URL).status_code == 200


def test_a_login_changes_nothing(cached, engineer):
    before = epoch()
    engineer.last_login = timezone.now()
    engineer.save(update_fields=["last_login"])
    assert epoch() == before


def test_a_missing_epoch_row_disables_the_cache(cached, django_assert_num_queries):
    issued, client = cached
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_authepoch")
    request = APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    with django_assert_num_queries(2):  # the epoch (none), then the token itself
        assert BearerTokenAuthentication().authenticate(request)[1].pk == issued.token.pk

    ApiToken.objects.filter(pk=issued.token.pk).update(revoked_at=timezone.now())  # the trigger writes it again
    assert epoch() is not None
    assert refused(client) == 401


def test_the_cache_is_bounded(engineer, monkeypatch):
    monkeypatch.setattr(auth_cache, "MAX_ENTRIES", 3)
    secrets = [own_token(engineer).secret for _ in range(5)]
    for secret in secrets:
        assert bearer(secret).get(URL).status_code == 200

    assert len(auth_cache._state.entries) == 3
    assert set(auth_cache._state.entries) == {services.token_digest(s) for s in secrets[2:]}


def epoch_triggers() -> set[str]:
    if connection.vendor == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fineprint_auth_epoch_%'"
    else:
        query = "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'fineprint_auth_epoch_%'"
    with connection.cursor() as cursor:
        cursor.execute(query)
        return {row[0] for row in cursor.fetchall()}


def test_the_epoch_triggers_exist_after_migrate(db):
    names = epoch_triggers()
    if connection.vendor == "postgresql":  # and one for TRUNCATE on each table
        tables = ("core_apitoken", "auth_user", "auth_user_groups", "auth_group", "lifecycle_providermodel")
        assert {name for name in names if name.endswith("_truncate")} == {
            f"fineprint_auth_epoch_{table}_truncate" for table in tables
        }
        names -= {f"fineprint_auth_epoch_{table}_truncate" for table in tables}

    assert names == {
        "fineprint_auth_epoch_core_apitoken_insert",
        "fineprint_auth_epoch_core_apitoken_delete",
        "fineprint_auth_epoch_core_apitoken_update",
        "fineprint_auth_epoch_auth_user_delete",
        "fineprint_auth_epoch_auth_user_update",
        "fineprint_auth_epoch_auth_user_groups_insert",
        "fineprint_auth_epoch_auth_user_groups_delete",
        "fineprint_auth_epoch_auth_user_groups_update",
        "fineprint_auth_epoch_auth_group_delete",
        "fineprint_auth_epoch_auth_group_update",
        # lifecycle watches its catalogue: API requests read a per-process copy the epoch vouches for
        "fineprint_auth_epoch_lifecycle_providermodel_insert",
        "fineprint_auth_epoch_lifecycle_providermodel_delete",
        "fineprint_auth_epoch_lifecycle_providermodel_update",
    }


def test_installing_the_triggers_twice_is_harmless(cached):
    _, client = cached
    auth_cache.triggers_install()
    auth_cache.triggers_install()
    ApiToken.objects.update(revoked_at=timezone.now())
    assert refused(client) == 401


def test_the_triggers_go_with_the_table(transactional_db):
    """Unapplying the migration drops them: left behind, every token or user write would fail."""
    assert epoch_triggers()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("core", "0008_audit_verification_labels")])
        assert epoch_triggers() == set()
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
        auth_cache.triggers_install()
    assert epoch_triggers()
