"""Who, from where and why, for every history row.

django-simple-history records each tracked row's before/after. Services set the
acting user and the reason on the instance (`_history_user`, `_change_reason`);
this module adds where the change came from (admin, API, task, command) and, for
a task, the user it acts for. The source is kept in a context variable that the
request middleware, Celery tasks and management commands set.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

import psycopg
from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery
from django.dispatch import receiver
from django.utils import timezone
from simple_history.manager import HistoricalQuerySet
from simple_history.models import HistoricalRecords
from simple_history.signals import post_create_historical_record, pre_create_historical_record

from core import chain
from core.pgbackend import planned_once_cursor

T = TypeVar("T")


class Source(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    TASK = "task", "Task"
    COMMAND = "command", "Command line"
    SYSTEM = "system", "System"


@dataclass(frozen=True)
class AuditContext:
    source: str
    on_behalf_of_id: int | None = None
    reason: str = ""


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("fineprint_audit", default=None)


@contextmanager
def audit_source(source: str, *, on_behalf_of_id: int | None = None, reason: str = "") -> Iterator[AuditContext]:
    context = AuditContext(source=source, on_behalf_of_id=on_behalf_of_id, reason=reason)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current_context() -> AuditContext:
    return _current.get() or AuditContext(source=Source.SYSTEM)


def mark_change(instance: models.Model, *, actor, reason: str) -> None:
    """Attach the acting user and reason to the next save of a tracked instance."""
    instance._history_user = actor
    instance._change_reason = reason


def audited_save(instance: models.Model, *, actor, reason: str) -> None:
    """Save a tracked instance with the acting user and reason on its history row."""
    mark_change(instance, actor=actor, reason=reason)
    instance.save()


class ChainedQuerySet(models.QuerySet):
    """History rows are inserted linked into the audit chain, and never changed or deleted."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for row in objs:
            # simple-history's bulk helpers send no pre-create signal: fill the audit columns here.
            if isinstance(row, AuditedHistoryModel) and row.history_source == Source.SYSTEM:
                _fill_audit_columns(type(row), None, row)
        with chain.chained_insert(objs, self.db):
            return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        raise chain.HistoryIsAppendOnly("history rows are never changed")

    def bulk_update(self, *args, **kwargs):
        raise chain.HistoryIsAppendOnly("history rows are never changed")

    def delete(self):
        raise chain.HistoryIsAppendOnly("history rows are never deleted")

    def get_or_create(self, *args, **kwargs):
        raise chain.HistoryIsAppendOnly("history rows are written by simple-history only")

    update_or_create = get_or_create


class ChainedRow(models.Model):
    """A link of the audit chain (core.chain): every history table, m2m history tables included."""

    chain_seq = models.BigIntegerField(null=True, unique=True, editable=False)
    chain_key = models.CharField(max_length=16, blank=True, editable=False)
    # NULL, not "": an unchained row, which the database refuses to insert (core.chain triggers).
    chain_hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001

    objects = ChainedQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise chain.HistoryIsAppendOnly("history rows are never changed")
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with chain.chained_insert([self], using):
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise chain.HistoryIsAppendOnly("history rows are never deleted")


class AuditedHistoryModel(ChainedRow):
    """Extra columns on every history table: where the change came from and for whom, and its chain link."""

    history_source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)
    history_on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        abstract = True


class ChainedHistoricalQuerySet(ChainedQuerySet, HistoricalQuerySet):
    """`Model.history` reads as simple-history's, and refuses to change or delete like `objects`."""


@dataclass
class _Batch:
    using: str
    savepoints: int  # how many savepoints were open when it began
    rows: list  # (history row, the instance it records), in the order they were made


# The innermost `history_batch` block under way, if any.
_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("fineprint_history_batch", default=None)


def _savepoints(using: str) -> int:
    return sum(1 for sid in connections[using].savepoint_ids if sid)


