"""What API authentication knows about a token, cached per process and dropped the moment it may be stale.

Every request used to load its token with its user (one ORM query) and the user's
group names (another): about 1.8 ms of Python, mostly SQL compilation. Now each
process keeps, per token digest, the token's and its user's column values and the
user's role names; a request that finds its digest here costs one raw query:

    SELECT n FROM core_authepoch WHERE id = 1

`core_authepoch` holds one row whose `n` is set to a fresh random value by database
triggers (installed by `triggers_install` after every `migrate`) in the same
transaction as any write authentication depends on: a token inserted, deleted or
updated (anything but `last_used_at`, which `token_mark_used` writes), a user updated
(anything but `last_login`) or deleted, a group membership added or removed, a group
renamed or deleted, and a TRUNCATE of any of those tables. Triggers see every write
path: services, the admin, `queryset.update`, raw SQL, another process. When the
value read differs from the one the cache was filled at, the whole cache is dropped
and the token reloaded. So nothing is stale beyond the transaction a revocation
commits in: a request that read the epoch before that commit may still succeed, as it
could when it read the token row itself; the next one is refused, in every process.

Why random and not a counter: a transaction sees its own bump before it commits; if
it rolls back (every test does), a counter would return to a value a later commit
reaches again, and a cache filled from the rolled-back data would match it.

Expiry needs no trigger: `expires_at` is compared with the clock on every request.
A missing epoch row (a flushed test database before any trigger re-creates it)
disables the cache rather than trusting it.

Each request gets fresh `ApiToken` and `User` instances built from the cached values
without a query (`Model.from_db`), the token's `user` set to that user and the user's
`_fineprint_roles` set so `core.roles.roles_of` does not query; nothing mutable is
shared between requests.

Other per-process caches ride on the same read: an app may `watch()` a table of its
own (lifecycle's provider catalogue does), so that writes to it bump the epoch too, and
key its cache by `request_epoch()`, the value this request's authentication read. That
value is forgotten when a request starts and ends, and the watching app forgets it when
its own thread writes a watched row (`request_epoch_forget`), so a request never trusts
a copy older than the data it wrote itself.
"""

from __future__ import annotations

import json
import threading

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import BigIntegerField, TextField
from django.db.models.expressions import RawSQL

from core.models import ApiToken
from core.pgbackend import planned_once_cursor

MAX_ENTRIES = 1024
EPOCH_TABLE = "core_authepoch"
EPOCH_SQL = "SELECT n FROM core_authepoch WHERE id = 1"

_ROLES_SQL = {
    "postgresql": "SELECT json_agg(g.name)::text FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id "
    'WHERE ug.user_id = "core_apitoken"."user_id"',
    "sqlite": "SELECT json_group_array(g.name) FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id "
    'WHERE ug.user_id = "core_apitoken"."user_id"',
}


class _Entry:
    __slots__ = ("roles", "token_values", "user_values")

    def __init__(self, token_values: list, user_values: list, roles: frozenset[str] | None):
        self.token_values = token_values
        self.user_values = user_values
        self.roles = roles


class _State:
    """The entries filled while the epoch was `epoch`; replaced whole, never emptied in place."""

    __slots__ = ("entries", "epoch")

    def __init__(self, epoch: int | None):
        self.epoch = epoch
        self.entries: dict[str, _Entry] = {}


_state = _State(None)
_lock = threading.Lock()
_seen = threading.local()
# Tables other apps cache under this epoch: (table, row events that bump, columns whose UPDATE does not bump).
_also_watched: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []


def _fields(model) -> tuple:
    return tuple(model._meta.concrete_fields)


def clear() -> None:
    """Forget everything (tests; the next request reloads)."""
    global _state
    with _lock:
        _state = _State(None)


def watch(table: str, *, ignored: tuple[str, ...] = ()) -> None:
    """Bump the epoch on any write to `table` too (an UPDATE only when a column not in `ignored` changes).

    Call it from an app's `ready()`: the triggers are (re)installed after each `migrate`.
    """
    entry = (table, ("INSERT", "DELETE", "UPDATE"), tuple(ignored))
    if entry not in _also_watched:
        _also_watched.append(entry)


