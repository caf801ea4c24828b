"""Every read of the risk register: lists with the admin's filters, one record, the heat map."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.utils import timezone

from core.errors import NotFound
from core.history import history_entries
from registry.models import EvaluationResult
from risks.controls import latest_results
from risks.models import (
    Acceptance,
    AcceptanceStatus,
    Control,
    Incident,
    IncidentExample,
    IncidentStatus,
    MetricCheck,
    Risk,
    RiskStatus,
    TreatmentAction,
)
from risks.scoring import SCALE, matrix


@dataclass(frozen=True)
class RiskFilters:
    residual_band: str | None = None
    inherent_band: str | None = None
    category: str | None = None
    owner: str | None = None  # username
    status: str | None = None
    overdue: bool | None = None
    breached: bool | None = None
    over_appetite: bool | None = None
    model: str | None = None  # registered model name
    residual_likelihood: int | None = None
    residual_impact: int | None = None
    inherent_likelihood: int | None = None
    inherent_impact: int | None = None
    q: str | None = None


def overdue_q(now=None) -> Q:
    return Q(next_review_at__lt=now or timezone.now()) & ~Q(status=RiskStatus.CLOSED)


def over_appetite_q() -> Q:
    # Bands over appetite under every matrix version in use (one version today).
    over = Q()
    for version in Risk.objects.values_list("matrix_version", flat=True).distinct():
        over |= Q(matrix_version=version, residual_band__in=matrix(version).bands_over_appetite())
    return over & ~Q(status=RiskStatus.CLOSED) if over else Q(pk__in=[])


def risk_list(*, filters: RiskFilters | None = None) -> QuerySet[Risk]:
    filters = filters or RiskFilters()
    risks = Risk.objects.select_related("owner", "delegate").prefetch_related("registered_models")
    exact = {
        name: getattr(filters, name)
        for name in (
            "residual_band",
            "inherent_band",
            "category",
            "status",
            "residual_likelihood",
            "residual_impact",
            "inherent_likelihood",
            "inherent_impact",
        )
        if getattr(filters, name) not in (None, "")
    }
    risks = risks.filter(**exact)
    if filters.owner:
        risks = risks.filter(owner__username=filters.owner)
    if filters.model:
        risks = risks.filter(registered_models__name=filters.model)
    if filters.breached is not None:
        risks = risks.filter(breached=filters.breached)
    if filters.overdue is not None:
        risks = risks.filter(overdue_q()) if filters.overdue else risks.exclude(overdue_q())
    if filters.over_appetite is not None:
        risks = risks.filter(over_appetite_q()) if filters.over_appetite else risks.exclude(over_appetite_q())
    if filters.q:
        text = filters.q.strip()
        risks = risks.filter(Q(reference__iexact=text) | Q(title__icontains=text) | Q(statement__icontains=text))
    return risks.distinct() if filters.model else risks


def risk_get(*, reference: str) -> Risk:
    risk = (
        Risk.objects.select_related("owner", "delegate", "created_by")
        .prefetch_related(
            "registered_models",
            Prefetch("model_versions", to_attr="version_list", queryset=_versions()),
            Prefetch("actions", queryset=TreatmentAction.objects.select_related("owner")),
            Prefetch("acceptances", queryset=Acceptance.objects.select_related("accepted_by")),
            Prefetch("controls", queryset=control_queryset()),
            Prefetch("incidents", queryset=Incident.objects.select_related("version__model")),
        )
        .filter(reference=reference.upper())
        .first()
    )
    if risk is None:
        raise NotFound(f"No risk '{reference}'.")
    attach_latest_results(risk.controls.all())
    return risk


def _versions():
    from registry.models import ModelVersion

    return ModelVersion.objects.select_related("model")


def heatmap(*, risks: QuerySet[Risk] | None = None) -> dict[str, list[list[int]]]:
    """Counts per cell of the 5x5 matrix, inherent and residual: rows by likelihood 1-5, columns by impact 1-5.

    Closed risks are not on the map. Two grouped queries, whatever the size of the register.
    """
    risks = (risks if risks is not None else Risk.objects.all()).exclude(status=RiskStatus.CLOSED)
    maps = {}
    for kind in ("inherent", "residual"):
        grid = [[0 for _ in SCALE] for _ in SCALE]
        cells = risks.order_by().values(f"{kind}_likelihood", f"{kind}_impact").annotate(n=Count("pk", distinct=True))
        for cell in cells:
            grid[cell[f"{kind}_likelihood"] - 1][cell[f"{kind}_impact"] - 1] = cell["n"]
        maps[kind] = grid
    return maps


def risk_history(*, risk: Risk) -> list[dict]:
    return history_entries(risk.history.all(), kind="risk")


# --- Controls -------------------------------------------------------------------------


def control_queryset() -> QuerySet[Control]:
    return Control.objects.select_related("owner").prefetch_related(
        "documents__reviewer",
        Prefetch("metric_checks", queryset=MetricCheck.objects.prefetch_related("watched_models")),
        Prefetch("risks", queryset=Risk.objects.only("pk", "reference", "title")),
    )


def attach_latest_results(controls) -> None:
    """Give each metric check its latest result per watched model, as `latest` (one query for all)."""
    checks = [check for control in controls for check in control.metric_checks.all()]
    latest = latest_results(checks)
    for check in checks:
        check.latest = [latest[(check.pk, m.pk)] for m in check.watched_models.all() if (check.pk, m.pk) in latest]


def control_list(*, breached: bool | None = None, risk: str | None = None) -> QuerySet[Control]:
    controls = control_queryset()
    if breached is not None:
        controls = controls.filter(breached=breached)
    if risk:
        controls = controls.filter(risks__reference=risk.upper())
    return controls


def control_get(*, reference: str) -> Control:
    control = control_queryset().filter(reference=reference.upper()).first()
    if control is None:
        raise NotFound(f"No control '{reference}'.")
    attach_latest_results([control])
    return control


# --- Incidents ------------------------------------------------------------------------


def incident_queryset() -> QuerySet[Incident]:
    return Incident.objects.select_related(
        "version__model", "reporter", "closed_by", "guard_version__model"
    ).prefetch_related(
        Prefetch("examples", queryset=IncidentExample.objects.select_related("added_by")),
        Prefetch("risks", queryset=Risk.objects.only("pk", "reference")),
        Prefetch("evaluations", queryset=EvaluationResult.objects.only("pk")),
    )


def incident_list(
    *, status: str | None = None, serious: bool | None = None, model: str | None = None
) -> QuerySet[Incident]:
    incidents = incident_queryset()
    if status:
        incidents = incidents.filter(status=status)
    if serious is not None:
        incidents = incidents.filter(serious=serious)
    if model:
        incidents = incidents.filter(version__model__name=model)
    return incidents


def incident_get(*, reference: str) -> Incident:
    incident = incident_queryset().filter(reference=reference.upper()).first()
    if incident is None:
        raise NotFound(f"No incident '{reference}'.")
    return incident


def open_serious_incidents() -> QuerySet[Incident]:
    return Incident.objects.filter(serious=True).exclude(status=IncidentStatus.CLOSED)


# --- What needs doing (the admin's home page) -------------------------------------------

# An active acceptance expiring within this many days needs a decision: renew, treat or let it lapse.
ACCEPTANCE_EXPIRY_WINDOW_DAYS = 30


def acceptance_expiring_before(now=None) -> datetime:
    return (now or timezone.now()) + timedelta(days=ACCEPTANCE_EXPIRY_WINDOW_DAYS)


def acceptance_expiring_list(*, now=None) -> QuerySet[Acceptance]:
    """Active acceptances that expire within the window, soonest first."""
    return (
        Acceptance.objects.filter(status=AcceptanceStatus.ACTIVE, expires_at__lt=acceptance_expiring_before(now))
        .select_related("risk", "accepted_by")
        .order_by("expires_at", "id")
    )


def incident_open_list() -> QuerySet[Incident]:
    """Incidents not closed, serious ones first, then the soonest reporting deadline, then the oldest."""
    return (
        Incident.objects.exclude(status=IncidentStatus.CLOSED)
        .select_related("version__model")
        .order_by("-serious", F("reporting_deadline").asc(nulls_last=True), "aware_at", "id")
    )
