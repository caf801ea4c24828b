"""The migration view: for each live deployment on a retiring base model, the versions that could replace it.

A candidate is a version of the same model on a base model with no announced
shutdown, not yet retired or failed, judged by the model's release gate
against the current production version (the gate's win rate is measured
against it). "Are we ready to move, and by when?" is one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings

from lifecycle.models import LifecycleState
from lifecycle.selectors import Lookup, Runway, runways_as_of
from registry import gates
from registry.gates import GateResult, PolicyInEffect, gate_evaluate
from registry.models import Environment, EvaluationResult, GatePolicy, ModelVersion, RegisteredModel, VersionStatus
from registry.runway import LiveDeployment, live_deployments, live_deployments_as_of, versions_runway

# Versions that can still be promoted (or already serve, in the other environment).
CANDIDATE_STATUSES = (
    VersionStatus.DRAFT,
    VersionStatus.TRAINING,
    VersionStatus.EVALUATING,
    VersionStatus.APPROVED,
    VersionStatus.CANARY,
)


@dataclass(frozen=True)
class Candidate:
    version: ModelVersion
    runway: Runway
    gate: GateResult


@dataclass(frozen=True)
class MigrationPlan:
    live: LiveDeployment
    candidates: list[Candidate]

    @property
    def deadline(self) -> date | None:
        return self.live.runway.shutdown_date

    @property
    def ready(self) -> bool:
        """A candidate on an active base passes the gate today."""
        return any(c.gate.passed for c in self.candidates)

    @property
    def best(self) -> Candidate | None:
        """The candidate to move to: the newest that passes the gate, else the newest (candidates are newest first)."""
        passing = [c for c in self.candidates if c.gate.passed]
        return (passing or self.candidates or [None])[0]


RETIRING = (LifecycleState.DEPRECATED, LifecycleState.SHUTDOWN)


def migration_plans(*, model: str | None = None, on: date | None = None) -> list[MigrationPlan]:
    """Every live deployment whose base model has a shutdown date, soonest first, with its candidates."""
    retiring = [live for live in live_deployments(model=model, on=on) if live.runway.state in RETIRING]
    model_ids = {live.deployment.model_id for live in retiring}
    deployed = {live.deployment.version_id for live in retiring}
    versions = list(
        ModelVersion.objects.filter(model_id__in=model_ids, status__in=CANDIDATE_STATUSES)
        .exclude(pk__in=deployed)
        .select_related("model")
        .order_by("model_id", "-id")
    )
    found = versions_runway(versions, on=on)
    active = [v for v in versions if found[v.pk].state == LifecycleState.ACTIVE]
    judged = {v.pk: gate_evaluate(v, runway=found[v.pk]) for v in active}
    return [
        MigrationPlan(
            live=live,
            candidates=[
                Candidate(v, found[v.pk], judged[v.pk]) for v in active if v.model_id == live.deployment.model_id
            ],
        )
        for live in retiring
    ]


def migration_plans_as_of(*, at: datetime) -> list[MigrationPlan]:
    """The migration view as the records stood at the instant `at` (a past month's report reads it).

    The deployments live at `at` with the catalogue as it stood then; candidates are the versions
    registered by then, with the status they had then (from history); each is judged by the gate
    policy in force then, on the evaluations run and recorded by then, against the version in
    production then. Two things are read as they are now: the default gate rules (settings, used
    when the model had no policy of its own) and a version's model (its provider and name).
    """
    live = live_deployments_as_of(at=at)
    retiring = [row for row in live if row.runway.state in RETIRING]
    model_ids = {row.deployment.model_id for row in retiring}
    deployed = {row.deployment.version_id for row in retiring}
    if not retiring:
        return []
    models = {m.pk: m for m in RegisteredModel.objects.filter(pk__in=model_ids)}
    versions = sorted(
        (
            v
            for v in ModelVersion.history.as_of(at).filter(model_id__in=model_ids, status__in=CANDIDATE_STATUSES)
            if v.pk not in deployed
        ),
        key=lambda v: (v.model_id, -v.pk),
    )
    for v in versions:
        v.model = models[v.model_id]
    lookups = {v.pk: Lookup(v.model.provider, v.base_model, v.fine_tuned_model) for v in versions}
    found = runways_as_of(lookups.values(), at=at)
    active = [v for v in versions if found[lookups[v.pk]].state == LifecycleState.ACTIVE]
    production = {
        row.deployment.model_id: row.deployment.version.version
        for row in live
        if row.deployment.environment == Environment.PRODUCTION
    }
    judged = _gates_as_of(active, at=at, production=production, runways={v.pk: found[lookups[v.pk]] for v in active})
    return [
        MigrationPlan(
            live=row,
            candidates=[
                Candidate(v, found[lookups[v.pk]], judged[v.pk])
                for v in active
                if v.model_id == row.deployment.model_id
            ],
        )
        for row in retiring
    ]


def _gates_as_of(
    versions: list[ModelVersion], *, at: datetime, production: dict[int, str], runways: dict[int, Runway]
) -> dict[int, GateResult]:
    """Each version's gate as it would have been judged at `at`, by the gate's own rules (registry.gates)."""
    if not versions:
        return {}
    policies: dict[int, GatePolicy] = {}
    for policy in GatePolicy.objects.filter(model_id__in={v.model_id for v in versions}, created_at__lte=at).order_by(
        "model_id", "-version"
    ):
        policies.setdefault(policy.model_id, policy)
    # An evaluation counts once it had both run and been recorded: one backdated later does not rewrite the past.
    evaluations: dict[int, list[EvaluationResult]] = {v.pk: [] for v in versions}
    for evaluation in EvaluationResult.objects.filter(
        version_id__in=evaluations, ran_at__lte=at, created_at__lte=at
    ).order_by("-ran_at", "-id"):
        evaluations[evaluation.version_id].append(evaluation)
    results = {}
    for v in versions:
        policy = policies.get(v.model_id)
        in_effect = (
            PolicyInEffect(rules=policy.rules, version=policy.version, source="model")
            if policy is not None
            else PolicyInEffect(rules=settings.FINEPRINT_DEFAULT_GATE_RULES, version=None, source="default")
        )
        baseline = production.get(v.model_id)
        baseline = baseline if baseline != v.version else None
        # The gate's own judges, so each rule lives once (gates.gate_evaluate reads "now" only).
        rules = [gates.rule_judge(rule, evaluations[v.pk], baseline) for rule in in_effect.rules]
        rules.append(gates.lifecycle_judge(runways[v.pk]))
        results[v.pk] = GateResult(passed=all(r.outcome == gates.PASS for r in rules), policy=in_effect, rules=rules)
    return results
