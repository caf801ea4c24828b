"""Walk the audit chain and name its first broken link.

The walk merges every history table by `chain_seq` and recomputes each row's
hash from its columns and the previous link (core.chain). A link that is
missing, doubled, unchained, under an unknown key, or whose hash differs is a
break; so is a chain that ends before its head or before a checkpoint, or a
checkpoint whose signature or hash does not match.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from django.db import connections, models, transaction

from core import auditkit, chain

CHUNK = 5000


@dataclass(frozen=True)
class Break:
    problem: str
    table: str = ""
    row_id: int | None = None
    object_id: str = ""
    seq: int | None = None
    expected: str = ""
    found: str = ""

    def describe(self) -> str:
        where = (
            f" ({self.table} row {self.row_id}, object {self.object_id or '-'}, link {self.seq})" if self.table else ""
        )
        hashes = f"; expected {self.expected}, found {self.found}" if self.expected or self.found else ""
        return f"{self.problem}{where}{hashes}"


@dataclass
class Result:
    ok: bool = True
    rows_checked: int = 0
    first_seq: int = 0
    last_seq: int = 0
    last_hash: str = auditkit.GENESIS
    last_key: str = ""
    first_break: Break | None = None
    checkpoints_checked: int = 0
    segments: list[tuple[str, int]] = field(default_factory=list)

    def fail(self, found: Break) -> Result:
        # The last good link: the links checked so far follow `first_seq` without a gap.
        self.last_seq = max(self.last_seq, self.first_seq - 1 + self.rows_checked)
        self.ok = False
        self.first_break = found
        return self


def _object_attname(model: type[models.Model]) -> str:
    tracked = getattr(model, "instance_type", None)
    if tracked is not None:
        return tracked._meta.pk.attname
    return "history_id"  # an m2m history row: the history row it belongs to


@dataclass(frozen=True)
class _Reader:
    """A table's walk query, compiled once per table and connection: the walk runs it with one parameter."""

    sql: str
    compiler: object
    converters: dict
    object_index: int


@lru_cache(maxsize=256)
def _reader(model: type[models.Model], connection) -> _Reader:
    names = [f.attname for f in chain.document_fields(model)]
    queryset = (
        model._base_manager.using(connection.alias)
        .filter(chain_seq__gt=0)
        .order_by("chain_seq")
        .values_list("chain_seq", "pk", *names, "chain_hash")
    )
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    if list(params) != [0]:
        raise RuntimeError(f"unexpected parameters in the walk query of {model._meta.db_table}: {params}")
    converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
    return _Reader(sql, compiler, converters, 2 + names.index(_object_attname(model)))


def _rows(model: type[models.Model], since_seq: int, using: str) -> Iterator[tuple]:
    """The table's rows after `since_seq`, in link order, as Django would read them (its converters applied)."""
    connection = connections[using]
    reader = _reader(model, connection)
    with connection.chunked_cursor() as cursor:
        cursor.execute(reader.sql, [since_seq])
        while rows := cursor.fetchmany(CHUNK):
            if reader.converters:
                rows = reader.compiler.apply_converters(rows, reader.converters)
            for values in rows:
                yield values[0], model, values[1], values[reader.object_index], values[2:-1], values[-1]


@lru_cache(maxsize=8)
def _unchained_sql(connection) -> str:
    """One query: the smallest id of a row outside the chain, per history table (NULL where none)."""
    quote = connection.ops.quote_name
    parts = [
        # Table and column names from the models, quoted: no input reaches this SQL.
        f"(SELECT MIN({quote(m._meta.pk.column)}) FROM {quote(m._meta.db_table)} WHERE chain_seq IS NULL)"  # noqa: S608
        for m in chain.chained_models()
    ]
    return "SELECT " + ", ".join(parts)


