"""Hot reads of a fixed shape, compiled to SQL once per process and run with new values.

Compiling a queryset (Django's SQLCompiler.as_sql) costs more than running it on the
database for the registry's hot reads. `rows` compiles the queryset `build(*values)`
of a given shape once, with two sets of stand-in values, and proves which parameter of
the SQL each value fills (the SQL must be the same with both, and every other
parameter too); later calls put the caller's values into those places, run the SQL on
a cursor and apply Django's converters, as the queryset would (core/verifier.py reads
the audit tables the same way).

The caller names the shape: everything that changes the SQL (which filters, how many
values in an IN list, the slice) must be in `key`, and no value may be None (None
changes the SQL: IS NULL). Values must be of the type the database gets (an int for
an id, not the string a cursor carries).

With `timestamps_as_text`, a read on PostgreSQL gets each `timestamptz` as the text
PostgreSQL writes (ISO, in the session's zone: "2026-12-01 09:48:49.863825+00") instead
of a datetime: for a caller that only writes them out again (registry.selectors._datetime),
400 times a page, parsing each only to format it costs more than the rest of its row.
"""

from __future__ import annotations

import copy
import datetime
import re
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import orjson
import psycopg
from django.db import connections
from django.db.models import JSONField, QuerySet
from django.db.models.query import ValuesIterable, ValuesListIterable

from core.pgbackend import planned_once_cursor

# JSON: a number compared as a JSON value (a JSON key's `exact` lookup), which each database gets as JSON.
INT, STR, FLOAT, DATETIME, JSON = "int", "str", "float", "datetime", "json"
_TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
_TEXT_LOADER = psycopg.adapters.get_loader(psycopg.postgres.types["text"].oid, psycopg.pq.Format.TEXT)


class Unpreparable(Exception):
    """The queryset's SQL is not a fixed shape with one parameter per value (a bug in the caller's key)."""


def _stand_in(kind: str, index: int, round_: int):
    n = 1_000_003 + index * 2 + round_  # distinct per value and per round
    if kind == INT:
        return -n
    if kind == STR:
        return f"\x01sqlcache-{round_}-{index}"
    if kind in (FLOAT, JSON):
        return n + 0.25
    if kind == DATETIME:
        return datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=n)
    raise ValueError(f"unknown kind {kind!r}")


def _adapt(kind: str, value, using: str):
    """A value as Django hands it to the driver: SQLite, for one, gets datetimes as text."""
    if kind == DATETIME:
        return connections[using].ops.adapt_datetimefield_value(value)
    if kind == JSON:
        # PostgreSQL's wrapper (Jsonb) holds the value itself; SQLite gets the JSON text.
        return _plain(connections[using].ops.adapt_json_value(value, None))
    return value


def _plain(param):
    """A parameter as its value: psycopg's JSON wrappers (Jsonb) hold it in `obj`."""
    return param.obj if hasattr(param, "obj") else param


_LONG_DIGITS = re.compile("[0-9]{19}")


def _json_quickly(convert):
    """JSONField's converter, answering the empty object and list at once and parsing the rest with orjson.

    A page of 100 versions parses about 500 JSON texts. orjson reads what the standard library's
    decoder reads, six times as fast, except two things that go to Django's converter, which decides
    as before: a text orjson refuses (NaN, a number beyond a double), and one holding a run of 19
    digits or more, because orjson reads an integer beyond 64 bits as a float.
    """
    field = getattr(convert, "__self__", None)
    if getattr(convert, "__func__", None) is not JSONField.from_db_value or field.decoder is not None:
        return convert

    def converted(value, expression, connection):
        if value == "{}":
            return {}
        if value == "[]":
            return []
        if isinstance(value, str) and not _LONG_DIGITS.search(value):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
        return convert(value, expression, connection)

    return converted


@dataclass(frozen=True)
class Prepared:
    sql: str
    params: tuple
    # (position in params, index of the value that fills it, whether it is wrapped like Jsonb, its kind)
    slots: tuple[tuple[int, int, bool, str], ...]
    compiler: object
    converters: dict
    names: tuple[str, ...] | None  # a values() query's keys; None for values_list() (tuples)

    def params_for(self, values: Sequence, using: str) -> list:
        params = list(self.params)
        for position, index, wrapped, kind in self.slots:
            value = _adapt(kind, values[index], using)
            if wrapped:
                param = copy.copy(params[position])
                param.obj = value
                params[position] = param
            else:
                params[position] = value
        return params


