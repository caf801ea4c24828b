"""A history batch: the rows a block writes take their places in the audit chain together, at its end."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core import verifier
from core.audit import Source, audit_source, history_batch, mark_change
from core.models import ChainHead
from registry import services
from registry.models import EvaluationResult, ModelVersion
from risks import services as risk_services
from tests.conftest import evaluation_payload, version_payload
from tests.core.chain_helpers import history_rows, links
from tests.risks.conftest import risk_payload


def _head() -> tuple[int, str]:
    head = ChainHead.objects.get()
    return head.seq, head.row_hash


def _claims(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "UPDATE core_chainhead SET seq" in q["sql"]]


def test_a_registration_claims_the_head_once_for_all_its_history_rows(engineer, registered_model):
    before = history_rows()

    with audit_source(Source.API), CaptureQueriesContext(connection) as queries:
        version = services.version_register(
            model=registered_model,
            actor=engineer,
            evaluations=[evaluation_payload(), evaluation_payload(suite="safety")],
            **version_payload(),
        )

    assert len(_claims(queries)) == 1
    rows = [
        ModelVersion.history.get(id=version.pk),
        *EvaluationResult.history.filter(version_id=version.pk).order_by("chain_seq"),
    ]
    # Consecutive links, in the order the records were written: the version, then its evaluations.
    assert [r.chain_seq for r in rows] == list(range(before + 1, before + 4))
    assert [r.suite for r in rows[1:]] == [e.suite for e in sorted(version.evaluation_list, key=lambda e: e.pk)]
    assert all(r.history_user_id == engineer.pk and r.history_source == Source.API for r in rows)
    assert rows[0].history_change_reason == f"Version {version.version} registered"
    assert {r.history_change_reason for r in rows[1:]} == {
        "Evaluation 'golden-v1' recorded at registration",
        "Evaluation 'safety' recorded at registration",
    }
    assert _head() == (rows[-1].chain_seq, rows[-1].chain_hash)
    result = verifier.walk()
    assert result.ok, result.first_break.describe()
    assert links() == list(range(1, history_rows() + 1))


def test_an_error_in_the_batch_leaves_no_history_row_and_the_head_where_it_was(engineer, registered_model):
    before, head = history_rows(), _head()

    def register_then_fail():
        with history_batch():
            services.version_register(model=registered_model, actor=engineer, **version_payload())
            raise RuntimeError("after the writes, before the batch ends")

    with pytest.raises(RuntimeError):
        register_then_fail()

    assert history_rows() == before
    assert _head() == head
    assert not ModelVersion.objects.filter(model=registered_model).exists()
    assert verifier.walk().ok


def test_a_nested_batch_writes_its_rows_at_its_own_end(engineer, registered_model):
    before = history_rows()

    with CaptureQueriesContext(connection) as queries, history_batch():
        first = services.version_register(model=registered_model, actor=engineer, **version_payload())
        assert history_rows() == before + 1  # version_register's own batch has ended
        outer = registered_model.versions.get(pk=first.pk)
        outer.changelog = "Corrected in the outer batch"
        mark_change(outer, actor=engineer, reason="Typo")
        outer.save()
        assert history_rows() == before + 1  # queued until the outer block ends

    assert len(_claims(queries)) == 2
    assert list(ModelVersion.history.filter(id=first.pk).order_by("chain_seq").values_list("chain_seq", flat=True)) == [
        before + 1,
        before + 2,
    ]
    assert verifier.walk().ok


def test_a_change_rolled_back_to_a_savepoint_inside_a_batch_leaves_no_history_row(engineer, registered_version):
    before, head = history_rows(), _head()

    with history_batch():
        try:
            with transaction.atomic():
                registered_version.changelog = "Rolled back"
                mark_change(registered_version, actor=engineer, reason="Never happened")
                registered_version.save()
                raise DatabaseError("the rest of the savepoint failed")
        except DatabaseError:
            pass

    assert history_rows() == before
    assert _head() == head
    assert not ModelVersion.history.filter(history_change_reason="Never happened").exists()
    assert verifier.walk().ok


def test_records_with_m2m_history_are_written_at_once_inside_a_batch(compliance, engineer, registered_model):
    # Their m2m history rows point at the record's history row, which must exist first.
    with history_batch():
        risk = risk_services.risk_create(
            actor=compliance, owner=compliance, registered_models=[registered_model], **risk_payload()
        )
        version = services.version_register(model=registered_model, actor=engineer, **version_payload())

    assert risk.history.count() >= 1
    assert ModelVersion.history.get(id=version.pk).chain_seq == history_rows()
    result = verifier.walk()
    assert result.ok, result.first_break.describe()
    assert links() == list(range(1, history_rows() + 1))
