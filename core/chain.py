"""Tamper evidence: every history row is a link in one keyed hash chain.

One global chain, not one per object: a row's place (`chain_seq`) comes from a
single head row (`ChainHead`) that each writing transaction updates, so writers
serialise on it from their first history row to their commit, and an auditor
walks one sequence with no gaps. docs/audit.md explains the choice and
docs/benchmarks.md what it costs.

Each row's hash covers its canonical document (`document`): the history table,
every column of the row except its storage id (`history_id`, given by the
database after the hash is computed) and its own hash, with values spelled one
way whatever the database (`_plain`). The arithmetic is in `core.auditkit`,
which the auditor's `verify.py` is made of.

The key comes from the environment (`AUDIT_CHAIN_KEY`), never from the
database. Older keys (`AUDIT_CHAIN_OLD_KEYS`) only verify: a new key starts a
new segment at the next row, whose MAC names the old key's id.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache, partial

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, transaction

from core import auditkit

HEAD_ID = 1
REWRITE_SETTING = "fineprint.history_rewrite"


class HistoryIsAppendOnly(Exception):
    """Raised on any attempt to change or delete a history row from the application."""


@dataclass(frozen=True)
class Keyring:
    current_id: str
    current: bytes
    keys: dict[str, bytes]

    def key(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


@lru_cache(maxsize=8)
def _keyring(current: str, old: tuple[str, ...]) -> Keyring:
    if len(current) < 32:
        raise ImproperlyConfigured("AUDIT_CHAIN_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`).")
    keys = {auditkit.key_id(k.encode()): k.encode() for k in (*old, current)}
    return Keyring(current_id=auditkit.key_id(current.encode()), current=current.encode(), keys=keys)


def keyring() -> Keyring:
    return _keyring(settings.AUDIT_CHAIN_KEY, tuple(settings.AUDIT_CHAIN_OLD_KEYS))


# --- Which tables are chained ------------------------------------------------------


def chained_models() -> list[type[models.Model]]:
    """Every history model (m2m history included), in a stable order."""
    from core.audit import ChainedRow

    found = [m for m in apps.get_models() if issubclass(m, ChainedRow)]
    return sorted(found, key=lambda m: m._meta.db_table)


def history_models_unchained() -> list[type[models.Model]]:
    """History models that are not chained (a test keeps this empty)."""
    from simple_history.models import HistoricalChanges

    from core.audit import ChainedRow

    return [m for m in apps.get_models() if issubclass(m, HistoricalChanges) and not issubclass(m, ChainedRow)]


# --- The canonical document of a row -----------------------------------------------


def document_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns a row's hash covers: all but its storage id and its own hash."""
    return list(_document_fields(model))


@cache
def _document_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(f for f in model._meta.concrete_fields if not f.primary_key and f.attname != "chain_hash")


def _plain(field: models.Field, value):
    """One spelling per value, whether it comes from an unsaved instance or back from either database."""
    return None if value is None else _converter(field)(value)


def _converter(field: models.Field) -> Callable:
    """How `_plain` spells a field's non-null values, chosen once per field rather than once per value.

    The walk verifies every history row through this, so it is kept to a
    C-level call where it can be (`str`, `int`, ...).
    """
    while field.is_relation:
        field = field.target_field
    if isinstance(field, models.DateTimeField):
        return partial(_datetime, field.to_python)
    if isinstance(field, models.DateField):
        return partial(_isoformat, field.to_python, dt.date)
    if isinstance(field, models.TimeField):
        return partial(_isoformat, field.to_python, dt.time)
    if isinstance(field, models.DecimalField):
        return partial(_decimal, field.to_python, Decimal(1).scaleb(-field.decimal_places))
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, models.FloatField):
        return float
    if isinstance(field, models.IntegerField | models.AutoField | models.BigIntegerField):
        return int
    if isinstance(field, models.JSONField):
        return partial(_json, field.encoder)
    if isinstance(field, models.DurationField):
        return _microseconds
    if isinstance(field, models.UUIDField):
        return partial(_uuid, field.to_python)
    if isinstance(field, models.BinaryField):
        return _base64
    if isinstance(field, models.FileField):
        return _file_name
    return str


