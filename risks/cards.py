"""What the risk register adds to a version's model card: its risks and incidents, one line each."""

from __future__ import annotations

from django.db.models import Q

from registry.models import ModelVersion
from risks.models import Incident, Risk, RiskStatus


def card_risk_lines(version: ModelVersion) -> list[str]:
    risks = (
        Risk.objects.filter(Q(registered_models=version.model_id) | Q(model_versions=version))
        .exclude(status=RiskStatus.CLOSED)
        .select_related("owner")
        .distinct()
        .order_by("-residual_score", "reference")
    )
    lines = [
        f"{r.reference} {r.title}: residual {r.get_residual_band_display()} ({r.residual_score}), "
        f"{r.get_status_display().lower()}, owner {r.owner.get_username()}"
        + ("; a control is breached" if r.breached else "")
        + ("; review overdue" if r.overdue else "")
        for r in risks
    ]
    for incident in Incident.objects.filter(version=version).order_by("aware_at"):
        serious = f", serious ({incident.get_serious_kind_display()})" if incident.serious else ""
        lines.append(
            f"{incident.reference} {incident.title}: {incident.get_severity_display().lower()} severity{serious}, "
            f"{incident.get_status_display().lower()}"
        )
    return lines
