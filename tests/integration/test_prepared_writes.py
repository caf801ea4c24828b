"""A registration's INSERTs and the chain's claim are prepared statements (core.audit.create_tracked).

Their SQL is fixed per table and row count: PostgreSQL parses and plans each once per
connection. A refusal in the middle of the pipeline, before some of them were ever
prepared, must leave the connection's prepared statements in step with psycopg's.
"""

from __future__ import annotations

from django.db import connection

from core import verifier
from registry import services
from registry.models import ModelVersion
from tests.conftest import evaluation_payload, version_payload
from tests.core.chain_helpers import refused_duplicate

TABLES = (
    "registry_modelversion",
    "registry_evaluationresult",
    "registry_historicalmodelversion",
    "registry_historicalevaluationresult",
)


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


def _forget_prepared() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # psycopg forgets its own too: as on a new connection


def _register(engineer, model, label: str) -> ModelVersion:
    return services.version_register(
        model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload(version=label)
    )


def _inserts_prepared() -> set[str]:
    return {table for table in TABLES for sql in _prepared() if sql.startswith(f'INSERT INTO "{table}"')}


def test_a_registrations_inserts_and_the_claim_are_prepared(engineer, registered_model):
    _forget_prepared()
    _register(engineer, registered_model, "v1")
    _register(engineer, registered_model, "v2")

    assert _inserts_prepared() == set(TABLES)
    assert any(sql.startswith("UPDATE core_chainhead SET seq = seq + $1") for sql in _prepared())
    assert verifier.walk().ok


def test_nothing_is_prepared_when_told_not_to(engineer, registered_model):
    _forget_prepared()
    options = connection.settings_dict["OPTIONS"]
    options["prepared_statements"] = False
    try:
        _register(engineer, registered_model, "v1")
        assert _prepared() == []
    finally:
        options["prepared_statements"] = True


def test_a_refusal_before_the_statements_were_prepared_leaves_them_usable(engineer, registered_model):
    first = _register(engineer, registered_model, "v1")
    _forget_prepared()
    # The version's INSERT is prepared and fails; the pipeline skips the rest, their preparation included.
    refused_duplicate(first, engineer)

    # The next registrations prepare what the refusal did not, then run them prepared.
    second = _register(engineer, registered_model, "v2")
    third = _register(engineer, registered_model, "v3")
    assert [e.version_id for e in (*second.evaluation_list, *third.evaluation_list)] == [second.pk, third.pk]
    assert _inserts_prepared() == set(TABLES)
    result = verifier.walk()
    assert result.ok, result.first_break.describe()