def _datetime(to_python: Callable, value) -> str:
    if type(value) is not dt.datetime:  # to_python returns a datetime as it is
        value = to_python(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    if value.year < 1000:  # isoformat pads the year to 4 digits, strftime's %Y does not
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # the same text as that strftime, faster


def _isoformat(to_python: Callable, kind: type, value) -> str:
    return (value if type(value) is kind else to_python(value)).isoformat()


def _decimal(to_python: Callable, exponent: Decimal, value) -> str:
    return str(to_python(value).quantize(exponent))


def _json(encoder: type[json.JSONEncoder] | None, value):
    return json.loads(json.dumps(value, cls=encoder))


def _microseconds(value: dt.timedelta) -> int:
    return value // dt.timedelta(microseconds=1)


def _uuid(to_python: Callable, value) -> str:
    return str(to_python(value))


def _base64(value) -> str:
    return base64.b64encode(bytes(value)).decode()


def _file_name(value) -> str:
    return str(getattr(value, "name", value) or "")


@cache
def _converters(model: type[models.Model], from_db: bool) -> tuple[tuple[str, Callable], ...]:
    return tuple((f.attname, _db_converter(f) if from_db else _converter(f)) for f in _document_fields(model))


def _db_converter(field: models.Field) -> Callable:
    """`_converter`, for a value Django has read from the database.

    JSON read back with the standard decoder is already plain (str keys, lists,
    str, int, float, bool, None), which `_json`'s round trip returns unchanged.
    """
    if isinstance(field, models.JSONField) and field.decoder is None and field.encoder is None:
        return _same
    return _converter(field)


def _same(value):
    return value


def row_values(model: type[models.Model], values: Sequence, *, from_db: bool = False) -> dict:
    """The document's `row` from values in `document_fields` order.

    `from_db`: the values come from a query (as the verifier reads them), which
    spares re-encoding JSON; the row is the same either way.
    """
    return {
        name: None if value is None else convert(value)
        for (name, convert), value in zip(_converters(model, from_db), values, strict=True)
    }


def document(model: type[models.Model], row: dict) -> bytes:
    return auditkit.canonical({"table": model._meta.db_table, "row": row})


def instance_document(instance: models.Model) -> bytes:
    model = type(instance)
    return document(model, row_values(model, [getattr(instance, f.attname) for f in document_fields(model)]))


# --- Linking new rows ----------------------------------------------------------------


# Moves the head `count` (the first parameter) places on; returns its new seq and the link it replaced.
# The UPDATE comes first, so the head row is locked (PostgreSQL) or the database write-locked (SQLite)
# before anything is read from it.
CLAIM_SQL = f"UPDATE core_chainhead SET seq = seq + %s WHERE id = {HEAD_ID} RETURNING seq, row_hash, key_id"  # noqa: S608


# The head at the genesis link, unless there is one already (a fresh or flushed database has none).
GENESIS_SQL = (
    "INSERT INTO core_chainhead (id, seq, row_hash, key_id) VALUES (%s, 0, %s, '') ON CONFLICT (id) DO NOTHING",
    [HEAD_ID, auditkit.GENESIS],
)


def claimed(count: int, found: Sequence) -> tuple[int, str, str]:
    """The first new seq and the link before it, from what CLAIM_SQL returned for `count` rows."""
    seq, prev_hash, prev_key = found
    return seq - count + 1, prev_hash, prev_key


def _claim(using: str, count: int) -> tuple[int, str, str]:
    """Move the head `count` places on; return the first new seq and the link before it."""
    with connections[using].cursor() as cursor:
        for _attempt in range(2):
            cursor.execute(CLAIM_SQL, [count])
            found = cursor.fetchone()
            if found:
                return claimed(count, found)
            # A fresh (or flushed) database: the head starts at the genesis link.
            cursor.execute(*GENESIS_SQL)
    raise RuntimeError("the audit chain head could not be claimed")


def link(rows: Sequence[models.Model], using: str) -> None:
    """Give unsaved history rows their seq, key id and hash, and move the head's seq to the last.

    Call inside the transaction that inserts them (`chained_insert`): the head's
    row lock is then held until that commit, so links are never lost or doubled.
    Inserting the last row sets the head's hash (a trigger).
    """
    if rows:
        link_from(rows, _claim(using, len(rows)))


def link_from(rows: Sequence[models.Model], claim: tuple[int, str, str]) -> None:
    """`link` for rows whose places the caller has claimed (`claimed`), in the same transaction."""
    ring = keyring()
    first, prev_hash, prev_key = claim
    for offset, row in enumerate(rows):
        row.chain_seq = first + offset
        row.chain_key = ring.current_id
        row.chain_hash = auditkit.link_hash(ring.current, prev_key, prev_hash, instance_document(row))
        prev_hash, prev_key = row.chain_hash, ring.current_id
    # The head takes the last row's hash when that row is inserted: the history tables' insert
    # trigger does it (triggers_install), which saves a round trip per link.


def _head_set(using: str, row: models.Model) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE core_chainhead SET row_hash = %s, key_id = %s WHERE id = %s AND seq = %s",
            [row.chain_hash, row.chain_key, HEAD_ID, row.chain_seq],
        )