@contextmanager
def history_batch(using: str = "default") -> Iterator[None]:
    """A transaction whose history rows are written at its end: one claim of the chain head for all.

    Its tracked saves queue their history rows (built and filled as
    simple-history builds them) instead of inserting each with a claim of its
    own; at the end of the block the rows are linked in the order they were made
    and inserted, in the same transaction, so the head's lock is taken for the
    shortest time. An error discards them with the rest of the transaction
    (a savepoint, under the caller's). A save made under a savepoint opened
    inside the block, which could be rolled back alone, writes its row at once
    as outside a batch; so does a nested block, at its own end. Inside the
    block, a queued history row is not in the database yet: read none back there.
    """
    with transaction.atomic(using=using):
        batch = _Batch(using=using, savepoints=_savepoints(using), rows=[])
        token = _batch.set(batch)
        try:
            yield
        finally:
            _batch.reset(token)
        chain.insert_linked([row for row, _ in batch.rows], using)
        _created_sent(batch)


def _created_sent(batch: _Batch) -> None:
    """simple-history's post-create signal for each of the batch's history rows, now in the database."""
    for row, instance in batch.rows:
        post_create_historical_record.send(
            sender=type(row),
            instance=instance,
            history_instance=row,
            history_date=row.history_date,
            history_user=row.history_user,
            history_change_reason=row.history_change_reason,
            using=batch.using,
        )


def create_tracked(
    objs: Sequence[models.Model], using: str = "default", *, read_along: Callable[[], T] | None = None
) -> T | None:
    """Insert new instances of history-tracked models, each with its history row, in one transaction.

    The same rows as saving each under `history_batch` (which it does on any
    database but PostgreSQL): the instances with the signals a save sends, and
    their history rows, built by simple-history's own receiver and linked into
    the audit chain. On PostgreSQL in three round trips rather than one per
    statement, using psycopg's pipeline mode: an id for each instance; the
    instances' INSERTs with the chain's claim of a place for each history row;
    the history rows' INSERTs, with the COMMIT when the transaction is this
    block's own. The chain head's lock (taken by the claim) is held for the last
    round trip only. simple-history's post-create signal is sent in the
    transaction, as after a save; when a receiver listens, the COMMIT is
    Django's, after it. A failed INSERT (a unique constraint) raises
    IntegrityError and leaves nothing: the transaction (a savepoint under the
    caller's) rolls back, claim included. Instances of models whose history is
    not one plain row per save (m2m history) are saved one by one instead.

    `read_along`, if given, is a read the caller needs anyway (a query, not a
    write): it runs inside the transaction, before the INSERTs, and on PostgreSQL
    goes out in the first round trip with the ids. Its result is returned.
    """
    connection = connections[using]
    if not _pipelined(connection, objs):
        with history_batch(using):
            found = read_along() if read_along is not None else None
            for obj in objs:
                obj.save(using=using)
        return found
    count = len(objs)
    with transaction.atomic(using=using):
        # A receiver of the post-create signal runs in the transaction, as after a save: then the COMMIT
        # is Django's, after it, rather than sent with the history rows.
        own_transaction = len(connection.atomic_blocks) == 1 and not _created_listened(objs)
        batch = _Batch(using=using, savepoints=_savepoints(using), rows=[])
        # connection.connection exists once cursor() has connected: the items are entered in turn.
        with connection.cursor() as cursor, connection.wrap_database_errors, connection.connection.pipeline():
            cursor.execute(
                "SELECT " + ", ".join(["nextval(pg_get_serial_sequence(%s, %s))"] * count),
                [name for obj in objs for name in (obj._meta.db_table, obj._meta.pk.column)],
            )
            read = read_along() if read_along is not None else None  # its fetch sends the ids' query with it
            _tracked_build(objs, cursor.fetchone(), batch, using)  # 1: psycopg's BEGIN, the ids (and the read)
            rows = [row for row, _ in batch.rows]
            # Their SQL is fixed per table and row count: planned once per connection, the values sent apart
            # from it and dumped by psycopg's compiled code rather than quoted into the text in Python.
            with planned_once_cursor(connection) as writer:
                for sql, params in _inserts(objs, using):
                    writer.execute(sql, params)
                writer.execute(chain.CLAIM_SQL, [count])
                found = writer.fetchone()  # 2: the instances, and the claim
                if found is None:  # a fresh database has no head yet
                    writer.execute(*chain.GENESIS_SQL)
                    writer.execute(chain.CLAIM_SQL, [count])
                    found = writer.fetchone()
                chain.link_from(rows, chain.claimed(count, found))
                for sql, params in _inserts(rows, using):
                    writer.execute(sql, params)
            if own_transaction:
                connection.connection.commit()  # 3: the history rows and the COMMIT (Django's then has none to do)
        # else 3 is the pipeline's end, and the COMMIT Django's or the caller's
        _created_sent(batch)
    return read