def request_epoch() -> int | None:
    """The epoch this thread's request read while authenticating its token, or None.

    None outside a token-authenticated request, and after `request_epoch_forget`.
    """
    return getattr(_seen, "epoch", None)


def request_epoch_forget(*args, **kwargs) -> None:
    """Stop vouching for anything cached under the epoch read (a request began or ended, or wrote a watched row).

    Takes and ignores a signal's arguments, so it can be connected to one.
    """
    _seen.epoch = None


def epoch_read(using: str = DEFAULT_DB_ALIAS) -> int | None:
    connection = connections[using]
    # Every API request runs it.
    with planned_once_cursor(connection) as cursor:
        cursor.execute(EPOCH_SQL)
        row = cursor.fetchone()
    return None if row is None else row[0]


def token_find(digest: str, using: str = DEFAULT_DB_ALIAS) -> ApiToken | None:
    """The token with this digest, with its user (and the user's roles) attached, or None.

    One query when the digest is cached and nothing changed since (the epoch); else one
    query that reads the token, its user, their group names and the epoch together.
    """
    entry = _state.entries.get(digest)
    if entry is not None:
        epoch = epoch_read(using)
        _seen.epoch = epoch if using == DEFAULT_DB_ALIAS else None
        state = _state
        if epoch is not None and state.epoch == epoch:
            entry = state.entries.get(digest)
            if entry is not None:
                return _build(entry, using)
    return _load(digest, using)


def last_used_note(digest: str, when) -> None:
    """`token_mark_used` wrote `last_used_at`: keep the cached value in step (no trigger fires for it)."""
    entry = _state.entries.get(digest)
    if entry is not None:
        entry.token_values[_last_used_index()] = when


def _last_used_index() -> int:
    return [f.attname for f in _fields(ApiToken)].index("last_used_at")


def _load(digest: str, using: str) -> ApiToken | None:
    global _state
    vendor = connections[using].vendor
    rows = list(
        ApiToken.objects.using(using)
        .select_related("user")
        .annotate(
            _auth_epoch=RawSQL(EPOCH_SQL, (), output_field=BigIntegerField()),  # noqa: S611  (constant SQL)
            _auth_roles=RawSQL(_ROLES_SQL[vendor], (), output_field=TextField()),  # noqa: S611
        )
        .filter(digest=digest)
    )
    if not rows:
        return None
    token = rows[0]
    _seen.epoch = token._auth_epoch if using == DEFAULT_DB_ALIAS else None
    user = token.user
    roles = None
    if not user.is_superuser:  # roles_of gives the administrator every role without asking
        names = token._auth_roles
        if isinstance(names, str | bytes):
            names = json.loads(names)
        roles = frozenset(names or ())
        user._fineprint_roles = roles
    epoch = token._auth_epoch
    if epoch is not None:
        entry = _Entry(
            [getattr(token, f.attname) for f in _fields(ApiToken)],
            [getattr(user, f.attname) for f in _fields(type(user))],
            roles,
        )
        with _lock:
            if _state.epoch != epoch:
                _state = _State(epoch)
            entries = _state.entries
            if len(entries) >= MAX_ENTRIES:
                entries.pop(next(iter(entries)))  # the oldest
            entries[digest] = entry
    return token


def _build(entry: _Entry, using: str) -> ApiToken:
    user_model = get_user_model()
    user = user_model.from_db(using, None, entry.user_values)
    if entry.roles is not None:
        user._fineprint_roles = entry.roles
    token = ApiToken.from_db(using, None, entry.token_values)
    ApiToken.user.field.set_cached_value(token, user)
    return token


# --- The triggers -------------------------------------------------------------------------


def _watched() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(table, row events that bump, columns whose UPDATE does not bump); an UPDATE bumps unless ignored."""
    user_model = get_user_model()
    return [
        (ApiToken._meta.db_table, ("INSERT", "DELETE", "UPDATE"), ("last_used_at",)),
        (user_model._meta.db_table, ("DELETE", "UPDATE"), ("last_login",)),
        (user_model.groups.through._meta.db_table, ("INSERT", "DELETE", "UPDATE"), ()),
        (user_model.groups.field.related_model._meta.db_table, ("DELETE", "UPDATE"), ()),
        *_also_watched,
    ]


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION fineprint_auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO core_authepoch (id, n) VALUES (1, floor(random() * 9.0e18)::bigint)
    ON CONFLICT (id) DO UPDATE SET n = excluded.n;
    RETURN NULL;
END
$$
"""

