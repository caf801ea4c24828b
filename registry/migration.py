"""The migration view: for each live deployment on a retiring base model, the versions that could replace it.

A candidate is a version of the same model on a base model with no announced
shutdown, not yet retired or failed, judged by the model's release gate
against the current production version (the gate's win rate is measured
against it). "Are we ready to move, and by when?" is one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lifecycle.models import LifecycleState
from lifecycle.selectors import Runway
from registry.gates import GateResult, gate_evaluate
from registry.models import ModelVersion, VersionStatus
from registry.runway import LiveDeployment, live_deployments, versions_runway

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


def migration_plans(*, model: str | None = None, on: date | None = None) -> list[MigrationPlan]:
    """Every live deployment whose base model has a shutdown date, soonest first, with its candidates."""
    retiring = [
        live
        for live in live_deployments(model=model, on=on)
        if live.runway.state in (LifecycleState.DEPRECATED, LifecycleState.SHUTDOWN)
    ]
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
    gates = {v.pk: gate_evaluate(v) for v in active}
    return [
        MigrationPlan(
            live=live,
            candidates=[
                Candidate(v, found[v.pk], gates[v.pk]) for v in active if v.model_id == live.deployment.model_id
            ],
        )
        for live in retiring
    ]
