"""Controls and their evidence: documents reviewed by people, metric checks evaluated by a task.

A metric check is live evidence (a key risk indicator): the periodic task reads
the latest evaluation of each watched model's production version, records what
it found when that changes, and flags the control and its risks as breached when
a check fails, clearing the flag when every check passes again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from core.audit import audited_save, mark_change, service_user
from core.errors import ValidationFailed
from core.references import reference_next
from core.validation import full_clean
from registry.models import Deployment, Environment, EvaluationResult, RegisteredModel
from risks.models import Control, DocumentEvidence, MetricCheck, MetricCheckResult, Outcome, Risk
from risks.services import require_compliance

METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}\Z")


@transaction.atomic
def control_create(
    *, actor, name: str, description: str, risks: Iterable[Risk] = (), owner=None, reason: str = ""
) -> Control:
    require_compliance(actor, "define controls")
    control = Control(name=name, description=description, owner=owner, created_by=actor)
    full_clean(control, exclude=["reference", "owner", "created_by"])
    control.reference = reference_next("CTL")
    reason = reason.strip() or f"Control {control.reference} defined"
    audited_save(control, actor=actor, reason=reason)
    risks = list(risks)
    if risks:
        mark_change(control, actor=actor, reason=reason)
        control.risks.set(risks)
    return control


CONTROL_EDITABLE_FIELDS = frozenset({"name", "description", "owner", "risks"})


@transaction.atomic
def control_update(*, control: Control, actor, data: dict, reason: str = "") -> Control:
    require_compliance(actor, "change controls")
    unknown = set(data) - CONTROL_EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed("These fields cannot be changed.", fields={f: ["Cannot be changed."] for f in unknown})
    control = Control.objects.select_for_update().get(pk=control.pk)
    changed = {f: v for f, v in data.items() if f != "risks" and getattr(control, f) != v}
    reason = reason.strip() or "Changed " + ", ".join(sorted([*changed, *(["risks"] if "risks" in data else [])]))
    if changed:
        for f, v in changed.items():
            setattr(control, f, v)
        full_clean(control, exclude=["reference", "owner", "created_by"])
        audited_save(control, actor=actor, reason=reason)
    if "risks" in data:
        mark_change(control, actor=actor, reason=reason)
        control.risks.set(list(data["risks"]))
        _risks_breach_refresh(control.risks.all(), actor=actor, now=timezone.now())
    return control


@transaction.atomic
def document_evidence_add(
    *,
    control: Control,
    actor,
    title: str,
    period_start: date,
    period_end: date,
    reviewer,
    verdict: str,
    url: str = "",
    file: UploadedFile | None = None,
    sha256: str = "",
    notes: str = "",
    reviewed_at: datetime | None = None,
    reason: str = "",
) -> DocumentEvidence:
    """Record a reviewed document. An uploaded file's SHA-256 is computed here; a given one must match it."""
    require_compliance(actor, "record control evidence")
    errors: dict[str, list[str]] = {}
    if not url and file is None:
        errors["url"] = ["Give a link or upload the file."]
    if file is not None:
        digest = hashlib.sha256()
        for chunk in file.chunks():
            digest.update(chunk)
        if sha256 and sha256 != digest.hexdigest():
            errors["sha256"] = [f"Does not match the uploaded file (its SHA-256 is {digest.hexdigest()})."]
        sha256 = digest.hexdigest()
        file.seek(0)
    if period_start and period_end and period_end < period_start:
        errors["period_end"] = ["The period ends after it starts."]
    if errors:
        raise ValidationFailed("The evidence is invalid.", fields=errors)
    evidence = DocumentEvidence(
        control=control,
        title=title,
        url=url,
        file=file or "",
        sha256=sha256,
        period_start=period_start,
        period_end=period_end,
        reviewer=reviewer,
        verdict=verdict,
        notes=notes,
        reviewed_at=reviewed_at or timezone.now(),
        added_by=actor,
    )
    full_clean(evidence, exclude=["control", "reviewer", "added_by"], validate_constraints=False)
    audited_save(evidence, actor=actor, reason=reason.strip() or f"Evidence '{title}' recorded: {verdict}")
    return evidence