# Not INSERT OR REPLACE: SQLite applies the outer statement's conflict policy to a trigger's
# statements, so under Django's INSERT OR IGNORE (m2m add) the replace would be ignored.
_SQLITE_BUMP = (
    "UPDATE core_authepoch SET n = random() WHERE id = 1; "
    "INSERT INTO core_authepoch (id, n) SELECT 1, random() WHERE NOT EXISTS (SELECT 1 FROM core_authepoch);"
)


def trigger_names(table: str) -> list[str]:
    return [f"fineprint_auth_epoch_{table}_{event.lower()}" for event in ("INSERT", "DELETE", "UPDATE", "TRUNCATE")]


def triggers_install(using: str = DEFAULT_DB_ALIAS) -> None:
    """(Re)install the epoch triggers. Runs after each `migrate` (core.apps)."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if EPOCH_TABLE not in tables:
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            cursor.execute("INSERT INTO core_authepoch (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
        elif connection.vendor == "sqlite":
            cursor.execute("INSERT OR IGNORE INTO core_authepoch (id, n) VALUES (1, 0)")
        else:  # pragma: no cover
            raise NotImplementedError(f"no auth epoch triggers for {connection.vendor}")
        for table, events, ignored in _watched():
            if table not in tables:
                continue
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            if connection.vendor == "postgresql":
                statements = _pg_statements(connection, table, events, ignored)
            else:
                statements = _sqlite_statements(connection, table, events, [c for c in columns if c not in ignored])
            for statement in statements:
                cursor.execute(statement)


def triggers_drop(using: str = DEFAULT_DB_ALIAS) -> None:
    """Remove the triggers (unapplying the migration that made core_authepoch: they would write to nothing)."""
    connection = connections[using]
    qn = connection.ops.quote_name
    tables = set(connection.introspection.table_names())
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for table, _, _ in _watched():
            if table not in tables:
                continue
            for name in trigger_names(table):
                on = f" ON {qn(table)}" if connection.vendor == "postgresql" else ""
                cursor.execute(f"DROP TRIGGER IF EXISTS {qn(name)}{on}")
        if connection.vendor == "postgresql":
            cursor.execute("DROP FUNCTION IF EXISTS fineprint_auth_epoch_bump()")


def _pg_statements(connection, table: str, events, ignored) -> list[str]:
    qn = connection.ops.quote_name
    statements = []
    for event in (*events, "TRUNCATE"):
        name = f"fineprint_auth_epoch_{table}_{event.lower()}"
        statements.append(f"DROP TRIGGER IF EXISTS {qn(name)} ON {qn(table)}")
        if event == "TRUNCATE":
            level, when = "STATEMENT", ""
        elif event == "UPDATE":
            removed = "".join(f" - '{column}'" for column in ignored)
            level, when = "ROW", f" WHEN ((to_jsonb(OLD){removed}) IS DISTINCT FROM (to_jsonb(NEW){removed}))"
        else:
            level, when = "ROW", ""
        statements.append(
            f"CREATE TRIGGER {qn(name)} AFTER {event} ON {qn(table)} FOR EACH {level}{when} "
            "EXECUTE FUNCTION fineprint_auth_epoch_bump()"
        )
    return statements


def _sqlite_statements(connection, table: str, events, columns) -> list[str]:
    qn = connection.ops.quote_name
    statements = []
    for event in events:
        name = f"fineprint_auth_epoch_{table}_{event.lower()}"
        statements.append(f"DROP TRIGGER IF EXISTS {qn(name)}")
        when = ""
        if event == "UPDATE":
            when = " WHEN " + " OR ".join(f"OLD.{qn(c)} IS NOT NEW.{qn(c)}" for c in columns)
        statements.append(
            f"CREATE TRIGGER {qn(name)} AFTER {event} ON {qn(table)} FOR EACH ROW{when} BEGIN {_SQLITE_BUMP} END"
        )
    return statements