@contextmanager
def chained_insert(rows: Sequence[models.Model], using: str) -> Iterator[None]:
    """Link `rows`, then insert them in the same transaction."""
    with transaction.atomic(using=using, savepoint=False):
        link(rows, using)
        yield


def insert_linked(rows: Sequence[models.Model], using: str) -> None:
    """Link unsaved history rows of any tables with one claim of the head, then insert them.

    One statement per table (`bulk_create`) rather than one per row; the
    caller's transaction (`core.audit.history_batch`) holds the head's lock
    from the claim to its commit, as `chained_insert` does.
    """
    if not rows:
        return
    with transaction.atomic(using=using, savepoint=False):
        link(rows, using)
        by_model: dict[type[models.Model], list[models.Model]] = {}
        for row in rows:
            by_model.setdefault(type(row), []).append(row)
        for model, group in by_model.items():
            # The QuerySet's own bulk_create: ChainedQuerySet's would link the rows a second time.
            models.QuerySet.bulk_create(model._base_manager.db_manager(using).all(), group)


# --- Append-only in the database -----------------------------------------------------

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION fineprint_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.chain_hash IS NULL OR NEW.chain_seq IS NULL THEN
            RAISE EXCEPTION 'history is append-only and chained: unchained INSERT into % refused', TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        -- The chain's last link: the head (moved on by core.chain.link) takes its hash.
        UPDATE core_chainhead SET row_hash = NEW.chain_hash, key_id = NEW.chain_key
            WHERE id = 1 AND seq = NEW.chain_seq;
        RETURN NEW;
    END IF;
    IF coalesce(current_setting('{REWRITE_SETTING}', true), '') = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""  # noqa: S608  (no input: the setting's name is a constant)


def _pg_statements(table: str) -> list[str]:
    quoted = f'"{table}"'
    return [
        f"DROP TRIGGER IF EXISTS fineprint_append_only ON {quoted}",
        f"DROP TRIGGER IF EXISTS fineprint_no_truncate ON {quoted}",
        f"CREATE TRIGGER fineprint_append_only BEFORE INSERT OR UPDATE OR DELETE ON {quoted} "
        "FOR EACH ROW EXECUTE FUNCTION fineprint_history_append_only()",
        f"CREATE TRIGGER fineprint_no_truncate BEFORE TRUNCATE ON {quoted} "
        "FOR EACH STATEMENT EXECUTE FUNCTION fineprint_history_append_only()",
    ]


# SQLite has no session settings: the exception is a row in this table, inserted and deleted
# within the rewriting transaction (history_rewrite). Not a model: nothing in the app touches it.
_SQLITE_KINDS = ("no_update", "no_delete", "chained_insert", "head")


