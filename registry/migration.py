"""The migration view: for each live deployment on a retiring base model, the versions that could replace it.

A candidate is a version of the same model on a base model with no announced
shutdown, not yet retired or failed, judged by the model's release gate
against the current production version (the gate's win rate is measured
against it). "Are we ready to move, and by when?" is one call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.db.models import Min

from datasets.models import CheckStatus, Dataset, DatasetCheck, DatasetOverride
from lifecycle.models import LifecycleState
from lifecycle.selectors import Lookup, Runway, runways_as_of
from registry import gates
from registry.data_cards import DataCheck, DataFile, Override
from registry.gates import GateResult, gate_evaluate
from registry.models import Environment, EvaluationResult, ModelVersion, RegisteredModel, VersionStatus
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
    policies = gates.policies_as_of({v.model_id for v in versions}, at=at)
    # An evaluation counts once it had both run and been recorded: one backdated later does not rewrite the past.
    evaluations: dict[int, list[EvaluationResult]] = {v.pk: [] for v in versions}
    for evaluation in EvaluationResult.objects.filter(
        version_id__in=evaluations, ran_at__lte=at, created_at__lte=at
    ).order_by("-ran_at", "-id"):
        evaluations[evaluation.version_id].append(evaluation)
    checks = data_checks_as_of((sha for v in versions for _, sha in _named(v)), at=at)
    files = {v.pk: [DataFile(role, sha, checks.get(sha)) for role, sha in _named(v)] for v in versions}
    results = {}
    for v in versions:
        in_effect = policies[v.model_id]
        baseline = production.get(v.model_id)
        baseline = baseline if baseline != v.version else None
        # The gate's own judges, so each rule lives once (gates.gate_evaluate reads "now" only).
        rules = []
        for rule in in_effect.rules:
            if rule["metric"] == gates.DATASET_CHECK:
                rules.append(gates.dataset_check_judge(files[v.pk]))
            elif rule["metric"] == gates.GOLDEN_LEAKAGE:
                rules.append(gates.golden_leakage_judge(rule, files[v.pk], evaluations[v.pk]))
            else:
                rules.append(gates.rule_judge(rule, evaluations[v.pk], baseline, version=v))
        rules.append(gates.lifecycle_judge(runways[v.pk]))
        results[v.pk] = GateResult(passed=all(r.outcome == gates.PASS for r in rules), policy=in_effect, rules=rules)
    return results


# --- The data as it stood ---------------------------------------------------------------
# These belong beside registry.data_cards.data_checks (the "now" reader); they live here, with
# the as-of gate, until that module takes them.


def _named(version: ModelVersion) -> list[tuple[str, str]]:
    named = [("training", version.training_file_sha256), ("validation", version.validation_file_sha256)]
    return [(role, sha) for role, sha in named if sha]


def data_checks_as_of(hashes: Iterable[str], *, at: datetime) -> dict[str, DataCheck]:
    """What `registry.data_cards.data_checks` would have answered at `at`, by SHA-256.

    The dataset's report, counts and check time come from its history as of `at`; Compliance's
    override is one recorded by then for that report. A check run carries no history (it is
    bookkeeping), so its state then is read from its times: finished by `at`, its status now
    (done or failed); started by `at`, running; created by `at`, queued. Its progress then is
    not kept: 0 until it had finished. The golden sets compared are those of the latest check
    finished done by `at`.
    """
    wanted = sorted({h for h in hashes if h})
    if not wanted:
        return {}
    datasets = {d.id: d for d in Dataset.history.as_of(at).filter(sha256__in=wanted)}
    if not datasets:
        return {}
    latest: dict[int, DatasetCheck] = {}
    compared: dict[int, list[str]] = {}
    for check in DatasetCheck.objects.filter(dataset_id__in=datasets, created_at__lte=at).order_by(
        "-created_at", "-id"
    ):
        latest.setdefault(check.dataset_id, check)
        finished = check.finished_at is not None and check.finished_at <= at
        if finished and check.status == CheckStatus.DONE:
            compared.setdefault(check.dataset_id, check.goldens)
    overrides: dict[int, DatasetOverride] = {}
    for override in sorted(
        DatasetOverride.history.as_of(at).filter(dataset_id__in=datasets, created_at__lte=at),
        key=lambda o: (o.created_at, o.id),
        reverse=True,
    ):
        if override.report_checked_at == datasets[override.dataset_id].checked_at:
            overrides.setdefault(override.dataset_id, override)
    user_model = get_user_model()
    names = dict(
        user_model.objects.filter(pk__in={o.created_by_id for o in overrides.values()}).values_list(
            "pk", user_model.USERNAME_FIELD
        )
    )
    found = {}
    for pk, d in datasets.items():
        check = latest.get(pk)
        status, progress = _check_state_at(check, at=at)
        override = overrides.get(pk)
        found[d.sha256] = DataCheck(
            sha256=d.sha256,
            kind=d.kind,
            report=d.report,
            blocking=d.blocking or 0,
            warnings=d.warnings or 0,
            checked_at=d.checked_at,
            check_status=status,
            check_progress=progress,
            goldens=tuple(sorted(compared.get(pk) or [])),
            override=Override(override.justification, names.get(override.created_by_id, "-"), override.created_at)
            if override is not None
            else None,
        )
    return found


def _check_state_at(check: DatasetCheck | None, *, at: datetime) -> tuple[str | None, int | None]:
    if check is None:
        return None, None
    if check.finished_at is not None and check.finished_at <= at:
        return check.status, check.progress
    if check.started_at is not None and check.started_at <= at:
        return CheckStatus.RUNNING, 0
    return CheckStatus.QUEUED, 0


@dataclass(frozen=True)
class TrainedVersion:
    """A version whose fine-tune job started in a period, and its data as checked when the job started."""

    version: ModelVersion
    job_started_at: datetime
    files: list[DataFile]

    @property
    def unchecked(self) -> list[DataFile]:
        return [f for f in self.files if not f.checked]

    @property
    def overridden(self) -> list[DataFile]:
        return [f for f in self.files if f.checked and f.check.overridden]


def versions_trained_between(*, start: datetime, end: datetime) -> list[TrainedVersion]:
    """Versions whose job started in [start, end), as history recorded them by `end`, oldest job first.

    A job starts when the version first records a provider job id (the launch, or a registration
    naming a job already run elsewhere). Each version's data is read as it stood at that moment:
    trained without a check means no report existed then; with overridden findings, Compliance
    had overridden the report's blocking findings by then.
    """
    started = dict(
        ModelVersion.history.filter(history_date__lt=end, provider_job_id__isnull=False)
        .values("id")
        .annotate(first=Min("history_date"))
        .filter(first__gte=start)
        .values_list("id", "first")
    )
    if not started:
        return []
    # By the object id: on an as_of queryset, `pk` is the history row's id.
    versions = list(ModelVersion.history.as_of(end).filter(id__in=started))
    models = {m.pk: m for m in RegisteredModel.objects.filter(pk__in={v.model_id for v in versions})}
    trained = []
    for v in sorted(versions, key=lambda v: (started[v.pk], v.pk)):
        v.model = models[v.model_id]
        checks = data_checks_as_of((sha for _, sha in _named(v)), at=started[v.pk])
        files = [DataFile(role, sha, checks.get(sha)) for role, sha in _named(v)]
        trained.append(TrainedVersion(v, started[v.pk], files))
    return trained
