"""Twenty writers at once on PostgreSQL: the chain's links stay 1..N, none lost or doubled, and it verifies."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.db import connections

from core.audit import audited_save
from core.roles import Role
from registry import services
from risks import services as risk_services
from tests.conftest import evaluation_payload, make_user, model_payload, version_payload
from tests.core.chain_helpers import head, history_rows, links
from tests.risks.conftest import risk_payload

WRITERS = 20
WRITES = 10

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_writers_leave_one_gapless_chain_that_verifies():
    from core import verifier

    engineer = make_user("chain-engineer", Role.ENGINEER)
    compliance = make_user("chain-compliance", Role.COMPLIANCE)
    model = services.model_create(actor=engineer, **model_payload())
    risk = risk_services.risk_create(actor=compliance, owner=compliance, registered_models=[model], **risk_payload())
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(WRITES):
                if i % 3 == 2:
                    version = services.version_register(
                        model=model, actor=engineer, evaluations=[evaluation_payload()], **version_payload()
                    )
                    risk_services.action_create(
                        risk=risk,
                        actor=compliance,
                        action=f"Review {version.version}",
                        owner=compliance,
                        due_on=date.today() + timedelta(30),
                    )
                else:
                    version = services.version_register(model=model, actor=engineer, **version_payload())
                version.changelog = f"Writer {n}, write {i}"
                audited_save(version, actor=engineer, reason="Corrected")
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    count = history_rows()
    assert count >= WRITERS * WRITES * 2
    assert links() == list(range(1, count + 1))
    assert head().seq == count
    result = verifier.walk()
    assert result.ok, result.first_break.describe()
    assert result.rows_checked == count


def test_a_walk_reads_one_snapshot_while_writers_commit(monkeypatch):
    """A registration committed while the walk is between tables is not half seen (no false break)."""
    from core import verifier

    engineer = make_user("chain-walk-engineer", Role.ENGINEER)
    model = services.model_create(actor=engineer, **model_payload())
    services.version_register(model=model, actor=engineer, **version_payload(evaluations=[evaluation_payload()]))
    before = history_rows()
    read_tables: list[str] = []
    original = verifier._rows

    def rows_then_commit_elsewhere(table_model, since_seq, using):
        read_tables.append(table_model._meta.db_table)
        # The evaluations' table is read, the versions' not yet: a registration committed now has a
        # link in each. Read half (without one snapshot), its version's link would look deleted.
        if table_model._meta.db_table == "registry_historicalmodelversion":
            assert "registry_historicalevaluationresult" in read_tables

            def register() -> None:
                try:
                    services.version_register(
                        model=model, actor=engineer, **version_payload(evaluations=[evaluation_payload()])
                    )
                finally:
                    connections.close_all()

            other = threading.Thread(target=register)
            other.start()
            other.join()
        yield from original(table_model, since_seq, using)

    monkeypatch.setattr(verifier, "_rows", rows_then_commit_elsewhere)
    result = verifier.walk()

    assert result.ok, result.first_break.describe()
    assert result.rows_checked == before  # the snapshot: the new links came after it began
    assert history_rows() > before
    monkeypatch.undo()
    assert verifier.walk().ok