@transaction.atomic
def metric_check_create(
    *,
    control: Control,
    actor,
    metric: str,
    watched_models: Iterable[RegisteredModel],
    minimum: float | None = None,
    maximum: float | None = None,
    suite: str = "",
    reason: str = "",
) -> MetricCheck:
    require_compliance(actor, "define metric checks")
    errors: dict[str, list[str]] = {}
    if not METRIC_NAME.match(metric or ""):
        errors["metric"] = ["A metric name as evaluations report it, e.g. refusal_rate."]
    if minimum is None and maximum is None:
        errors["minimum"] = ["Give a minimum, a maximum or both."]
    elif minimum is not None and maximum is not None and minimum > maximum:
        errors["maximum"] = ["At least the minimum."]
    watched_models = list(watched_models)
    if not watched_models:
        errors["models"] = ["Name at least one model to watch."]
    if errors:
        raise ValidationFailed("The metric check is invalid.", fields=errors)
    check = MetricCheck(
        control=control, metric=metric, minimum=minimum, maximum=maximum, suite=suite or "", created_by=actor
    )
    reason = reason.strip() or f"Metric check {check.metric} {check.describe_bounds()} added to {control.reference}"
    audited_save(check, actor=actor, reason=reason)
    mark_change(check, actor=actor, reason=reason)
    check.watched_models.set(watched_models)
    return check


# --- Evaluating metric checks ---------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    outcome: str
    value: float | None
    detail: str
    version_id: int | None = None
    evaluation_id: int | None = None


def _judge(check: MetricCheck, model: RegisteredModel, production, evaluation: EvaluationResult | None) -> Finding:
    if production is None:
        return Finding(Outcome.NO_DATA, None, f"{model.name} has no version in production.")
    suite = f" of suite '{check.suite}'" if check.suite else ""
    if evaluation is None:
        return Finding(
            Outcome.NO_DATA,
            None,
            f"{model.name}:{production.version} (production) has no evaluation{suite} reporting {check.metric}.",
            version_id=production.pk,
        )
    value = evaluation.metrics[check.metric]
    where = f"{check.metric} = {value:g} on {model.name}:{production.version} (production, {evaluation.suite})"
    if check.minimum is not None and value < check.minimum:
        outcome, verdict = Outcome.FAIL, f"below the minimum {check.minimum:g}"
    elif check.maximum is not None and value > check.maximum:
        outcome, verdict = Outcome.FAIL, f"above the maximum {check.maximum:g}"
    else:
        outcome, verdict = Outcome.PASS, f"within {check.describe_bounds()}"
    return Finding(outcome, float(value), f"{where}: {verdict}.", version_id=production.pk, evaluation_id=evaluation.pk)


def latest_results(checks: Iterable[MetricCheck]) -> dict[tuple[int, int], MetricCheckResult]:
    """The latest result per (check id, model id), in one query."""
    checks = list(checks)
    latest: dict[tuple[int, int], MetricCheckResult] = {}
    results = (
        MetricCheckResult.objects.filter(metric_check__in=checks)
        .select_related("model", "version")
        .order_by("metric_check_id", "model_id", "-checked_at", "-id")
    )
    for result in results:
        latest.setdefault((result.metric_check_id, result.model_id), result)
    return latest


