"""Django's PostgreSQL backend, whose connection health check costs no round trip when nothing happened.

With `conn_health_checks`, Django runs `SELECT 1` at the start of every request
that reuses a connection, so that a connection the server dropped (a restart, an
idle timeout, `pg_terminate_backend`) is replaced instead of failing the request.
A server that drops a connection says so: it sends a termination notice and
closes the socket, and either makes the socket readable. An idle connection's
socket is otherwise silent. So this check first looks, without waiting, whether
the socket has anything to read; only if it has (or the connection is not idle
and healthy as far as libpq knows) does it run Django's `SELECT 1`. A silent,
idle socket is as usable as `SELECT 1` would show, one round trip cheaper: on a
registration that was one of eleven statements (docs/benchmarks.md).

It also reads `timestamptz` columns with psycopg's own loader. Django registers a
subclass of psycopg's pure-Python loader (to attach its time zone to each value),
and a subclass of a compiled loader cannot be made, so with it every timestamp of a
result is parsed in Python: 400 of them on a search page of 100 versions, about
6 us each. `_tz_loader` parses with the loader psycopg itself uses (compiled, with
psycopg[binary]) and attaches the time zone as Django's does. When psycopg's loader
attaches that zone itself (the session's zone is Django's, as Django sets it on
connecting), psycopg calls the compiled loader directly: no Python per value.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base, operations
from psycopg import adapt, pq

TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
_PSYCOPG_TZ_LOADER = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, pq.Format.TEXT)
_PROBE = b"2000-01-01 00:00:00+00"
# psycopg prepares a statement run this many times on a server-binding cursor, or asked to; None turns preparing off.
_PREPARE_ONLY_WHEN_ASKED = 2**62


def _tz_loader(tz) -> type[adapt.Loader]:
    """Django's timestamptz loader for time zone `tz` (psycopg_any.register_tzloader), parsing with psycopg's own.

    As Django's, it relies on the session's time zone being `tz` (Django sets it on
    connecting): the parsed value's clock time is kept and `tz` attached. Django's
    create_cursor reads `timezone` to tell whether a cursor needs another zone.
    """

    class TzLoader(adapt.Loader):
        timezone = tz

        def __init__(self, oid: int, context=None):
            super().__init__(oid, context)
            self._parse = _PSYCOPG_TZ_LOADER(oid, context).load
            if self._parse(_PROBE).tzinfo is tz:
                # psycopg reads each value in the session's zone, and that zone is `tz`: its values are
                # Django's. psycopg's transformer calls an instance's `load`, so it runs compiled code only.
                self.load = self._parse

        def load(self, data):
            return self._parse(data).replace(tzinfo=self.timezone)

    return TzLoader


class _PreparingCursor(base.ServerBindingCursor):
    """Binds its parameters on the server, and has PostgreSQL plan each statement once per connection."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        if isinstance(cursor, _PreparingCursor):  # it binds on the server: written out as Django does for that
            try:
                return self.compose_sql(sql, params)
            except psycopg.errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _prepares_next = False

    def prepared_cursor(self):
        """Django's cursor (wrapped, logged, raising Django's errors) whose statements are prepared.

        PostgreSQL plans a prepared statement a few times, then keeps a generic plan when it
        costs no more: for a statement whose plan does not depend on its values (a lookup by a
        unique key, a page of a model by an index on both), planning stops: the get's statement
        took 0.84 ms to plan and 0.1 ms to run (docs/benchmarks.md). A statement whose
        best plan depends on its values (a metric search) must not come here. With OPTIONS
        `prepared_statements` off (DATABASE_PREPARED_STATEMENTS), the ordinary cursor.
        """
        if not self.settings_dict["OPTIONS"].get("prepared_statements"):
            return self.cursor()
        self._prepares_next = True
        try:
            return self.cursor()
        finally:
            self._prepares_next = False

    def create_cursor(self, name=None):
        if self._prepares_next and name is None:
            self.connection.cursor_factory, django_factory = _PreparingCursor, self.connection.cursor_factory
            try:
                return super().create_cursor(name)
            finally:
                self.connection.cursor_factory = django_factory
        return super().create_cursor(name)

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        params.pop("prepared_statements", None)
        # Prepare only what prepared_cursor asks to: Django's cursors bind on the client and never
        # prepare, and a statement is prepared the first time a _PreparingCursor runs it.
        params["prepare_threshold"] = _PREPARE_ONLY_WHEN_ASKED
        # Django's template is shared (cached per time zone): register on a copy.
        params["context"] = adapt.AdaptersMap(params["context"])
        params["context"].register_loader(TIMESTAMPTZ_OID, _tz_loader(self.timezone))
        return params

    def is_usable(self) -> bool:
        if self.connection is None:
            return False
        pgconn = self.connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):
            return super().is_usable()
        return not readable or super().is_usable()
