"""Django's PostgreSQL backend, with a health check that asks the socket before the server (see base.py)."""

from __future__ import annotations


def planned_once_cursor(connection):
    """A cursor whose statements PostgreSQL plans once per connection, where that is on; else an ordinary one.

    For a statement whose best plan does not depend on its values (a lookup by a unique key, a
    fixed INSERT): on this backend with DATABASE_PREPARED_STATEMENTS on, `prepared_cursor`'s;
    anywhere else (SQLite, the setting off), the connection's own cursor.
    """
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()
