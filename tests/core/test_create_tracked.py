"""create_tracked: new records and their history rows written together (pipelined on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.sql import InsertQuery
from simple_history.signals import post_create_historical_record

from core import verifier
from core.audit import Source, _inserts, audit_source, create_tracked, mark_change
from core.errors import Conflict
from registry import services
from registry.models import EvaluationResult, ModelVersion, VersionStatus
from tests.conftest import evaluation_payload, version_payload
from tests.core.chain_helpers import refused_duplicate


def _register(engineer, model, evaluations: int) -> ModelVersion:
    with audit_source(Source.API):
        return services.version_register(
            model=model,
            actor=engineer,
            evaluations=[evaluation_payload(suite=f"suite-{n}") for n in range(evaluations)],
            **version_payload(),
        )


def _same_columns(instance, history_row) -> None:
    stored = type(instance).objects.get(pk=instance.pk)
    for field in type(instance)._meta.concrete_fields:
        assert getattr(history_row, field.attname) == getattr(stored, field.attname), field.name
        assert getattr(instance, field.attname) == getattr(stored, field.attname), field.name


@pytest.mark.parametrize("evaluations", [1, 2])  # one row per table, and several (Django's UNNEST insert)
def test_the_history_rows_record_exactly_what_was_inserted(engineer, registered_model, evaluations):
    version = _register(engineer, registered_model, evaluations)

    history = ModelVersion.history.get(id=version.pk)
    assert history.history_type == "+"
    assert (history.history_user_id, history.history_source) == (engineer.pk, Source.API)
    assert history.history_change_reason == f"Version {version.version} registered"
    _same_columns(version, history)
    assert len(version.evaluation_list) == evaluations
    for evaluation in version.evaluation_list:
        row = EvaluationResult.history.get(id=evaluation.pk)
        assert row.history_change_reason == f"Evaluation '{evaluation.suite}' recorded at registration"
        _same_columns(evaluation, row)
    result = verifier.walk()
    assert result.ok, result.first_break.describe()


def test_a_refused_insert_leaves_nothing_behind(engineer, registered_model):
    first = _register(engineer, registered_model, 1)
    refused_duplicate(first, engineer)  # no record, no history row, the head where it was
    assert verifier.walk().ok


@pytest.mark.django_db(transaction=True)
def test_in_its_own_transaction_it_commits_and_a_refusal_leaves_the_connection_usable(engineer, registered_model):
    first = _register(engineer, registered_model, 1)  # no test transaction around it: create_tracked commits
    assert not connection.in_atomic_block
    assert ModelVersion.objects.filter(pk=first.pk).exists()

    with pytest.raises(Conflict):
        services.version_register(model=registered_model, actor=engineer, **version_payload(version=first.version))

    second = _register(engineer, registered_model, 2)
    assert ModelVersion.objects.filter(pk=second.pk).exists()
    result = verifier.walk()
    assert result.ok, result.first_break.describe()


@pytest.mark.django_db(transaction=True)
def test_a_post_create_receiver_runs_in_the_transaction_and_its_failure_leaves_nothing(engineer, registered_model):
    history_model = ModelVersion.history.model
    seen = []

    def refuse(sender, history_instance, **kwargs):
        seen.append((sender, connection.in_atomic_block, history_instance.history_type))
        raise RuntimeError("a receiver refuses")

    post_create_historical_record.connect(refuse, sender=history_model)
    try:
        with pytest.raises(RuntimeError, match="a receiver refuses"):
            _register(engineer, registered_model, 1)  # its own transaction: no test transaction around it
    finally:
        post_create_historical_record.disconnect(refuse, sender=history_model)

    assert seen == [(history_model, True, "+")]
    assert not ModelVersion.objects.exists() and not history_model.objects.exists()
    assert not EvaluationResult.objects.exists() and not EvaluationResult.history.exists()
    result = verifier.walk()
    assert result.ok, result.first_break.describe()


def _plain(params) -> list:
    return [getattr(p, "obj", p) for p in params]  # psycopg's Jsonb wrapper holds the value


def test_a_one_row_insert_is_what_django_would_write(engineer, registered_model):
    version = _register(engineer, registered_model, 1)
    evaluation = version.evaluation_list[0]

    for instance in (version, evaluation):
        ((sql, params),) = _inserts([instance], "default")
        query = InsertQuery(type(instance))
        query.insert_values(type(instance)._meta.local_concrete_fields, [instance], raw=True)
        ((django_sql, django_params),) = query.get_compiler(using="default").as_sql()
        assert sql == django_sql
        assert _plain(params) == _plain(django_params)


def test_a_read_along_runs_in_the_transaction_before_the_inserts_and_its_answer_is_returned(engineer, registered_model):
    from psycopg import pq

    instance = ModelVersion(
        model=registered_model,
        version="along",
        base_model=registered_model.base_model,
        provider=registered_model.provider,
        training_file_sha256="a" * 64,
        changelog="read along",
        status=VersionStatus.DRAFT,
        created_by=engineer,
    )
    mark_change(instance, actor=engineer, reason="a read along")
    seen = {}

    def read():
        seen["in a transaction"] = connection.in_atomic_block
        seen["versions then"] = ModelVersion.objects.filter(version="along").count()
        if connection.vendor == "postgresql":  # sent with the ids, in the pipeline's first round trip
            seen["pipelined"] = connection.connection.pgconn.pipeline_status != pq.PipelineStatus.OFF
        return "the answer"

    assert create_tracked([instance], read_along=read) == "the answer"
    assert seen["in a transaction"] and seen["versions then"] == 0
    assert seen.get("pipelined", connection.vendor != "postgresql")
    assert ModelVersion.objects.filter(version="along").count() == 1
    assert create_tracked([]) is None
