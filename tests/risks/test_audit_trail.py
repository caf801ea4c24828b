"""Every write on the risk register leaves history rows with a user and a reason, whatever the path."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from registry import releases
from risks import controls, incidents, services
from risks.models import Acceptance
from tests.risks.conftest import in_days, risk_payload

pytestmark = pytest.mark.django_db


def _every_risk_history_row():
    for model in apps.get_app_config("risks").get_models():
        # The m2m history tables hang off a history row of their own: the row carries user and reason.
        if model.__name__.startswith("Historical") and hasattr(model, "history_type"):
            yield from model.objects.all()


def test_it_records_user_and_reason_on_every_history_row(compliance, engineer, production_model, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    version = releases.live_deployment(production_model, "production").version
    risk = services.risk_create(
        actor=compliance,
        owner=compliance,
        registered_models=[production_model],
        model_versions=[version],
        **risk_payload(),
    )
    services.risk_update(risk=risk, actor=compliance, data={"residual_impact": 2})
    services.risk_review(risk=risk, actor=compliance)
    action = services.action_create(
        risk=risk, actor=compliance, action="Guards", owner=compliance, due_on=timezone.localdate()
    )
    services.action_update(item=action, actor=compliance, data={"status": "done"})
    services.risk_accept(risk=risk, actor=compliance, rationale="Low", expires_at=in_days(10))
    Acceptance.objects.update(
        accepted_at=timezone.now() - timedelta(days=11), expires_at=timezone.now() - timedelta(days=1)
    )
    services.acceptances_expire()
    control = controls.control_create(actor=compliance, name="Refusal", description="d", risks=[risk])
    controls.control_update(control=control, actor=compliance, data={"name": "Refusal rate"})
    document = controls.document_evidence_add(
        control=control,
        actor=compliance,
        title="Q3 review",
        file=SimpleUploadedFile("q3.pdf", b"%PDF-1.4 review"),
        period_start=timezone.localdate() - timedelta(days=90),
        period_end=timezone.localdate(),
        reviewer=compliance,
        verdict="effective",
    )
    controls.metric_check_create(
        control=control, actor=compliance, metric="refusal_rate", maximum=0.01, watched_models=[production_model]
    )
    controls.metric_checks_evaluate()  # fails: 0.04 > 0.01, so the control and the risk are flagged
    incident = incidents.incident_report(
        actor=engineer,
        title="Bad answer",
        version=version,
        occurred_at=timezone.now() - timedelta(hours=3),
        aware_at=timezone.now() - timedelta(hours=1),
        description="d",
        severity="high",
        serious=True,
        serious_kind="other",
        risks=[risk],
        examples=[{"prompt": "p", "bad_answer": "b"}],
    )
    incidents.incident_example_add(incident=incident, actor=engineer, prompt="p2", bad_answer="b2")
    incidents.incident_evidence_attach(incident=incident, actor=engineer, evaluation=version.evaluations.first())
    incidents.incident_update(incident=incident, actor=compliance, data={"root_cause": "r", "fix": "f"})
    incidents.incident_close(incident=incident, actor=compliance, reason="Fixed")
    services.risk_close(risk=risk, actor=compliance, reason="Model retired")

    rows = list(_every_risk_history_row())
    kinds = {type(row).__name__ for row in rows}
    assert kinds >= {
        "HistoricalRisk",
        "HistoricalTreatmentAction",
        "HistoricalAcceptance",
        "HistoricalControl",
        "HistoricalDocumentEvidence",
        "HistoricalMetricCheck",
        "HistoricalMetricCheckResult",
        "HistoricalIncident",
        "HistoricalIncidentExample",
    }
    missing = [(type(r).__name__, r.history_type, r.history_user_id, r.history_change_reason) for r in rows]
    missing = [m for m in missing if not m[2] or not (m[3] or "").strip()]
    assert missing == []
    assert document.sha256 == hashlib.sha256(b"%PDF-1.4 review").hexdigest()