def walk(*, using: str = "default", **kwargs) -> Result:
    """Verify every link after `since_seq` (whose hash and key are given), then the head and the checkpoints.

    The walk reads every table in one snapshot of the database, so writers that
    commit while it runs are not half seen (a link in one table, not yet its
    neighbour in another): on PostgreSQL a REPEATABLE READ, read-only transaction;
    on SQLite one transaction. Inside a transaction the caller opened, it reads
    in that one. Load checkpoint files before calling: every link they name is
    then in the snapshot.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return _walk(using=using, **kwargs)
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _walk(using=using, **kwargs)


def _walk(
    *,
    since_seq: int = 0,
    since_hash: str = auditkit.GENESIS,
    since_key: str = "",
    checkpoints: Iterable[dict] = (),
    check_head: bool = True,
    using: str = "default",
) -> Result:
    from core.models import ChainHead

    ring = chain.keyring()
    result = Result(first_seq=since_seq + 1, last_seq=since_seq, last_hash=since_hash, last_key=since_key)
    at_checkpoint = _checkpoints_by_seq(checkpoints, ring, since_seq, result)
    if not result.ok:
        return result

    models_ = chain.chained_models()
    with connections[using].cursor() as cursor:
        cursor.execute(_unchained_sql(connections[using]))
        for model, pk in zip(models_, cursor.fetchone(), strict=True):
            if pk is not None:
                return result.fail(Break("a history row outside the chain", model._meta.db_table, pk))

    prev_hash, prev_key, expected_seq = since_hash, since_key, since_seq + 1
    merged = heapq.merge(*(_rows(m, since_seq, using) for m in models_), key=itemgetter(0))
    for seq, model, pk, object_id, values, found in merged:
        if seq != expected_seq:
            where = _where(model, pk, object_id, seq)
            if seq < expected_seq:
                return result.fail(Break(f"link {seq} appears more than once", **where))
            missing = f"link {expected_seq}" if seq == expected_seq + 1 else f"links {expected_seq} to {seq - 1}"
            return result.fail(Break(f"{missing} missing before this row (deleted)", **where))
        row = chain.row_values(model, values, from_db=True)
        key_id = row["chain_key"]
        key = ring.key(key_id)
        if key is None:
            where = _where(model, pk, object_id, seq)
            return result.fail(Break(f"signed with an unknown key id {key_id!r}", **where))
        expected = auditkit.link_hash(key, prev_key, prev_hash, chain.document(model, row))
        if not auditkit.same(expected, found or ""):
            where = _where(model, pk, object_id, seq)
            return result.fail(Break("hash does not match the row", expected=expected, found=found or "", **where))
        if key_id != prev_key:
            result.segments.append((key_id, seq))
        checkpoint = at_checkpoint.pop(seq, None)
        if checkpoint is not None:
            if not auditkit.same(checkpoint["row_hash"], found):
                return result.fail(
                    Break(
                        f"checkpoint made {checkpoint['made_at']} recorded another hash for this link",
                        expected=checkpoint["row_hash"],
                        found=found,
                        **_where(model, pk, object_id, seq),
                    )
                )
            result.checkpoints_checked += 1
        prev_hash, prev_key, expected_seq = found, key_id, seq + 1
        result.rows_checked += 1
    result.last_seq, result.last_hash, result.last_key = expected_seq - 1, prev_hash, prev_key

    if at_checkpoint:
        seq = min(at_checkpoint)
        return result.fail(
            Break(
                f"the chain ends at link {result.last_seq}, but a checkpoint made "
                f"{at_checkpoint[seq]['made_at']} recorded link {seq} (rows deleted from the tail)"
            )
        )
    if check_head:
        head = ChainHead.objects.using(using).filter(pk=chain.HEAD_ID).first()
        head_seq, head_hash = (head.seq, head.row_hash) if head else (0, auditkit.GENESIS)
        if head_seq != result.last_seq:
            return result.fail(
                Break(f"the chain ends at link {result.last_seq}, but its head says {head_seq} (rows deleted)")
            )
        if not auditkit.same(head_hash, result.last_hash):
            return result.fail(
                Break(
                    f"the last link {result.last_seq} differs from the head",
                    expected=head_hash,
                    found=result.last_hash,
                )
            )
    return result


def _where(model: type[models.Model], pk, object_id, seq: int) -> dict:
    """Where a break is, for `Break` (built only when there is one: the walk's loop runs once per row)."""
    return {"table": model._meta.db_table, "row_id": pk, "object_id": str(object_id), "seq": seq}


checkpoint_document = auditkit.checkpoint_document


def _checkpoints_by_seq(checkpoints: Iterable[dict], ring: chain.Keyring, since_seq: int, result: Result) -> dict:
    found: dict[int, dict] = {}
    for checkpoint in checkpoints:
        key = ring.key(checkpoint.get("key_id", ""))
        if key is None or not auditkit.same(
            auditkit.sign(key, checkpoint_document(checkpoint)), checkpoint.get("signature", "")
        ):
            where = checkpoint.get("location") or "-"
            result.fail(Break(f"checkpoint at link {checkpoint.get('seq')} has a bad signature ({where})"))
            return {}
        if checkpoint["seq"] > since_seq:
            found[checkpoint["seq"]] = checkpoint
    return found
