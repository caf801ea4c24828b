"""The connection health check (core.pgbackend): a dropped connection is replaced, a silent one costs no query."""

from __future__ import annotations

import datetime
import select

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql

pytestmark = pytest.mark.django_db(transaction=True)  # outside a transaction, as between two requests


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    """Drop the connection from the server's side, as a restart or an idle timeout would, and wait for it."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    readable, _, _ = select.select([connection.connection.pgconn.socket], [], [], 30)
    assert readable, "the server said nothing within 30 s of dropping the connection"


def _new_request() -> None:
    connection.health_check_done = False  # what request_started's close_old_connections leaves
    connection.close_if_health_check_failed()


def test_it_is_this_backend():
    assert connection.settings_dict["ENGINE"] == "core.pgbackend"
    assert connection.health_check_enabled


def test_a_connection_the_server_dropped_is_replaced_before_a_request_uses_it():
    dropped = _backend_pid()
    _terminate(dropped)

    _new_request()

    assert _backend_pid() != dropped  # a new connection, and the query worked


def test_a_silent_idle_connection_is_judged_without_asking_the_server(monkeypatch):
    asked = []
    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", lambda self: asked.append(1) or True)
    _backend_pid()  # connected, idle, nothing pending

    assert connection.is_usable()
    assert asked == []

    _terminate(_backend_pid())
    try:
        assert connection.is_usable()  # Django's SELECT 1, here the stand-in above
        assert asked == [1]
    finally:
        connection.close()  # the dropped one: the test's teardown gets a new one


def test_timestamps_are_read_with_psycopgs_loader_in_djangos_time_zone():
    from core.pgbackend.base import TIMESTAMPTZ_OID

    written = datetime.datetime(2026, 12, 1, 1, 2, 3, 4, tzinfo=datetime.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::timestamptz, %s::timestamptz + interval '1 microsecond', NULL::timestamptz", [written, written]
        )
        read, later, nothing = cursor.fetchone()
        loader = cursor.adapters.get_loader(TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)
    assert (read, later, nothing) == (written, written + datetime.timedelta(microseconds=1), None)
    assert read.tzinfo is connection.timezone and later.tzinfo is connection.timezone
    assert loader.__module__ == "core.pgbackend.base" and loader.timezone is connection.timezone


@pytest.mark.parametrize("session_zone", ["UTC", "Europe/Paris"])
def test_timestamps_read_in_any_session_zone_are_djangos(session_zone):
    # In the session's own zone (Django sets it on connecting) the loader is psycopg's compiled one; in
    # another zone it relabels as Django's loader does. Either way the values are Django's.
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from core.pgbackend.base import TIMESTAMPTZ_OID

    class DjangosLoader(BaseTzLoader):
        timezone = connection.timezone

    connection.ensure_connection()
    live = connection.connection
    ours = live.adapters.get_loader(TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)
    query = "SELECT timestamptz '2026-03-29 00:30:00.25+00' + i * interval '37 minutes' FROM generate_series(0, 99) i"
    try:
        with live.cursor() as cursor:
            cursor.execute(f"SET TIME ZONE '{session_zone}'")
            read = [row[0] for row in cursor.execute(query)]
            cursor.adapters.register_loader(TIMESTAMPTZ_OID, DjangosLoader)
            expected = [row[0] for row in cursor.execute(query)]
        loader = ours(TIMESTAMPTZ_OID, live)
    finally:
        connection.close()  # its session's zone is changed: the next test gets a new connection
    assert read == expected
    assert [value.tzinfo for value in read] == [connection.timezone] * 100
    assert [value.isoformat() for value in read] == [value.isoformat() for value in expected]
    compiled = getattr(loader.load, "__func__", None) is not ours.load
    assert compiled == (session_zone == "UTC")


def test_the_connection_prices_a_random_page_read_for_data_in_memory():
    # config/settings.py sends random_page_cost as a connection option (DATABASE_RANDOM_PAGE_COST, default 1.1):
    # at the server's 4 the planner walked the versions for a selective metric search (docs/benchmarks.md).
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"
        cursor.execute("SELECT setting, source FROM pg_settings WHERE name = 'random_page_cost'")
        assert cursor.fetchone() == ("1.1", "client")
