"""The monthly report's data: plain Python over the records, tested on its own, rendered elsewhere.

Everything "as it stood at the end of the period" is read from history
(django-simple-history's `as_of`), so a report regenerated later for a past month
shows that month, not today. The result is JSON: numbers, strings and lists only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.utils import timezone

from core.audit_runs import latest_verified_checkpoint
from core.models import AuditVerification
from lifecycle.selectors import IMMINENT_DAYS, NEAR_DAYS
from registry import gates
from registry.migration import TrainedVersion, migration_plans_as_of, versions_trained_between
from registry.models import (
    Deployment,
    Environment,
    EvaluationResult,
    JobStatus,
    ModelVersion,
    Promotion,
    PromotionStatus,
    RegisteredModel,
)
from registry.runway import live_deployments_as_of
from reports.periods import Period, zone
from risks.lifecycle import runway_stage
from risks.models import Acceptance, Control, Incident, IncidentExample, IncidentStatus, Risk, TreatmentAction
from risks.models.incidents import AUDIT_TRAIL_SUBJECT
from risks.models.risk import ACTION_FINISHED
from risks.scoring import SCALE, Band, Impact, Likelihood, matrix

TREND_MONTHS = 6
TOP_RISKS = 10
EXPIRY_WINDOW_DAYS = 30
# A latency regression: p95 latency rises by this share against the previous evaluation. (A win-rate
# regression is judged on the intervals and the gate, never on a drop alone: see _win_rate_regressions.)
LATENCY_RISE = 0.10


def data_sha256(data: dict) -> str:
    """The SHA-256 of the data a report was built from (canonical JSON, without the generation time)."""
    facts = {k: v for k, v in data.items() if k != "generated_at"}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _iso(moment: datetime | None) -> str | None:
    return timezone.localtime(moment, zone()).isoformat(timespec="minutes") if moment else None


def _day(moment) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment, zone()).date()
    return moment.isoformat()


class _People:
    """Usernames by id, read once."""

    def __init__(self):
        self._names: dict[int, str] = {}

    def load(self, ids) -> None:
        missing = {i for i in ids if i is not None} - set(self._names)
        if missing:
            user_model = get_user_model()
            self._names.update(user_model.objects.filter(pk__in=missing).values_list("pk", user_model.USERNAME_FIELD))

    def __call__(self, user_id) -> str:
        return self._names.get(user_id, "-") if user_id else "(system)"


def report_data(period: Period, *, now: datetime | None = None) -> dict[str, Any]:
    start, end = period.start, period.end
    people = _People()
    risks = _risks_at(end)
    people.load(r.owner_id for r in risks)
    data = {
        "organisation": settings.FINEPRINT_ORGANISATION,
        "period": str(period),
        "period_label": period.label,
        "time_zone": settings.TIME_ZONE,
        "period_start": _iso(start),
        "period_end": _iso(end),
        "inventory": _inventory(start, end, people),
        "jobs": _jobs(start, end),
        "training_data": _training_data(start, end),
        "risks": _risk_register(period, risks, people),
        "evaluations": _evaluation_trends(end),
        "incidents": _incidents(start, end, people),
        "runway": _runway(period),
        "audit": _audit(start, end, people),
        "audit_chain": _audit_chain(start, end),
    }
    data["decisions"] = _decisions(start, end, risks, people, runway=data["runway"]["deployments"])
    data["changes"] = _changes(period, risks)
    data["status"] = _status(data)
    data["generated_at"] = _iso(now or timezone.now())
    return data


# --- Inventory --------------------------------------------------------------------------


def _version_label(version: ModelVersion) -> str:
    return f"{version.model.name}:{version.version}"


def _inventory(start, end, people) -> dict:
    in_period = Q(created_at__gte=start, created_at__lt=end)
    registered = list(
        ModelVersion.objects.filter(in_period)
        .select_related("model")
        .order_by("created_at")
        .only("version", "model__name", "created_by_id", "created_at", "changelog")
    )
    deployments = list(
        Deployment.objects.filter(started_at__gte=start, started_at__lt=end)
        .select_related("version__model")
        .order_by("started_at")
    )
    retired = list(
        ModelVersion.objects.filter(retired_at__gte=start, retired_at__lt=end)
        .select_related("model")
        .order_by("retired_at")
    )
    failed = list(
        ModelVersion.objects.filter(job_status=JobStatus.FAILED, job_finished_at__gte=start, job_finished_at__lt=end)
        .select_related("model")
        .order_by("job_finished_at")
    )
    people.load([v.created_by_id for v in registered] + [d.approved_by_id for d in deployments])

    def deployment_row(d: Deployment) -> dict:
        return {
            "version": _version_label(d.version),
            "environment": d.environment,
            "traffic_percent": d.traffic_percent,
            "at": _iso(d.started_at),
            "approved_by": people(d.approved_by_id),
            "reason": d.reason,
        }

    promoted = [deployment_row(d) for d in deployments if d.kind == Deployment.Kind.PROMOTION]
    rolled_back = [deployment_row(d) for d in deployments if d.kind == Deployment.Kind.ROLLBACK]
    return {
        "counts": {
            "registered": len(registered),
            "promoted": len(promoted),
            "rolled_back": len(rolled_back),
            "retired": len(retired),
            "failed": len(failed),
            "models": RegisteredModel.objects.filter(created_at__lt=end).count(),
            "versions": ModelVersion.objects.filter(created_at__lt=end).count(),
        },
        "registered": [
            {
                "version": _version_label(v),
                "at": _iso(v.created_at),
                "by": people(v.created_by_id),
                "changelog": v.changelog[:300],
            }
            for v in registered[:50]
        ],
        "promoted": promoted,
        "rolled_back": rolled_back,
        "retired": [{"version": _version_label(v), "at": _iso(v.retired_at)} for v in retired],
        "failed": [
            {"version": _version_label(v), "at": _iso(v.job_finished_at), "error": v.job_error_message[:200]}
            for v in failed
        ],
    }


def _jobs(start, end) -> dict:
    finished = (
        ModelVersion.objects.filter(job_finished_at__gte=start, job_finished_at__lt=end)
        .values("job_status")
        .annotate(n=Count("pk"))
    )
    by_status = {row["job_status"]: row["n"] for row in finished}
    return {"finished": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))}


def _training_data(start, end) -> dict:
    """New versions trained this month (their job started in it) whose data was not checked, or whose
    blocking findings Compliance overrode, when the job started (registry.migration.versions_trained_between)."""
    trained = versions_trained_between(start=start, end=end)

    def row(t: TrainedVersion, files: list) -> dict:
        return {
            "version": _version_label(t.version),
            "job_started": _iso(t.job_started_at),
            "files": [_data_file(f) for f in files],
        }

    return {
        "trained": len(trained),
        "unchecked": [row(t, t.unchecked) for t in trained if t.unchecked],
        "overridden": [row(t, t.overridden) for t in trained if t.overridden],
    }


def _data_file(f) -> dict:
    found = {"role": f.role, "sha256": f.sha256}
    if not f.checked:
        # Why there was no report: never uploaded, or its check had not finished (or had failed).
        found["state"] = (f.check.check_status or "not checked") if f.check else "not uploaded"
        return found
    override = f.check.override
    found.update(
        blocking=f.check.blocking,
        overridden_by=override.by,
        overridden_on=_day(override.at),
        justification=override.justification,
    )
    return found


# --- The risk register at the end of the period --------------------------------------


def _risks_at(moment: datetime) -> list:
    return list(Risk.history.as_of(moment))


def _open(risks) -> list:
    return [r for r in risks if r.status != "closed"]


def _band_counts(risks) -> dict[str, int]:
    counts = Counter(r.residual_band for r in _open(risks))
    return {band: counts.get(band, 0) for band in Band.values}


def _risk_row(risk, people, *, at: datetime) -> dict:
    return {
        "reference": risk.reference,
        "title": risk.title,
        "category": risk.get_category_display(),
        "owner": people(risk.owner_id),
        "inherent": f"{Band(risk.inherent_band).label} {risk.inherent_score}",
        "residual": f"{Band(risk.residual_band).label} {risk.residual_score}",
        "residual_band": risk.residual_band,
        "residual_score": risk.residual_score,
        "status": risk.get_status_display(),
        "next_review": _day(risk.next_review_at),
        "overdue": risk.status != "closed" and risk.next_review_at < at,
        "breached": risk.breached,
    }


def _risk_register(period: Period, risks, people) -> dict:
    end = period.end
    open_risks = _open(risks)
    heatmap = {kind: [[0 for _ in SCALE] for _ in SCALE] for kind in ("inherent", "residual")}
    for r in open_risks:
        heatmap["inherent"][r.inherent_likelihood - 1][r.inherent_impact - 1] += 1
        heatmap["residual"][r.residual_likelihood - 1][r.residual_impact - 1] += 1
    # The register's first record: before it there is nothing to compare with ("first month", not "+5").
    first = Risk.history.order_by("history_date").values_list("history_date", flat=True).first()
    earlier = first is not None and first < period.start
    previous = _band_counts(_risks_at(period.start)) if earlier else None
    trend = []
    for back in range(TREND_MONTHS - 1, -1, -1):
        month = period.shift(-back)
        if back and (first is None or first >= month.end):
            continue  # the trend starts where the register's data starts
        counts = _band_counts(risks) if back == 0 else _band_counts(_risks_at(month.end))
        trend.append({"period": str(month), **counts})
    top = sorted(open_risks, key=lambda r: (-r.residual_score, -r.inherent_score, r.reference))[:TOP_RISKS]
    actions = [
        a
        for a in TreatmentAction.history.as_of(end)
        if a.status not in ACTION_FINISHED and a.due_on < timezone.localtime(end, zone()).date()
    ]
    references = {r.id: r.reference for r in risks}
    people.load(a.owner_id for a in actions)
    controls = [c for c in Control.history.as_of(end) if c.breached]
    scoring = matrix()
    return {
        "matrix_version": scoring.version,
        # The band of every cell, rows likelihood 1-5, columns impact 1-5: the heat maps' colours.
        "matrix_bands": [[scoring.band(likelihood, impact) for impact in SCALE] for likelihood in SCALE],
        "appetite": Band(scoring.appetite).label,
        # The heat maps' axes, rows and columns 1-5.
        "likelihood_names": [Likelihood(n).label.split(" - ", 1)[1] for n in SCALE],
        "impact_names": [Impact(n).label.split(" - ", 1)[1] for n in SCALE],
        "open": len(open_risks),
        "by_band": _band_counts(risks),
        # None when the register had no record before the month: its first month.
        "by_band_previous": previous,
        "heatmap": heatmap,
        "trend": trend,
        "top": [_risk_row(r, people, at=end) for r in top],
        "overdue_actions": [
            {
                "risk": references.get(a.risk_id, "-"),
                "action": a.action,
                "owner": people(a.owner_id),
                "due": a.due_on.isoformat(),
                "status": a.get_status_display(),
            }
            for a in sorted(actions, key=lambda a: (a.due_on, a.id))
        ],
        "breached_controls": [
            {"reference": c.reference, "name": c.name, "since": _iso(c.breached_since), "detail": c.breach_detail}
            for c in sorted(controls, key=lambda c: c.reference)
        ],
    }


# --- Evaluation trends of production models -------------------------------------------


def _evaluation_trends(end: datetime) -> list[dict]:
    """Each production model's win rates over the last months, against one baseline only.

    A win rate says how often a version beat a baseline: two win rates against different
    baselines do not compare. The trend keeps the baseline of the model's latest evaluation (what
    the model is measured against now) and says how many evaluations against other baselines it
    leaves out. Each point carries its Wilson 95% interval from the run's verdicts (None when the
    win rate was typed in by hand).
    """
    live = (
        Deployment.objects.filter(environment=Environment.PRODUCTION, started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=end))
        .select_related("model", "version")
        .order_by("model__name")
    )
    production = {d.model_id: d for d in live}
    since = end - timedelta(days=31 * TREND_MONTHS)
    evaluations = (
        EvaluationResult.objects.filter(
            version__model_id__in=production,
            ran_at__gte=since,
            ran_at__lt=end,
            # Recorded by then too: an evaluation backdated later does not rewrite a past month.
            created_at__lt=end,
            metrics__has_key="win_rate",
        )
        .select_related("version")
        .order_by("ran_at", "id")
    )
    # (baseline, point): the same baseline is the same version of the model when it names one, else the same name.
    points: dict[int, list[tuple[str, dict]]] = {model_id: [] for model_id in production}
    for e in evaluations:
        overall = (e.evidence or {}).get("overall") or {}
        baseline = f"version:{e.baseline_version_id}" if e.baseline_version_id else f"name:{e.baseline}"
        points[e.version.model_id].append(
            (
                baseline,
                {
                    "at": _iso(e.ran_at),
                    "version": e.version.version,
                    "suite": e.suite,
                    "baseline": e.baseline,
                    "win_rate": e.metrics.get("win_rate"),
                    "lower": overall.get("lower"),
                    "upper": overall.get("upper"),
                    "n": overall.get("n"),
                    "supported": e.evidence is not None,
                    "refusal_rate": e.metrics.get("refusal_rate"),
                    "p95_latency_ms": e.metrics.get("p95_latency_ms"),
                },
            )
        )
    thresholds = _win_rate_thresholds(production, end)
    trends = []
    for model_id, deployment in production.items():
        every = [p for _, p in points[model_id]]
        latest = points[model_id][-1][0] if every else None
        series = [p for baseline, p in points[model_id] if baseline == latest]
        others = Counter(p["baseline"] for baseline, p in points[model_id] if baseline != latest)
        threshold = thresholds[model_id]
        trends.append(
            {
                "model": deployment.model.name,
                "production_version": deployment.version.version,
                "since": _iso(deployment.started_at),
                "baseline": series[-1]["baseline"] if series else None,
                "points": series,
                "typed": sum(1 for p in series if p["lower"] is None),
                "left_out": [{"baseline": name, "evaluations": n} for name, n in others.items()],
                "left_out_note": _left_out_note(others),
                "threshold": threshold,
                # Latency does not depend on the baseline: every evaluation counts for it.
                "regressions": [
                    text
                    for _, text in sorted(
                        _win_rate_regressions(series, threshold) + _latency_regressions(every), key=lambda r: r[0]
                    )
                ],
            }
        )
    return trends


def _left_out_note(others: Counter) -> str:
    count = sum(others.values())
    if not count:
        return ""
    names = ", ".join(others)
    why = "a win rate compares only with the same baseline"
    if count == 1:
        return f"1 evaluation against another baseline ({names}) is not plotted: {why}"
    kind = "another baseline" if len(others) == 1 else "other baselines"
    return f"{count} evaluations against {kind} ({names}) are not plotted: {why}"


def _win_rate_thresholds(production: dict, end: datetime) -> dict[int, dict | None]:
    """The overall win-rate rule of each model's gate policy in force at the end of the period (its `min`).

    A policy is a new row per change, so the one in force then is the highest version created by then;
    a model without one was judged by the default rules (settings, read as they are now).
    """
    policies = gates.policies_as_of(production, at=end, inclusive=False)
    found: dict[int, dict | None] = {}
    for model_id in production:
        policy = policies[model_id]
        rules = policy.rules
        rule = next(
            (r for r in rules if r.get("metric") == "win_rate" and not r.get("per_intent") and "min" in r), None
        )
        found[model_id] = (
            None
            if rule is None
            else {
                "min": rule["min"],
                "rule": gates.describe(rule),
                "policy": f"policy v{policy.version}" if policy.version is not None else "the default policy",
            }
        )
    return found


def _rate_words(point: dict) -> str:
    return f"{point['win_rate']:.3f} [{point['lower']:.3f}, {point['upper']:.3f}]"


def _win_rate_regressions(series: list[dict], threshold: dict | None) -> list[tuple[str, str]]:
    """Regressions of the win rate between consecutive evaluations against the same baseline.

    Only points with an interval (from a run's verdicts) take part: a win rate typed in by hand
    is skipped, so it is never called a regression, nor hides one between two runs. Never a mere
    decrease: a drop within the intervals is one the verdicts cannot tell from chance. Declared
    when the intervals no longer overlap (the later one entirely below), or when the lower bound
    falls below the gate's minimum (the run before it was at or above it).
    """
    found = []
    supported = [p for p in series if p["lower"] is not None and p["win_rate"] is not None]
    for before, after in itertools.pairwise(supported):
        reasons = []
        if after["upper"] < before["lower"]:
            reasons.append("the intervals no longer overlap")
        if threshold is not None and after["lower"] < threshold["min"] <= before["lower"]:
            reasons.append(
                f"lower bound {after['lower']:.3f} below the gate's {threshold['rule']} ({threshold['policy']})"
            )
        if reasons:
            found.append(
                (
                    after["at"],
                    f"win rate {_rate_words(before)} -> {_rate_words(after)} against {after['baseline']} "
                    f"({before['version']} to {after['version']}, {after['at'][:10]}): {'; '.join(reasons)}",
                )
            )
    return found


def _latency_regressions(series: list[dict]) -> list[tuple[str, str]]:
    found = []
    for before, after in itertools.pairwise(series):
        lat_before, lat_after = before.get("p95_latency_ms"), after.get("p95_latency_ms")
        if lat_before and lat_after and lat_after > lat_before * (1 + LATENCY_RISE):
            found.append(
                (
                    after["at"],
                    f"p95 latency {lat_before:g} -> {lat_after:g} ms ({before['version']} to {after['version']}, "
                    f"{after['at'][:10]})",
                )
            )
    return found


# --- Incidents, runway, audit trail ------------------------------------------------


def _incidents(start, end, people) -> dict:
    as_of = [i for i in Incident.history.as_of(end)]
    opened = [i for i in as_of if start <= i.aware_at < end]
    closed = [i for i in as_of if i.closed_at and start <= i.closed_at < end]
    still_open_serious = [i for i in as_of if i.serious and i.status != IncidentStatus.CLOSED]
    wanted = {i.id for i in opened + closed + still_open_serious}
    examples: dict[int, list[dict]] = {}
    for example in IncidentExample.objects.filter(incident_id__in=wanted, created_at__lt=end).order_by("id"):
        examples.setdefault(example.incident_id, []).append(
            {"prompt": example.prompt, "bad_answer": example.bad_answer, "expected_answer": example.expected_answer}
        )
    versions = {
        v.pk: _version_label(v)
        for v in ModelVersion.objects.filter(pk__in={i.version_id for i in as_of if i.id in wanted}).select_related(
            "model"
        )
    }
    people.load(i.reporter_id for i in as_of)

    def row(i) -> dict:
        clock = None
        if i.serious:
            reported = i.reported_to_authority_at
            if reported:
                clock = f"reported {_day(reported)} (deadline {_day(i.reporting_deadline)})"
            elif i.reporting_deadline < end:
                clock = f"deadline {_day(i.reporting_deadline)} passed without a report"
            else:
                clock = f"report due by {_day(i.reporting_deadline)}"
        return {
            "reference": i.reference,
            "title": i.title,
            "version": versions.get(i.version_id, "-") if i.version_id else AUDIT_TRAIL_SUBJECT,
            "severity": i.get_severity_display(),
            "serious": i.get_serious_kind_display() if i.serious else "",
            "clock": clock,
            "status": i.get_status_display(),
            "aware": _day(i.aware_at),
            "closed": _day(i.closed_at),
            "reporter": people(i.reporter_id),
            "impact": i.impact,
            "root_cause": i.root_cause,
            "fix": i.fix,
            "guard_examples": i.guard_examples,
            "examples": examples.get(i.id, [])[:3],
        }

    return {
        "opened": [row(i) for i in sorted(opened, key=lambda i: i.aware_at)],
        "closed": [row(i) for i in sorted(closed, key=lambda i: i.closed_at)],
        "serious_open": [row(i) for i in sorted(still_open_serious, key=lambda i: i.aware_at)],
    }


def _urgency(days_left: int | None) -> str:
    """How urgent a runway is at month end: the runway risk's stage (risks.lifecycle owns the thresholds)."""
    return runway_stage(days_left, warn_days=settings.LIFECYCLE_WARN_DAYS) or "none"


def _runway(period: Period) -> dict:
    """Every deployment live at the end of the month, its runway then, and its best migration candidate then."""
    at = period.last_instant
    plans = {plan.live.deployment.pk: plan for plan in migration_plans_as_of(at=at)}
    rows = []
    for live in live_deployments_as_of(at=at):
        deployment, runway = live.deployment, live.runway
        plan = plans.get(deployment.pk)
        best = plan.best if plan is not None else None
        if plan is None:
            gate = None  # not retiring: no migration needed
        elif best is None:
            gate = "none"
        else:
            gate = "passed" if best.gate.passed else "failed"
        rows.append(
            {
                "model": deployment.model.name,
                "environment": deployment.environment,
                "version": deployment.version.version,
                "model_id": runway.model_id,
                "base_model": runway.base_model,
                "state": runway.state,
                "shutdown_date": _day(runway.shutdown_date),
                "days_left": runway.days_left,
                "urgency": _urgency(runway.days_left),
                "replacement": runway.replacement,
                "source": runway.source,
                "candidate": (
                    {
                        "version": best.version.version,
                        "base_model": best.version.base_model,
                        "passed": best.gate.passed,
                        "failing": [r.rule for r in best.gate.rules if r.outcome != "pass"],
                    }
                    if best is not None
                    else None
                ),
                "candidates": len(plan.candidates) if plan is not None else 0,
                "gate": gate,
            }
        )
    return {
        "counted_from": period.last_day.isoformat(),
        "thresholds": {
            "warning": settings.LIFECYCLE_WARN_DAYS,
            "near": NEAR_DAYS,
            "imminent": IMMINENT_DAYS,
        },
        "deployments": rows,
    }


def _runway_statement(row: dict) -> str:
    """One line for the decisions page: what runs out, when, and why nothing is ready."""
    days = row["days_left"]
    if days > 0:
        when = f"shuts down {row['shutdown_date']}, {days} day{'s' if days != 1 else ''} after month end"
    elif days == 0:
        when = f"shut down {row['shutdown_date']}, the month's last day"
    else:
        when = f"shut down {row['shutdown_date']}, {-days} day{'s' if days != -1 else ''} before month end"
    if row["candidate"] is None:
        why = "no candidate passes the gate (none on an active base model)"
    else:
        why = f"no candidate passes the gate ({row['candidate']['version']} fails it)"
    return f"{row['model']} {row['version']} in {row['environment']}: base {row['base_model']} {when}; {why}"


def _history_models() -> list:
    return [
        m
        for m in apps.get_models()
        if m.__name__.startswith("Historical") and any(f.name == "history_type" for f in m._meta.fields)
    ]


def _audit(start, end, people) -> dict:
    by_user: Counter = Counter()
    by_source: Counter = Counter()
    by_record: Counter = Counter()
    total = 0
    for model in _history_models():
        rows = model.objects.filter(history_date__gte=start, history_date__lt=end)
        for row in rows.values("history_user_id", "history_source").annotate(n=Count("pk")):
            by_user[row["history_user_id"]] += row["n"]
            by_source[row["history_source"]] += row["n"]
            by_record[model._meta.verbose_name.removeprefix("historical ")] += row["n"]
            total += row["n"]
    people.load(by_user)
    without_reason = sum(
        model.objects.filter(history_date__gte=start, history_date__lt=end)
        .filter(Q(history_change_reason__isnull=True) | Q(history_change_reason=""))
        .count()
        for model in _history_models()
        if any(f.name == "history_change_reason" for f in model._meta.fields)
    )
    # The keys the month's rows are chained with (one, unless the key was rotated in the month).
    keys = sorted(
        {
            key
            for model in _history_models()
            if any(f.name == "chain_key" for f in model._meta.fields)
            for key in model.objects.filter(history_date__gte=start, history_date__lt=end)
            .exclude(chain_key="")
            .values_list("chain_key", flat=True)
            .distinct()
        }
    )
    return {
        "changes": total,
        "chain_keys": keys,
        "without_reason": without_reason,
        "by_user": [[people(user_id), n] for user_id, n in by_user.most_common(10)],
        "by_source": dict(sorted(by_source.items())),
        "by_record": [[name, n] for name, n in by_record.most_common(12)],
    }


def _audit_chain(start, end) -> dict:
    """The tamper evidence as it stood at the end of the month: the latest checkpoint a passed
    verification had covered by then (core.audit_runs's rule), and the verifier's runs in the month."""
    checkpoint = latest_verified_checkpoint(as_of=end)
    runs = list(
        AuditVerification.objects.filter(started_at__gte=start, started_at__lt=end).order_by("started_at", "id")
    )
    failures = [run for run in runs if not run.ok]
    last = runs[-1] if runs else None
    first_failure = failures[0] if failures else None
    return {
        "checkpoint": (
            {
                "seq": checkpoint.seq,
                "made_at": _iso(checkpoint.made_at),
                "row_hash": checkpoint.row_hash,
                "key_id": checkpoint.key_id,
                "rows": checkpoint.rows,
                "location": checkpoint.location,
            }
            if checkpoint is not None
            else None
        ),
        "runs": len(runs),
        "passed": len(runs) - len(failures),
        "failed": len(failures),
        "last": (
            {
                "ok": last.ok,
                "at": _iso(last.started_at),
                "scope": last.get_scope_display(),
                "rows_checked": last.rows_checked,
            }
            if last is not None
            else None
        ),
        "first_failure": (
            {
                "at": _iso(first_failure.started_at),
                "problem": first_failure.problem,
                "summary": first_failure.summary,
                "incident": first_failure.incident_reference,
            }
            if first_failure is not None
            else None
        ),
    }


# --- The decision page: status of the month and changes since the last -----------------


def _changes(period: Period, risks: list) -> list[dict]:
    """This month against the last, for the figures an executive follows; `previous` is None when the
    records did not exist yet (the first month), so nothing reads as a rise from zero."""
    start, end = period.start, period.end
    before = period.shift(-1)
    scoring = matrix()
    first_risk = Risk.history.order_by("history_date").values_list("history_date", flat=True).first()
    risks_before = _risks_at(start) if first_risk is not None and first_risk < start else None

    def over(rows) -> int:
        return sum(1 for r in _open(rows) if scoring.over_appetite(r.residual_band) and r.status != "accepted")

    def severe(rows) -> int:
        return sum(1 for r in _open(rows) if r.residual_band in (Band.HIGH, Band.CRITICAL))

    first_version = ModelVersion.objects.order_by("created_at").values_list("created_at", flat=True).first()
    versions_before = first_version is not None and first_version < start
    incidents = list(Incident.history.as_of(end))
    first_incident = min((i.aware_at for i in incidents), default=None)
    incidents_before = first_incident is not None and first_incident < start

    def opened(begin, finish) -> int:
        return sum(1 for i in incidents if begin <= i.aware_at < finish)

    def registered(begin, finish) -> int:
        return ModelVersion.objects.filter(created_at__gte=begin, created_at__lt=finish).count()

    # worse: which way is bad news (up for risks and incidents); None when neither is.
    return [
        {
            "what": "Open risks",
            "now": len(_open(risks)),
            "previous": None if risks_before is None else len(_open(risks_before)),
            "worse": "up",
        },
        {
            "what": "Risks over appetite, not accepted",
            "now": over(risks),
            "previous": None if risks_before is None else over(risks_before),
            "worse": "up",
        },
        {
            "what": "Open risks rated High or Critical",
            "now": severe(risks),
            "previous": None if risks_before is None else severe(risks_before),
            "worse": "up",
        },
        {
            "what": "Incidents opened",
            "now": opened(start, end),
            "previous": opened(before.start, before.end) if incidents_before else None,
            "worse": "up",
        },
        {
            "what": "Versions registered",
            "now": registered(start, end),
            "previous": registered(before.start, before.end) if versions_before else None,
            "worse": None,
        },
    ]


def _status(data: dict) -> dict:
    """The month in one colour, with the reasons for it.

    Red: something is past a limit an executive set (a risk over appetite and not accepted, a breached
    control, a serious incident open, production about to lose its base model with nothing ready), or
    the audit trail failed verification in the month.
    Amber: something needs a decision soon (an acceptance expiring, a review or action overdue, a
    promotion waiting, a failed gate overridden). Green: neither.
    """
    d, risks, incidents = data["decisions"], data["risks"], data["incidents"]
    red = [
        (len(d["over_appetite"]), "risk over appetite, not accepted", "risks over appetite, not accepted"),
        (len(risks["breached_controls"]), "control breached", "controls breached"),
        (len(incidents["serious_open"]), "serious incident open", "serious incidents open"),
        (
            len(d["runway_without_candidate"]),
            "production version running out of runway with no candidate ready",
            "production versions running out of runway with no candidate ready",
        ),
        (data["audit_chain"]["failed"], "audit trail verification failed", "audit trail verifications failed"),
    ]
    amber = [
        (len(d["acceptances_expiring"]), "acceptance expiring within 30 days", "acceptances expiring within 30 days"),
        (len(d["overdue_reviews"]), "risk review overdue", "risk reviews overdue"),
        (len(risks["overdue_actions"]), "treatment action overdue", "treatment actions overdue"),
        (len(d["pending_promotions"]), "promotion waiting for a decision", "promotions waiting for a decision"),
        (len(d["gate_overrides"]), "failed release gate overridden", "failed release gates overridden"),
    ]

    def reasons(counts) -> list[str]:
        return [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]

    if reasons(red):
        return {"colour": "red", "reasons": reasons(red) + reasons(amber)}
    if reasons(amber):
        return {"colour": "amber", "reasons": reasons(amber)}
    return {"colour": "green", "reasons": []}


# --- Decisions required -----------------------------------------------------------------


def _decisions(start: datetime, end: datetime, risks: list, people, *, runway: list[dict]) -> dict:
    """What needs an executive's decision: the summary page."""
    scoring = matrix()
    # Over appetite and not accepted: an accepted risk already had its decision.
    over = [r for r in _open(risks) if scoring.over_appetite(r.residual_band) and r.status != "accepted"]
    window = end + timedelta(days=EXPIRY_WINDOW_DAYS)
    acceptances = [a for a in Acceptance.history.as_of(end) if a.status == "active" and end <= a.expires_at < window]
    references = {r.id: r.reference for r in risks}
    pending = [p for p in Promotion.history.as_of(end) if p.status == PromotionStatus.PENDING]
    overridden = list(
        Promotion.objects.filter(decided_at__gte=start, decided_at__lt=end, gate_passed=False)
        .exclude(override_justification="")
        .select_related("version__model")
        .order_by("decided_at")
    )
    labels = {
        v.pk: _version_label(v)
        for v in ModelVersion.objects.filter(pk__in={p.version_id for p in pending}).select_related("model")
    }
    people.load(
        [a.accepted_by_id for a in acceptances]
        + [p.requested_by_id for p in pending]
        + [p.decided_by_id for p in overridden]
    )
    overdue = sorted((r for r in _open(risks) if r.next_review_at < end), key=lambda r: (r.next_review_at, r.reference))
    # A runway decision is the business owner's: whether to migrate, and to what.
    owners = dict(
        RegisteredModel.objects.filter(name__in={row["model"] for row in runway}).values_list(
            "name", "business_owner_id"
        )
    )
    people.load(owners.values())
    return {
        "over_appetite": [
            _risk_row(r, people, at=end) for r in sorted(over, key=lambda r: (-r.residual_score, r.reference))
        ],
        "acceptances_expiring": [
            {
                "risk": references.get(a.risk_id, "-"),
                "accepted_by": people(a.accepted_by_id),
                "expires": _day(a.expires_at),
                "residual": f"{Band(a.residual_band).label} {a.residual_score}",
                "conditions": a.conditions,
            }
            for a in sorted(acceptances, key=lambda a: a.expires_at)
        ],
        "overdue_reviews": [_risk_row(r, people, at=end) for r in overdue],
        "pending_promotions": [
            {
                "version": labels.get(p.version_id, "-"),
                "target": p.target,
                "requested_by": people(p.requested_by_id),
                "requested": _day(p.requested_at),
                "justification": p.justification,
            }
            for p in sorted(pending, key=lambda p: p.requested_at)
        ],
        "gate_overrides": [
            {
                "version": _version_label(p.version),
                "target": p.target,
                "decided_by": people(p.decided_by_id),
                "decided": _day(p.decided_at),
                "justification": p.override_justification,
            }
            for p in overridden
        ],
        # Production versions in the runway risk's window at month end (their base shuts down within
        # LIFECYCLE_WARN_DAYS, or has shut down) with nothing ready: no candidate on an active base passes the gate.
        "runway_without_candidate": [
            {
                "version": f"{row['model']}:{row['version']}",
                "owner": people(owners.get(row["model"])) if owners.get(row["model"]) else "-",
                "base_model": row["base_model"],
                "shutdown_date": row["shutdown_date"],
                "days_left": row["days_left"],
                "urgency": row["urgency"],
                "candidate": row["candidate"]["version"] if row["candidate"] else None,
                "statement": _runway_statement(row),
            }
            for row in runway
            if row["environment"] == Environment.PRODUCTION and row["urgency"] != "none" and row["gate"] != "passed"
        ],
    }
