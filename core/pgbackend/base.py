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
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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
