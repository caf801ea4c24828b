"""Shared by the audit chain's tests: a database with history in many tables, and a checkpoint of it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import IntegrityError, connection
from django.utils import timezone

from core import auditkit, chain, verifier
from core.audit import create_tracked, mark_change
from core.models import ChainHead
from core.roles import Role
from datasets import services as dataset_services
from datasets.models import PriceRow
from registry import services
from registry.models import EvaluationResult, ModelVersion, VersionStatus
from risks import controls, incidents
from risks import services as risk_services
from tests.conftest import evaluation_payload, make_user, version_payload
from tests.records import one_of_each
from tests.risks.conftest import risk_payload


def populate(*, model, engineer, compliance, rounds: int = 12) -> None:
    """One record of each kind, then `rounds` of versions, evaluations, risks, incidents and m2m changes."""
    records = one_of_each(model=model, engineer=engineer, compliance=compliance)
    dataset_services.price_row_save(
        row=PriceRow(
            base_model="gpt-proof", usd_per_million_training_tokens=Decimal("3.1416"), effective_from=date(2026, 3, 1)
        ),
        actor=compliance,
        reason="Price published",
    )
    check = controls.metric_check_create(
        control=records.control,
        actor=compliance,
        metric="refusal_rate",
        minimum=0.02,
        maximum=0.08,
        watched_models=[model],
    )
    engineers = Group.objects.get(name=Role.ENGINEER)
    for n in range(rounds):
        version = services.version_register(
            model=model,
            actor=engineer,
            evaluations=[
                evaluation_payload(metrics={"win_rate": 0.5 + n / 100, "refusal_rate": n / 700}),
                evaluation_payload(suite=f"golden-v{n}", per_intent={"billing": n / 30, "returns": 0.25}),
            ],
            **version_payload(),
        )
        risk = risk_services.risk_create(
            actor=compliance,
            owner=compliance,
            registered_models=[model],
            model_versions=[version, records.pending],
            **risk_payload(title=f"Risk {n}"),
        )
        risk_services.risk_update(
            risk=risk, actor=compliance, data={"model_versions": [version], "residual_impact": 1 + n % 3}
        )
        incident = incidents.incident_report(
            actor=engineer,
            title=f"Incident {n}",
            version=version,
            occurred_at=timezone.now() - timedelta(hours=3),
            aware_at=timezone.now() - timedelta(hours=1),
            description="Wrong answer.",
            severity="low",
            risks=[risk, records.risk],
        )
        incidents.incident_evidence_attach(incident=incident, actor=engineer, evaluation=version.evaluation_list[0])
        user = make_user(f"proof-user-{n}", Role.ENGINEER if n % 2 else None)
        if n % 2:
            engineers.user_set.remove(user)  # from the group's side
        else:
            user.groups.add(engineers)  # from the user's side
        check.minimum = n / 1000
        check._history_user, check._change_reason = compliance, "Tuned"
        check.save()


def head() -> ChainHead:
    return ChainHead.objects.get(pk=chain.HEAD_ID)


def checkpoint_of_head(made_at: str = "2026-01-31T23:59:59.000000Z") -> dict:
    """A signed checkpoint of the chain's head as core.checkpoints writes it (the file's JSON object)."""
    current = head()
    ring = chain.keyring()
    made = {
        "kind": "fineprint-audit-checkpoint",
        "seq": current.seq,
        "row_hash": current.row_hash,
        "key_id": current.key_id,
        "rows": current.seq,
        "made_at": made_at,
    }
    made["signature"] = auditkit.sign(ring.key(current.key_id), verifier.checkpoint_document(made))
    return made


def history_rows() -> int:
    return sum(m._base_manager.count() for m in chain.chained_models())


def links() -> list[int]:
    """Every chain_seq in the database, sorted."""
    return sorted(seq for m in chain.chained_models() for seq in m._base_manager.values_list("chain_seq", flat=True))


def triggers_present() -> bool:
    """Whether the append-only triggers are installed (checked on the first chained table)."""
    table = chain.chained_models()[0]._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE 'fineprint_%%'", [table]
            )
        else:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        return cursor.fetchone()[0] > 0


def refused_duplicate(first, actor) -> None:
    """Write a version with `first`'s label and an evaluation of it through create_tracked, which must refuse it.

    The version's INSERT fails on its unique constraint; on PostgreSQL the pipeline skips what follows it.
    Nothing may be left behind: no record, no history row, the chain's head where it was.
    """
    before = (ModelVersion.objects.count(), EvaluationResult.objects.count(), history_rows(), ChainHead.objects.get())
    duplicate = ModelVersion(
        model=first.model,
        version=first.version,  # taken: the unique constraint refuses it
        base_model=first.base_model,
        provider=first.provider,
        training_file_sha256=first.training_file_sha256,
        changelog="again",
        status=VersionStatus.DRAFT,
        created_by=actor,
    )
    evaluation = EvaluationResult(version=duplicate, suite="golden-v1", golden_set_sha256="0" * 64, metrics={})
    for instance in (duplicate, evaluation):
        mark_change(instance, actor=actor, reason="a retry")
    try:
        create_tracked([duplicate, evaluation])
    except IntegrityError:
        pass
    else:
        raise AssertionError("create_tracked wrote a duplicate version")
    head = ChainHead.objects.get()
    assert (ModelVersion.objects.count(), EvaluationResult.objects.count(), history_rows()) == before[:3]
    assert (head.seq, head.row_hash) == (before[3].seq, before[3].row_hash)