def prepare(build: Callable[..., QuerySet], kinds: Sequence[str], using: str = "default") -> Prepared:
    """Compile `build(*values)` for values of `kinds`, and find where each value goes in its parameters."""
    compiled = []
    for round_ in (0, 1):
        stand_ins = [_stand_in(kind, i, round_) for i, kind in enumerate(kinds)]
        queryset = build(*stand_ins)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        compiled.append((stand_ins, queryset, compiler, sql, tuple(params)))
    (first, queryset, compiler, sql, params), (second, _, _, sql_again, params_again) = compiled
    if sql != sql_again or len(params) != len(params_again):
        raise Unpreparable(f"the SQL changes with the values: {sql}")
    slots, filled = [], set()
    for position, (one, other) in enumerate(zip(params, params_again, strict=True)):
        plain_one, plain_other = _plain(one), _plain(other)
        if type(one) is not type(other):
            raise Unpreparable(f"parameter {position} changes type")
        if plain_one == plain_other:
            adapted = [_adapt(k, v, using) for given in (first, second) for k, v in zip(kinds, given, strict=True)]
            if plain_one in adapted:
                raise Unpreparable(f"parameter {position} is a value twice")
            continue  # a constant of the query
        found = [
            i
            for i, kind in enumerate(kinds)
            if _adapt(kind, first[i], using) == plain_one and _adapt(kind, second[i], using) == plain_other
        ]
        if len(found) != 1:
            raise Unpreparable(f"parameter {position} is no one value: {one!r}")
        slots.append((position, found[0], hasattr(one, "obj"), kinds[found[0]]))
        filled.add(found[0])
    if len(filled) != len(kinds):
        raise Unpreparable("some values fill no parameter")
    names = None
    if queryset._iterable_class is ValuesIterable:
        query = queryset.query
        names = (*query.extra_select, *query.values_select, *query.annotation_select)
    elif queryset._iterable_class is not ValuesListIterable:
        raise Unpreparable("only values() and values_list() querysets")
    columns = [column[0] for column in compiler.select[: compiler.col_count]]
    converters = {
        index: ([_json_quickly(convert) for convert in convert_list], expression)
        for index, (convert_list, expression) in compiler.get_converters(columns).items()
    }
    return Prepared(sql, params, tuple(slots), compiler, converters, names)


_prepared: dict[tuple, Prepared] = {}
_lock = threading.Lock()
MAX_SHAPES = 1024


def prepared(key: Hashable, build: Callable[..., QuerySet], kinds: Sequence[str], using: str = "default") -> Prepared:
    """The shape `key`, compiled once per process and connection (a thread's: converters are given it)."""
    full_key = (connections[using], key, tuple(kinds))
    found = _prepared.get(full_key)
    if found is None:
        found = prepare(build, kinds, using)
        with _lock:
            if len(_prepared) >= MAX_SHAPES:
                _prepared.clear()  # a caller whose key grows without bound: start again rather than grow
            _prepared[full_key] = found
    return found


def rows(
    key: Hashable,
    build: Callable[..., QuerySet],
    kinds: Sequence[str],
    values: Sequence,
    using: str = "default",
    *,
    timestamps_as_text: bool = False,
    server_prepared: bool = False,
) -> list:
    """What `list(build(*values))` returns (dicts for values(), tuples for values_list()), without compiling it.

    `timestamps_as_text`: on PostgreSQL, timestamps as PostgreSQL writes them (see the module's doc).
    `server_prepared`: on PostgreSQL, planned once per connection (core.pgbackend's prepared_cursor),
    for a statement whose best plan does not depend on its values.
    """
    if len(values) != len(kinds) or any(value is None for value in values):
        raise ValueError("one value per kind, none of them None")
    query = prepared(key, build, kinds, using)
    connection = connections[using]
    with planned_once_cursor(connection) if server_prepared else connection.cursor() as cursor:
        if timestamps_as_text and connection.vendor == "postgresql":
            cursor.cursor.adapters.register_loader(_TIMESTAMPTZ_OID, _TEXT_LOADER)
        cursor.execute(query.sql, query.params_for(values, using))
        fetched = cursor.fetchall()
    if query.converters:
        fetched = query.compiler.apply_converters(fetched, query.converters)
    if query.names is None:
        return [tuple(row) for row in fetched]
    names = query.names
    return [dict(zip(names, row, strict=True)) for row in fetched]