@dataclass
class CheckRun:
    checks: int = 0
    recorded: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {o: 0 for o in Outcome.values})
    breached: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def metric_checks_evaluate(*, now: datetime | None = None) -> CheckRun:
    """Evaluate every metric check; record changed findings; flag and clear breaches. Safe to run twice."""
    now = now or timezone.now()
    actor = service_user()
    run = CheckRun()
    checks = list(MetricCheck.objects.select_related("control").prefetch_related("watched_models"))
    model_ids = {m.pk for check in checks for m in check.watched_models.all()}
    production = {
        d.model_id: d.version
        for d in Deployment.objects.filter(
            model_id__in=model_ids, environment=Environment.PRODUCTION, ended_at=None
        ).select_related("version")
    }
    previous = latest_results(checks)
    findings_by_control: dict[int, list[tuple[MetricCheck, RegisteredModel, Finding]]] = {}
    for check in checks:
        run.checks += 1
        for model in check.watched_models.all():
            version = production.get(model.pk)
            evaluation = None
            if version is not None:
                evaluations = EvaluationResult.objects.filter(version=version, metrics__has_key=check.metric)
                if check.suite:
                    evaluations = evaluations.filter(suite=check.suite)
                evaluation = evaluations.order_by("-ran_at", "-id").first()
            finding = _judge(check, model, version, evaluation)
            run.outcomes[finding.outcome] += 1
            findings_by_control.setdefault(check.control_id, []).append((check, model, finding))
            if _record(check, model, finding, previous.get((check.pk, model.pk)), actor=actor, now=now):
                run.recorded += 1
    controls = {check.control_id: check.control for check in checks}
    for control_id, findings in findings_by_control.items():
        failures = [(check, finding) for check, _model, finding in findings if finding.outcome == Outcome.FAIL]
        change = _control_breach_set(controls[control_id], failures, actor=actor, now=now)
        if change == "breached":
            run.breached.append(controls[control_id].reference)
        elif change == "cleared":
            run.cleared.append(controls[control_id].reference)
    return run


def _record(check, model, finding: Finding, previous: MetricCheckResult | None, *, actor, now) -> bool:
    if previous is not None and (
        previous.outcome,
        previous.value,
        previous.version_id,
        previous.evaluation_id,
    ) == (finding.outcome, finding.value, finding.version_id, finding.evaluation_id):
        return False  # nothing new: a run that finds the same thing records nothing
    result = MetricCheckResult(
        metric_check=check,
        model=model,
        version_id=finding.version_id,
        evaluation_id=finding.evaluation_id,
        outcome=finding.outcome,
        value=finding.value,
        detail=finding.detail,
        checked_at=now,
    )
    audited_save(result, actor=actor, reason=f"Metric check {check.metric}: {finding.outcome}")
    return True


@transaction.atomic
def _control_breach_set(control: Control, failures: list, *, actor, now) -> str | None:
    control = Control.objects.select_for_update().get(pk=control.pk)
    if failures:
        detail = " ".join(finding.detail for _check, finding in failures)
        if control.breached and control.breach_detail == detail:
            return None
        newly = not control.breached
        control.breached = True
        control.breached_since = control.breached_since if control.breached_since and not newly else now
        control.breach_detail = detail
        audited_save(control, actor=actor, reason=f"Breached: {detail}")
        _risks_breach_refresh(control.risks.all(), actor=actor, now=now)
        return "breached" if newly else None
    if not control.breached:
        return None
    control.breached = False
    control.breached_since = None
    control.breach_detail = ""
    audited_save(control, actor=actor, reason="Breach cleared: every metric check passes or has no data")
    _risks_breach_refresh(control.risks.all(), actor=actor, now=now)
    return "cleared"


def _risks_breach_refresh(risks, *, actor, now) -> None:
    """A risk is breached while any of its controls is; its history says which and why."""
    for risk in Risk.objects.select_for_update().filter(pk__in=[r.pk for r in risks]):
        breached_controls = list(risk.controls.filter(breached=True).order_by("reference"))
        if bool(breached_controls) == risk.breached:
            continue
        risk.breached = bool(breached_controls)
        risk.breached_since = now if risk.breached else None
        if risk.breached:
            reason = "Control breached: " + "; ".join(
                f"{c.reference} {c.name}: {c.breach_detail}" for c in breached_controls
            )
        else:
            reason = "No control breached any more"
        audited_save(risk, actor=actor, reason=reason)