def _created_listened(objs: Sequence[models.Model]) -> bool:
    """Whether any receiver waits for the post-create signal of these instances' history rows."""
    return any(post_create_historical_record.has_listeners(_history_model(type(obj))) for obj in objs)


_HISTORY_MODELS: dict[type[models.Model], type[models.Model] | None] = {}


def _history_model(model: type[models.Model]) -> type[models.Model] | None:
    """The history model of a tracked model (None if untracked), without simple-history's per-access manager."""
    if model not in _HISTORY_MODELS:
        name = getattr(model._meta, "simple_history_manager_attribute", None)
        descriptor = inspect.getattr_static(model, name, None) if name else None
        _HISTORY_MODELS[model] = getattr(descriptor, "model", None)
    return _HISTORY_MODELS[model]


def _pipelined(connection, objs: Sequence[models.Model]) -> bool:
    """Whether `create_tracked` can write these in a pipeline: PostgreSQL, and one plain history row each."""
    if connection.vendor != "postgresql" or not objs or not psycopg.Pipeline.is_supported():
        return False
    for obj in objs:
        if obj.pk is not None or obj._meta.parents or obj._meta.pk is not obj._meta.auto_field:
            return False
        history_model = _history_model(type(obj))
        if history_model is None or history_model._history_m2m_fields:
            return False
        if getattr(history_model, "history_relation", None) is not None:
            return False
    return True


def _tracked_build(objs: Sequence[models.Model], ids: Sequence[int], batch: _Batch, using: str) -> None:
    """Make each instance what a save would leave, with its id; its history row joins `batch` as a save makes it."""
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
    token = _batch.set(batch)
    try:
        for obj in objs:
            model = type(obj)
            obj._prepare_related_fields_for_save(operation_name="save")
            pre_save.send(sender=model, instance=obj, raw=False, using=using, update_fields=None)
            for field in obj._meta.local_concrete_fields:
                field.pre_save(obj, add=True)  # auto_now and the like, as a save fills them
            obj._state.adding = False
            obj._state.db = using
            post_save.send(sender=model, instance=obj, created=True, update_fields=None, raw=False, using=using)
    finally:
        _batch.reset(token)
    if len(batch.rows) != len(objs):
        raise RuntimeError("create_tracked: expected one history row per instance")


def _inserts(objs: Sequence[models.Model], using: str) -> list[tuple[str, list]]:
    """One INSERT per table for `objs`, as a save or bulk_create writes them, without RETURNING.

    An instance's id is included when it has one; otherwise the database gives it (history rows).
    """
    connection = connections[using]
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for obj in objs:
        by_model.setdefault(type(obj), []).append(obj)
    statements = []
    for model, group in by_model.items():
        with_pk = group[0].pk is not None
        fields = _insert_fields(model, with_pk)
        values = [getattr(group[0], field.attname) for field in fields]
        if len(group) == 1 and not any(hasattr(value, "resolve_expression") for value in values):
            params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)]
            statements.append((_insert_sql(model, with_pk, using), params))
        else:  # Django's own compiler: several rows go as arrays (UNNEST), expressions are compiled
            query = InsertQuery(model)
            query.insert_values(fields, group, raw=True)
            statements += query.get_compiler(using=using).as_sql()
    return statements