def _sqlite_statements(table: str) -> list[str]:
    quoted = f'"{table}"'
    allowed = "EXISTS (SELECT 1 FROM fineprint_history_rewrite)"
    return [
        *(f'DROP TRIGGER IF EXISTS "fp_{kind}_{table}"' for kind in _SQLITE_KINDS),
        f'CREATE TRIGGER "fp_no_update_{table}" BEFORE UPDATE ON {quoted} WHEN NOT {allowed} '
        f"BEGIN SELECT RAISE(ABORT, 'history is append-only: UPDATE on {table} refused'); END",
        f'CREATE TRIGGER "fp_no_delete_{table}" BEFORE DELETE ON {quoted} WHEN NOT {allowed} '
        f"BEGIN SELECT RAISE(ABORT, 'history is append-only: DELETE on {table} refused'); END",
        f'CREATE TRIGGER "fp_chained_insert_{table}" BEFORE INSERT ON {quoted} '
        "WHEN NEW.chain_hash IS NULL OR NEW.chain_seq IS NULL "
        f"BEGIN SELECT RAISE(ABORT, 'history is append-only and chained: unchained INSERT into {table} refused'); END",
        # The chain's last link: the head (moved on by core.chain.link) takes its hash.
        f'CREATE TRIGGER "fp_head_{table}" AFTER INSERT ON {quoted} '  # noqa: S608  (the model's table)
        "BEGIN UPDATE core_chainhead SET row_hash = NEW.chain_hash, key_id = NEW.chain_key "
        "WHERE id = 1 AND seq = NEW.chain_seq; END",
    ]


def triggers_install(using: str = "default") -> None:
    """(Re)install the append-only triggers on every history table. Runs after each `migrate`."""
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
        elif connection.vendor == "sqlite":
            cursor.execute("CREATE TABLE IF NOT EXISTS fineprint_history_rewrite (id INTEGER NOT NULL)")
        for model in chained_models():
            table = model._meta.db_table
            if table not in tables:
                continue
            if connection.vendor == "postgresql":
                statements = _pg_statements(table)
            elif connection.vendor == "sqlite":
                statements = _sqlite_statements(table)
            else:
                raise ImproperlyConfigured(f"no append-only triggers for {connection.vendor}")
            for statement in statements:
                cursor.execute(statement)


@contextmanager
def history_rewrite(using: str = "default") -> Iterator[None]:
    """The documented exception: a migration (or the test suite's flush) that must change history rows.

    On PostgreSQL it sets `fineprint.history_rewrite` for the transaction; on
    SQLite it inserts the row the triggers look for, and deletes it before the
    transaction ends. Either way it ends with the transaction, even on an error.
    """
    connection = connections[using]
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL {REWRITE_SETTING} = 'on'")
            else:
                cursor.execute("INSERT INTO fineprint_history_rewrite (id) VALUES (1)")
        yield
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL {REWRITE_SETTING} = 'off'")
            else:
                cursor.execute("DELETE FROM fineprint_history_rewrite")


# --- Rows written before the chain existed ---------------------------------------------


def backfill(using: str = "default") -> int:
    """Chain history rows written before the chain existed, oldest first. Returns how many.

    Runs after `migrate` (the documented exception to append-only): a database
    that predates the chain gets a first segment over its existing history.
    """
    pending = []
    for model in chained_models():
        manager = model._base_manager.using(using)
        for pk, when in manager.filter(chain_seq__isnull=True).values_list("pk", written_at_field(model)):
            pending.append((when, model._meta.db_table, pk, model))
    if not pending:
        return 0
    pending.sort(key=lambda p: (p[0] or dt.datetime.min.replace(tzinfo=dt.UTC), p[1], p[2]))
    with history_rewrite(using):
        by_model: dict[type, dict] = {}
        for model in {p[3] for p in pending}:
            ids = [p[2] for p in pending if p[3] is model]
            by_model[model] = model._base_manager.using(using).in_bulk(ids)
        rows = [by_model[p[3]][p[2]] for p in pending]
        link(rows, using)
        for row in rows:
            type(row)._base_manager.using(using).filter(pk=row.pk).update(
                chain_seq=row.chain_seq, chain_key=row.chain_key, chain_hash=row.chain_hash
            )
        _head_set(using, rows[-1])  # an UPDATE, not an insert: the trigger does not do it here
    return len(rows)


def written_at_field(model: type[models.Model]) -> str:
    """When a row was written: its history_date, or its parent history row's for an m2m history row."""
    names = {f.name for f in model._meta.concrete_fields}
    return "history_date" if "history_date" in names else "history__history_date"
