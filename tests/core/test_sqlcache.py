"""core.sqlcache: a queryset's SQL compiled once per shape, run with new values, reads what the queryset reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import sqlcache
from registry import services
from registry.models import EvaluationResult, ModelVersion
from tests.conftest import evaluation_payload, model_payload, sha, version_payload


@pytest.fixture
def versions(engineer):
    model = services.model_create(actor=engineer, **model_payload(name="support"))
    return [
        services.version_register(
            model=model,
            actor=engineer,
            evaluations=[evaluation_payload(metrics={"win_rate": win, "refusal_rate": 0.01})],
            **version_payload(version=f"v{i}", training_file_sha256=sha(f"train-{i}")),
        )
        for i, win in enumerate((0.5, 0.6, 0.7))
    ]


def filtered(name: str, version: str, win: float, after):
    return (
        ModelVersion.objects.filter(
            model__name=name, version__gte=version, evaluations__metrics__win_rate__gte=win, created_at__gte=after
        )
        .order_by("-id")
        .values("id", "version", "hyperparameters", "created_at", model_name=F("model__name"))
    )


KINDS = (sqlcache.STR, sqlcache.STR, sqlcache.FLOAT, sqlcache.DATETIME)


def test_it_reads_what_the_queryset_reads_for_any_values(versions):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    for values in (
        ("support", "v0", 0.55, an_hour_ago),
        ("support", "v2", 0.5, an_hour_ago),
        ("nobody", "v0", 0, an_hour_ago),
    ):
        assert sqlcache.rows("filtered", filtered, KINDS, values) == list(filtered(*values))


def won(win):
    return EvaluationResult.objects.filter(metrics__win_rate=win).order_by("id").values_list("version_id")


def test_a_json_value_fills_a_json_keys_exact_lookup(versions):
    # The database gets the number as JSON (PostgreSQL as jsonb, SQLite as JSON text), as the queryset sends it.
    assert sqlcache.rows("won", won, [sqlcache.JSON], [0.6]) == list(won(0.6)) == [(versions[1].pk,)]
    for win in (0.7, 0.65, 1):
        assert sqlcache.rows("won", won, [sqlcache.JSON], [win]) == list(won(win))


def test_it_compiles_each_shape_once(versions, monkeypatch):
    values = ("support", "v0", 0.5, timezone.now() - timedelta(hours=1))
    sqlcache.rows("compiled-once", filtered, KINDS, values)
    monkeypatch.setattr(ModelVersion.objects, "filter", None)  # building the queryset again would fail

    with CaptureQueriesContext(connection) as queries:
        found = sqlcache.rows("compiled-once", filtered, KINDS, values)

    assert len(queries.captured_queries) == 1
    assert [row["version"] for row in found] == ["v2", "v1", "v0"]


def test_it_reads_tuples_from_values_list_and_in_lists_by_their_length(versions):
    def ids(*given):
        return EvaluationResult.objects.filter(version_id__in=given).order_by("id").values_list("version_id", "metrics")

    wanted = [versions[0].pk, versions[2].pk]
    assert sqlcache.rows(("ids", 2), ids, [sqlcache.INT] * 2, wanted) == list(ids(*wanted))


def test_it_refuses_a_shape_whose_sql_depends_on_the_values(db):
    def branching(name):
        queryset = ModelVersion.objects.values("id")
        return queryset.filter(version=name) if name.startswith("\x01sqlcache-0") else queryset.exclude(version=name)

    with pytest.raises(sqlcache.Unpreparable):
        sqlcache.rows("branching", branching, [sqlcache.STR], ["v1"])


def test_it_refuses_a_value_that_fills_no_parameter_and_none(db):
    with pytest.raises(sqlcache.Unpreparable):
        sqlcache.rows("unused", lambda name: ModelVersion.objects.values("id"), [sqlcache.STR], ["v1"])
    with pytest.raises(ValueError, match="none of them None"):
        sqlcache.rows(
            "none", lambda name: ModelVersion.objects.filter(version=name).values("id"), [sqlcache.STR], [None]
        )


def test_paged_answers_a_cursor_paginator_as_the_queryset_does(versions):
    def build(name):
        return ModelVersion.objects.filter(model__name=name).values("id", "version")

    paged = sqlcache.Paged("paged", build, [sqlcache.STR], ["support"], ModelVersion)
    queryset = build("support")
    position = str(versions[2].pk)  # a cursor carries its position as text

    assert paged.order_by("-id")[0:2] == list(queryset.order_by("-id")[0:2])
    assert paged.order_by("-id").filter(id__lt=position)[0:5] == list(
        queryset.order_by("-id").filter(id__lt=position)[0:5]
    )
    assert paged.order_by("id").filter(id__gt=position)[0:5] == []


def test_paged_tells_a_build_that_sees_the_page_what_page_it_is_for(versions):
    asked = []

    def build(name, page):
        asked.append(page)
        ids = ModelVersion.objects.filter(model__name=name).order_by("-id").values("id")
        if page.position is not None:
            ids = ids.filter(id__lt=page.position[1])
        return ModelVersion.objects.filter(id__in=ids[: page.stop]).values("id", "version")

    paged = sqlcache.Paged("paged-sees", build, [sqlcache.STR], ["support"], ModelVersion, sees_page=True)
    position = versions[2].pk
    expected = list(
        ModelVersion.objects.filter(model__name="support", id__lt=position).order_by("-id").values("id", "version")
    )[1:3]

    assert paged.order_by("-id").filter(id__lt=str(position))[1:3] == expected
    # Compiled with two stand-ins for the name and the position, then run with the caller's.
    assert {(page.ordering, page.position[0], page.stop) for page in asked} == {(("-id",), "id__lt", 3)}
    assert asked[-1].position[1] != position  # the SQL was compiled once; the position is its parameter
    asked.clear()
    assert paged.order_by("-id").filter(id__lt=str(position))[1:3] == expected
    assert asked == []  # the second call compiles nothing


def test_paged_leaves_a_position_out_of_the_columns_range_to_the_orm(versions):
    def build(name):
        return ModelVersion.objects.filter(model__name=name).values("id", "version")

    paged = sqlcache.Paged("paged-range", build, [sqlcache.STR], ["support"], ModelVersion)
    huge = str(2**70)

    assert paged.order_by("-id").filter(id__lt=huge)[0:5] == list(
        build("support").order_by("-id").filter(id__lt=huge)[0:5]
    )
    assert len(paged.order_by("-id").filter(id__lt=huge)[0:5]) == 3


JSON_TEXTS = [
    "{}",
    "[]",
    "null",
    "true",
    "0",
    "-0",
    "-0.0",
    "0.61",
    "1.0",
    "1e5",
    "1E-7",
    "812.5",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "[1e400]",
    "0.12345678901234567890123",
    '"012345678901234567890"',
    "NaN",
    "[Infinity, -Infinity]",
    '"\\ud800"',
    "not json",
    '{"a": 1, "a": 2}',
    '{"win_rate": 0.61, "per_intent": {"billing": 0.5, "refund": [1, 2.5, null]}, "note": "caf\\u00e9 \\ud83d\\ude00"}',
]


@pytest.mark.parametrize("text", JSON_TEXTS)
def test_json_reads_as_djangos_converter_reads_it(text):
    field = EvaluationResult._meta.get_field("metrics")
    theirs = field.from_db_value(text, None, connection)
    ours = sqlcache._json_quickly(field.from_db_value)(text, None, connection)
    assert repr(ours) == repr(theirs)  # the types too (1.0 is not 1) and NaN, which equals nothing


def test_json_reads_a_value_that_is_no_text_as_django_does():
    field = EvaluationResult._meta.get_field("metrics")
    assert sqlcache._json_quickly(field.from_db_value)(None, None, connection) is None


def test_timestamps_as_text_are_what_postgresql_writes_and_stay_with_their_read(versions):
    import datetime

    def build(pk):
        return ModelVersion.objects.filter(pk=pk).values("created_at", "retired_at")

    pk = versions[1].pk
    texts = sqlcache.rows("created_at as text", build, [sqlcache.INT], [pk], timestamps_as_text=True)[0]
    values = sqlcache.rows("created_at", build, [sqlcache.INT], [pk])[0]  # the same connection, after
    assert isinstance(values["created_at"], datetime.datetime) and values["retired_at"] is None
    assert texts["retired_at"] is None
    if connection.vendor == "postgresql":
        assert isinstance(texts["created_at"], str) and texts["created_at"].endswith("+00")
        assert datetime.datetime.fromisoformat(texts["created_at"]) == values["created_at"] == versions[1].created_at
    else:  # SQLite: nothing to skip, Django's converter makes the datetime
        assert texts == values