def clear() -> None:
    """Forget every compiled shape (tests that change the schema)."""
    with _lock:
        _prepared.clear()


def _fits(model, position: tuple) -> bool:
    field = model._meta.get_field(position[0].rsplit("__", 1)[0])
    low, high = connections["default"].ops.integer_field_range(field.get_internal_type())
    return (low is None or low <= position[2]) and (high is None or position[2] <= high)


@dataclass(frozen=True)
class Page:
    """The page a paginator asks for: its ordering, the filter on the ordering's column (or None), where it ends."""

    ordering: tuple[str, ...]
    position: tuple[str, object] | None  # (lookup, value), e.g. ("id__lt", 4711)
    stop: int


class Paged:
    """What a cursor paginator asks of a queryset (order_by, a filter on the ordering's column, a slice), via `rows`.

    `build(*values)` gives the unordered queryset; the paginator's ordering, position and
    slice are added to its shape. With `sees_page`, build is also given the `Page`
    (`build(*values, page=...)`), so that it can narrow a part of its query to what the page
    needs, such as a subquery's LIMIT; what it returns must then still be the same rows.
    `timestamps_as_text` and `server_prepared` are `rows`'s (a page past the ordering's range is read by
    the ORM, with datetimes).
    """

    def __init__(
        self,
        key: Hashable,
        build: Callable[..., QuerySet],
        kinds: Sequence[str],
        values: Sequence,
        model,
        *,
        sees_page: bool = False,
        timestamps_as_text: bool = False,
        server_prepared: bool = False,
    ):
        self.model = model
        self._key, self._build, self._kinds, self._values = key, build, tuple(kinds), tuple(values)
        self._sees_page = sees_page
        self._reads = {"timestamps_as_text": timestamps_as_text, "server_prepared": server_prepared}
        self._ordering: tuple[str, ...] = ()
        self._position: tuple[str, str, object] | None = None  # (lookup, kind, value)

    def _copy(self) -> Paged:
        return copy.copy(self)

    def order_by(self, *ordering: str) -> Paged:
        found = self._copy()
        found._ordering = ordering
        return found

    def filter(self, **kwargs) -> Paged:
        ((lookup, value),) = kwargs.items()
        value = self.model._meta.get_field(lookup.rsplit("__", 1)[0]).to_python(value)
        kinds = {int: INT, str: STR, datetime.datetime: DATETIME}
        if type(value) not in kinds or self._position is not None:
            raise ValueError(f"cannot page on {lookup}={value!r}")
        found = self._copy()
        found._position = (lookup, kinds[type(value)], value)
        return found

    def __getitem__(self, item: slice) -> list:
        if not isinstance(item, slice) or item.step is not None:
            raise TypeError("only a slice")
        build, ordering, position, count = self._build, self._ordering, self._position, len(self._kinds)

        def paged(*values):
            if self._sees_page:
                at = (position[0], values[count]) if position is not None else None
                queryset = build(*values[:count], page=Page(ordering, at, item.stop)).order_by(*ordering)
            else:
                queryset = build(*values[:count]).order_by(*ordering)
            if position is not None:
                queryset = queryset.filter(**{position[0]: values[count]})
            return queryset[item.start : item.stop]

        kinds, values = self._kinds, self._values
        if position is not None and position[1] == INT and not _fits(self.model, position):
            return list(paged(*values, position[2]))  # the ORM knows what a position out of range matches
        if position is not None:
            kinds, values = (*kinds, position[1]), (*values, position[2])
        key = (self._key, ordering, position[0] if position else None, item.start, item.stop)
        return rows(key, paged, kinds, values, **self._reads)