@cache
def _insert_fields(model: type[models.Model], with_pk: bool) -> tuple[models.Field, ...]:
    meta = model._meta
    return tuple(f for f in meta.local_concrete_fields if with_pk or f is not meta.auto_field)


@cache
def _insert_sql(model: type[models.Model], with_pk: bool, using: str) -> str:
    """Django's INSERT of one row of `model`, compiled once: one placeholder per field, whatever the values."""
    query = InsertQuery(model)
    query.insert_values(_insert_fields(model, with_pk), [model()], raw=True)
    ((sql, _params),) = query.get_compiler(using=using).as_sql()
    return sql


class AuditedHistoricalRecords(HistoricalRecords):
    """simple-history with Fineprint's audit columns and the chain, on the record and its m2m history."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("bases", [AuditedHistoryModel])
        kwargs.setdefault("m2m_bases", [ChainedRow])
        kwargs.setdefault("historical_queryset", ChainedHistoricalQuerySet)
        super().__init__(*args, **kwargs)
        self._history_models: dict[type, tuple[type, tuple[str, ...], bool]] = {}

    def _history_model_of(self, model: type[models.Model]) -> tuple[type, tuple[str, ...], bool]:
        """The history model, the copied columns and whether it has m2m history, once per tracked model.

        simple-history's own path asks the `history` descriptor, which builds a
        manager class on every access.
        """
        found = self._history_models.get(model)
        if found is None:
            descriptor = inspect.getattr_static(model, self.manager_name)
            history_model = descriptor.model
            attnames = tuple(f.attname for f in self.fields_included(model))
            found = (history_model, attnames, bool(history_model._history_m2m_fields))
            self._history_models[model] = found
        return found

    def create_historical_record(self, instance, history_type, using=None):
        """simple-history's, without a manager per row; inside `history_batch`, queued for the batch."""
        history_model, attnames, has_m2m = self._history_model_of(type(instance))
        batch = _batch.get()
        if has_m2m or getattr(history_model, "history_relation", None) is not None:
            return super().create_historical_record(instance, history_type, using=using)
        using = using if self.use_base_model_db else None
        history_date = getattr(instance, "_history_date", timezone.now())
        history_user = self.get_history_user(instance)
        history_change_reason = self.get_change_reason_for_object(instance, history_type, using)
        history_instance = history_model(
            history_date=history_date,
            history_type=history_type,
            history_user=history_user,
            history_change_reason=history_change_reason,
            **{name: getattr(instance, name) for name in attnames},
        )
        pre_create_historical_record.send(
            sender=history_model,
            instance=instance,
            history_date=history_date,
            history_user=history_user,
            history_change_reason=history_change_reason,
            history_instance=history_instance,
            using=using,
        )
        if batch is not None and _queued(batch, history_model, instance, using):
            batch.rows.append((history_instance, instance))
            return
        history_instance.save(using=using)
        post_create_historical_record.send(
            sender=history_model,
            instance=instance,
            history_instance=history_instance,
            history_date=history_date,
            history_user=history_user,
            history_change_reason=history_change_reason,
            using=using,
        )


def _queued(batch: _Batch, history_model: type, instance: models.Model, using: str | None) -> bool:
    """Whether a history row joins `batch`: same database, and no savepoint opened since the batch began."""
    db = using or router.db_for_write(history_model, instance=instance)
    return db == batch.using and _savepoints(db) == batch.savepoints


@receiver(pre_create_historical_record)
def _fill_audit_columns(sender, instance, history_instance, **kwargs) -> None:
    context = current_context()
    if hasattr(history_instance, "history_source"):
        history_instance.history_source = context.source
        history_instance.history_on_behalf_of_id = context.on_behalf_of_id
    if not history_instance.history_change_reason and context.reason:
        history_instance.history_change_reason = context.reason


def service_user():
    """The account background tasks act as; it cannot log in."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=settings.FINEPRINT_SERVICE_USERNAME,
        defaults={"password": "!", "first_name": "Fineprint", "last_name": "service"},
    )
    return user
