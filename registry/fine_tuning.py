"""Fine-tune jobs: keep each version's job in step with the provider that trains it.

Every call goes through the provider interface (`providers.registry.provider_api`), chosen
by the version's `provider`: the provider its model had when the version was registered.
Writes go through `version_job_apply`, which only ever moves a job forward and saves a
version once per real change (one history row, attributed to the service account, with a
reason naming the transition). `jobs_sync_tick` is what the periodic task runs: one tick at
a time (a lease), within a time budget shared by the configured providers, asking each as
little as it can (docs/openai.md, "Keeping jobs in sync").
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from core.audit import mark_change, service_user
from core.errors import (
    Conflict,
    DatasetBlocked,
    PermissionDenied,
    UpstreamRejected,
    UpstreamUnavailable,
    ValidationFailed,
)
from core.leases import lease_claim, lease_release
from core.roles import Role, has_role
from core.wording import plural
from lifecycle.capabilities import capability
from lifecycle.models import Provider
from providers.base import (
    Checkpoint as ProviderCheckpoint,
)
from providers.base import (
    Job,
    ProviderError,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
    ServingDeployment,
)
from providers.registry import configured_providers, provider_api, provider_traits
from registry import runway
from registry.data_cards import DataCheck, data_checks
from registry.models import (
    JOB_RANK,
    JOB_TERMINAL,
    SERVING_LIVE,
    Checkpoint,
    JobStatus,
    ModelVersion,
    ServingState,
    VersionStatus,
)

logger = logging.getLogger(__name__)

SYNC_LEASE = "fine-tune-job-sync"
PAGE_SIZE = 100  # the providers' largest page
METADATA_KEY = "fineprint_instance"
# A call that fails without saying when to retry (a server error, a dropped connection) is tried
# this many times in a tick; then the provider's turn ends and the next tick tries again.
ATTEMPTS = 3

T = TypeVar("T")

# What a job's end means for the version, while the version is still in training.
_VERSION_STATUS_AFTER = {
    JobStatus.SUCCEEDED: VersionStatus.EVALUATING,
    JobStatus.FAILED: VersionStatus.FAILED,
    JobStatus.CANCELLED: VersionStatus.CANCELLED,
}


def provider_label(provider: str) -> str:
    return Provider(provider).label if provider in Provider.values else provider


def needs_deployment(provider: str) -> bool:
    """Whether the provider serves a fine-tuned model only once it is deployed (Azure); read, not called."""
    return provider_traits(provider).NEEDS_DEPLOYMENT


def provider_for(provider: str) -> ModuleType:
    """The provider module for `provider`; a 400 naming the missing setting when it is not configured."""
    try:
        return provider_api(provider)
    except ProviderNotConfigured as exc:
        raise _not_configured(exc) from None


def _not_configured(exc: ProviderNotConfigured) -> ValidationFailed:
    return ValidationFailed(
        f"{exc.message} Ask an administrator to configure it.",
        fields={"provider": [f"{exc.setting} is not set."]},
        extra={"provider": exc.provider, "setting": exc.setting},
    )


@contextmanager
def _answered_for_a_person(*, bad_input_field: str | None = None, retry: str = "Try again later.") -> Iterator[None]:
    """A provider call someone is waiting on: its errors as the API's (400, 502, 503), never a 500.

    With `bad_input_field`, a 400 from the provider is a 400 on that field (what was sent was refused).
    """
    try:
        yield
    except ProviderNotConfigured as exc:
        raise _not_configured(exc) from None
    except ProviderUnavailable as exc:
        raise UpstreamUnavailable(f"{exc.message} {retry}") from None
    except ProviderRejected as exc:
        if bad_input_field and exc.status == 400:
            raise ValidationFailed(exc.message, fields={bad_input_field: [exc.message]}) from None
        raise UpstreamRejected(exc.message) from None


def job_metadata(version: ModelVersion) -> dict[str, str]:
    """The metadata Fineprint puts on the jobs it starts, and filters the job list by (where the provider can)."""
    return {METADATA_KEY: settings.FINEPRINT_INSTANCE, "fineprint_version": f"{version.model.name}:{version.version}"}


def version_job_apply(
    *, version_id: int, job: Job, checkpoints: list[ProviderCheckpoint] | None = None, actor=None
) -> bool:
    """Record what the provider says of a version's job; True when anything changed.

    A stale or repeated answer (a status behind or equal to the one recorded,
    with nothing new) changes nothing and writes no history.
    """
    actor = actor or service_user()
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        before = version.job_status
        if before in JOB_TERMINAL or JOB_RANK.get(job.status, 0) < JOB_RANK.get(before, 0):
            return False
        values = {
            "job_status": job.status,
            "fine_tuned_model": job.fine_tuned_model or version.fine_tuned_model,
            "trained_tokens": job.trained_tokens if job.trained_tokens is not None else version.trained_tokens,
            "hyperparameters": job.hyperparameters or version.hyperparameters,
            "seed": job.seed if job.seed is not None else version.seed,
            "job_finished_at": job.finished_at or version.job_finished_at,
            "result_files": job.result_files or version.result_files,
            "job_error_code": job.error.code if job.error else version.job_error_code,
            "job_error_message": job.error.message if job.error else version.job_error_message,
        }
        if version.status in (VersionStatus.DRAFT, VersionStatus.TRAINING):
            values["status"] = _VERSION_STATUS_AFTER.get(job.status, VersionStatus.TRAINING)
        changed = {name: value for name, value in values.items() if getattr(version, name) != value}
        if not changed:
            return False
        for name, value in changed.items():
            setattr(version, name, value)
        transition = f"{before or 'registered'} -> {job.status}" if "job_status" in changed else job.status
        label = provider_label(version.provider)
        mark_change(version, actor=actor, reason=f"{label} job {job.id} {transition}")
        version.save()
        for checkpoint in checkpoints or []:
            _checkpoint_record(version, checkpoint, actor=actor, label=label)
        return True


def _checkpoint_record(version: ModelVersion, checkpoint: ProviderCheckpoint, *, actor, label: str) -> None:
    if Checkpoint.objects.filter(provider_checkpoint_id=checkpoint.id).exists():
        return
    row = Checkpoint(
        version=version,
        provider_checkpoint_id=checkpoint.id,
        step_number=checkpoint.step_number,
        fine_tuned_model_checkpoint=checkpoint.fine_tuned_model_checkpoint,
        metrics=checkpoint.metrics,
        created_at=checkpoint.created_at,
    )
    mark_change(row, actor=actor, reason=f"Checkpoint at step {checkpoint.step_number} of {label} job")
    row.save()


def version_job_error_record(*, version_id: int, error: ProviderError, actor=None) -> bool:
    """A permanent error asking about one job (e.g. 404): recorded on the version, once."""
    actor = actor or service_user()
    code = f"provider_{error.status or error.code or 'error'}"
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if version.job_error_code == code and version.job_error_message == error.message:
            return False
        version.job_error_code = code
        version.job_error_message = error.message
        label = provider_label(version.provider)
        mark_change(version, actor=actor, reason=f"{label} job {version.provider_job_id}: {error.message}")
        version.save()
        return True


def version_serving_state_apply(*, version_id: int, deployment: ServingDeployment, actor=None) -> bool:
    """Record the state the provider reports for a version's serving deployment; True when it changed.

    An answer about another name (the version was deployed again meanwhile) changes nothing.
    """
    actor = actor or service_user()
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if version.serving_deployment != deployment.name or version.serving_deployment_state == deployment.state:
            return False
        before = version.serving_deployment_state
        version.serving_deployment_state = deployment.state
        reason = f"{provider_label(version.provider)} deployment {deployment.name} {before} -> {deployment.state}"
        if deployment.state == ServingState.MISSING:
            reason += (
                " (deleted: Azure deletes a deployment unused for 15 days; the fine-tuned model remains, "
                "deploy it again to serve it)"
            )
        mark_change(version, actor=actor, reason=reason)
        version.save()
        return True


# --- The sync tick --------------------------------------------------------------------------


@dataclass
class ProviderTickReport:
    """One provider's part of a tick. `max_list_calls` is the listing's call budget: ceil(in_flight/100)+1."""

    in_flight: int = 0
    max_list_calls: int = 0
    list_calls: int = 0
    retrieve_calls: int = 0
    checkpoint_calls: int = 0
    deployments: int = 0
    deployment_calls: int = 0
    changed: int = 0
    errors: int = 0
    deferred: int = 0
    waited_seconds: float = 0.0
    budget_seconds: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


COUNTERS = (
    "in_flight",
    "list_calls",
    "retrieve_calls",
    "checkpoint_calls",
    "deployment_calls",
    "changed",
    "errors",
    "deferred",
    "waited_seconds",
)


@dataclass
class TickReport:
    """A whole tick: the totals over every provider, and each provider's own counters in `providers`."""

    skipped: bool = False
    in_flight: int = 0
    list_calls: int = 0
    retrieve_calls: int = 0
    checkpoint_calls: int = 0
    deployment_calls: int = 0
    changed: int = 0
    errors: int = 0
    deferred: int = 0
    waited_seconds: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    providers: dict[str, ProviderTickReport] = field(default_factory=dict)

    def add(self, name: str, part: ProviderTickReport) -> None:
        self.providers[name] = part
        for counter in COUNTERS:
            setattr(self, counter, getattr(self, counter) + getattr(part, counter))
        self.notes.extend(f"{provider_label(name)}: {note}" for note in part.notes)


class _OutOfBudget(Exception):
    pass


class _Pass:
    """One provider's turn in a tick, with its share of the time budget."""

    def __init__(self, *, api: ModuleType, deadline: float, clock, sleep, actor):
        self.api = api
        self.report = ProviderTickReport()
        self.clock, self.sleep = clock, sleep
        self.deadline = deadline
        self.actor = actor

    def call(self, counter: str, fn: Callable[..., T], *args, **kwargs) -> T:
        """Call the provider; on a rate limit, wait as told if the budget allows, else end this provider's turn.

        A failure that names no wait (a server error, a dropped connection) is tried ATTEMPTS
        times, a second apart; after that the job waits for the next tick.
        """
        attempts = 0
        while True:
            if self.clock() >= self.deadline:
                raise _OutOfBudget("time budget spent")
            try:
                setattr(self.report, counter, getattr(self.report, counter) + 1)
                attempts += 1
                return fn(*args, **kwargs)
            except ProviderUnavailable as exc:
                if exc.retry_after is None and attempts >= ATTEMPTS:
                    raise _OutOfBudget(f"{exc.message} ({attempts} attempts; the next tick tries again)") from None
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if self.clock() + wait >= self.deadline:
                    raise _OutOfBudget(f"{exc.message} (retry after {wait:g} s exceeds the budget)") from None
                self.report.waited_seconds += wait
                self.sleep(wait)

    def apply(self, version_id: int, known_status: str, job: Job) -> None:
        if job.status == known_status and job.status not in JOB_TERMINAL:
            return  # nothing we record changes while a job stays in one status
        checkpoints = None
        if job.status == JobStatus.SUCCEEDED:
            try:
                checkpoints = self.call("checkpoint_calls", self.api.job_checkpoints, job.id)
            except ProviderRejected as exc:
                # Recorded once the checkpoints can be read: the job stays in flight till then.
                self.report.errors += 1
                version_job_error_record(version_id=version_id, error=exc, actor=self.actor)
                return
        if version_job_apply(version_id=version_id, job=job, checkpoints=checkpoints, actor=self.actor):
            self.report.changed += 1


def jobs_sync_tick(
    *,
    budget_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TickReport:
    """Bring every in-flight job (and live deployment) up to date, on every configured provider.

    One tick at a time (one lease for all providers), within one time budget: each provider
    with work gets an equal share of what is left when its turn comes, so a provider that
    rate-limits cannot starve the other, and time one leaves unused passes to the next.
    """
    budget = budget_seconds if budget_seconds is not None else settings.OPENAI_SYNC_BUDGET_SECONDS
    holder = lease_claim(SYNC_LEASE, seconds=budget + 2 * settings.OPENAI_TIMEOUT_SECONDS)
    if holder is None:
        return TickReport(skipped=True, notes=["another tick holds the lease"])
    started = clock()
    report = TickReport()
    try:
        actor = service_user()
        deadline = started + budget
        work = _work_by_provider()
        configured = set(configured_providers())
        for name in sorted(set(work) - configured):
            jobs, deployments = work.pop(name)
            report.notes.append(
                f"{provider_label(name)} is not configured: {plural(len(jobs), 'job')} and "
                f"{plural(len(deployments), 'deployment')} wait."
            )
        order = [name for name in configured_providers() if name in work]
        for index, name in enumerate(order):
            share = (deadline - clock()) / (len(order) - index)
            turn = _Pass(api=provider_api(name), deadline=clock() + share, clock=clock, sleep=sleep, actor=actor)
            turn.report.budget_seconds = round(max(share, 0.0), 3)
            turn_started = clock()
            jobs, deployments = work[name]
            try:
                _sync_jobs(turn, jobs)
                _sync_deployments(turn, deployments)
            except _OutOfBudget as exc:
                turn.report.notes.append(str(exc))
            turn.report.seconds = round(clock() - turn_started, 3)
            report.add(name, turn.report)
    finally:
        lease_release(SYNC_LEASE, holder)
    report.seconds = round(clock() - started, 3)
    return report


def _work_by_provider() -> dict[str, tuple[dict[str, tuple[int, str]], list[tuple[int, str]]]]:
    """Per provider: its in-flight jobs (job id -> (version id, status)) and live deployments ((version id, name))."""
    work: dict[str, tuple[dict, list]] = {}
    in_flight = (
        ModelVersion.objects.filter(provider_job_id__isnull=False)
        .exclude(job_status__in=JOB_TERMINAL)
        .values_list("provider", "provider_job_id", "pk", "job_status")
    )
    for provider, job_id, pk, status in in_flight:
        work.setdefault(provider, ({}, []))[0][job_id] = (pk, status)
    live = (
        ModelVersion.objects.filter(serving_deployment_state__in=SERVING_LIVE)
        .order_by("pk")
        .values_list("provider", "pk", "serving_deployment")
    )
    for provider, pk, name in live:
        work.setdefault(provider, ({}, []))[1].append((pk, name))
    return work


def _sync_jobs(turn: _Pass, in_flight: dict[str, tuple[int, str]]) -> None:
    report = turn.report
    report.in_flight = len(in_flight)
    if not in_flight:
        return
    remaining = set(in_flight)
    # One list page holds up to PAGE_SIZE jobs, newest first. Where the provider filters the list
    # by metadata (OpenAI), the pages hold only the jobs Fineprint started; where it cannot
    # (Azure), they hold every job of the resource, and the in-flight ones are matched by id.
    # Either way: at most ceil(in_flight / PAGE_SIZE) + 1 pages, then the rest one by one.
    metadata = {METADATA_KEY: settings.FINEPRINT_INSTANCE} if turn.api.FILTERS_BY_METADATA else None
    report.max_list_calls = math.ceil(len(in_flight) / PAGE_SIZE) + 1
    after = None
    try:
        try:
            while remaining and report.list_calls < report.max_list_calls:
                page, has_more = turn.call(
                    "list_calls", turn.api.jobs_page, metadata=metadata, after=after, limit=PAGE_SIZE
                )
                for job in page:
                    if job.id in remaining:
                        remaining.discard(job.id)
                        turn.apply(*in_flight[job.id], job)
                if not has_more or not page:
                    break
                after = page[-1].id
        except ProviderRejected as exc:
            report.notes.append(f"listing refused ({exc.message}); asking job by job")
        # Jobs registered from elsewhere, or beyond the pages read: one by one.
        for job_id in sorted(remaining):
            pk, status = in_flight[job_id]
            try:
                job = turn.call("retrieve_calls", turn.api.job_retrieve, job_id)
            except ProviderRejected as exc:
                report.errors += 1
                version_job_error_record(version_id=pk, error=exc, actor=turn.actor)
            else:
                turn.apply(pk, status, job)
            remaining.discard(job_id)
    except _OutOfBudget:
        report.deferred = len(remaining)
        raise


def _sync_deployments(turn: _Pass, deployments: list[tuple[int, str]]) -> None:
    """One call per deployment whose state can still change (creating, succeeded)."""
    turn.report.deployments = len(deployments)
    if not deployments or not getattr(turn.api, "NEEDS_DEPLOYMENT", False):
        return
    for pk, name in deployments:
        try:
            found = turn.call("deployment_calls", turn.api.deployment_get, name)
        except ProviderNotConfigured as exc:
            turn.report.notes.append(f"deployments not checked: {exc.setting} is not set")
            return
        except ProviderRejected as exc:
            turn.report.errors += 1
            turn.report.notes.append(f"deployment {name}: {exc.message}")
            continue
        if version_serving_state_apply(version_id=pk, deployment=found, actor=turn.actor):
            turn.report.changed += 1


def job_sync_one(job_id: str) -> bool:
    """Sync one job now (after a webhook, or on request); True when it changed the version."""
    found = ModelVersion.objects.filter(provider_job_id=job_id).values_list("pk", "job_status", "provider").first()
    if found is None:
        return False
    pk, status, provider = found
    if status in JOB_TERMINAL:
        return False
    try:
        api = provider_api(provider)
    except ProviderNotConfigured as exc:
        logger.warning("Job %s not synced: %s", job_id, exc.message)
        return False
    try:
        job = api.job_retrieve(job_id)
        checkpoints = api.job_checkpoints(job_id) if job.status == JobStatus.SUCCEEDED else None
    except ProviderRejected as exc:
        return version_job_error_record(version_id=pk, error=exc)
    return version_job_apply(version_id=pk, job=job, checkpoints=checkpoints)


# --- Launching a job for a registered version ------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """A training or validation file to launch with: its bytes (to upload) or an existing provider file id."""

    content: bytes | None = None
    filename: str = "data.jsonl"
    file_id: str = ""


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _check_hash(dataset: Dataset | None, registered: str, field_name: str) -> None:
    if dataset is None or dataset.content is None:
        return
    actual = _sha256(dataset.content)
    if actual != registered:
        raise Conflict(
            f"The {field_name.replace('_', ' ')} does not match the SHA-256 registered for this version; nothing "
            "was uploaded.",
            fields={field_name: [f"Registered {registered or '(none)'}, uploaded {actual}."]},
            extra={"registered_sha256": registered, "uploaded_sha256": actual},
        )


def _refuse_blocked_data(version: ModelVersion, *, with_validation: bool) -> list[tuple[str, DataCheck]]:
    """Refuse data whose pre-check has blocking findings Compliance has not overridden; the overrides relied on.

    Only the files this launch trains on count (the validation file only when one is sent). Data
    never checked passes here: the gate's `dataset_check` rule reports it as missing evidence. An
    override counts only for the report it was given on (registry.data_cards), so a re-check that
    still blocks needs a new one.
    """
    roles = [("training_file", version.training_file_sha256)]
    if with_validation and version.validation_file_sha256:
        roles.append(("validation_file", version.validation_file_sha256))
    checks = data_checks(sha for _, sha in roles)
    blocked, overridden = [], []
    for role, sha in roles:
        check = checks.get(sha)
        if check is None or not check.checked or check.blocking == 0:
            continue
        if check.overridden:
            overridden.append((role, check))
        else:
            blocked.append((role, check))
    if not blocked:
        return overridden
    findings = [
        {"file": role, "sha256": check.sha256, "code": f["code"], "line": f["line"], "severity": f["severity"]}
        for role, check in blocked
        for f in check.blocking_findings()
    ]
    described = "; ".join(
        f"the {role.replace('_', ' ')} ({check.sha256[:12]}) has {check.blocking} blocking findings: "
        f"{_findings_summary(check)}"
        for role, check in blocked
    )
    raise DatasetBlocked(
        f"The data's pre-check has blocking findings, and nothing was uploaded: {described}. Fix the data and "
        "register a new version, or ask Compliance to override the findings of this report.",
        fields={role: [f"{check.blocking} blocking findings: {_findings_summary(check)}."] for role, check in blocked},
        extra={"blocking_findings": findings},
    )


LINES_NAMED = 5  # per finding code in the message; `extra` lists every finding the report kept


def _findings_summary(check: DataCheck) -> str:
    """'pii_card at lines 7, 9; too_few_examples': each code once, with the first few lines it was found on."""
    lines: dict[str, list[int]] = {}
    for finding in check.blocking_findings():
        lines.setdefault(finding["code"], [])
        if finding["line"]:
            lines[finding["code"]].append(finding["line"])
    parts = []
    for code, found in sorted(lines.items()):
        shown = ", ".join(str(n) for n in found[:LINES_NAMED]) + (", ..." if len(found) > LINES_NAMED else "")
        parts.append(f"{code} at line{'s' if len(found) > 1 else ''} {shown}" if found else code)
    return "; ".join(parts)


def _override_note(overridden: list[tuple[str, DataCheck]]) -> str:
    """What the version's history says of the overrides a launch relied on: who, when, why."""
    return "".join(
        f"; {role.replace('_', ' ')} {check.sha256[:12]}: {check.blocking} blocking findings OVERRIDDEN by "
        f"{check.override.by} on {check.override.at:%Y-%m-%d}: {check.override.justification}"
        for role, check in overridden
    )


def _suffix(version: ModelVersion) -> str:
    # OpenAI takes up to 64 characters; keep it readable in the fine-tuned model name.
    return re.sub(r"[^a-zA-Z0-9-]", "-", f"{version.model.name}-{version.version}")[:64]


def version_fine_tune_launch(
    *,
    version: ModelVersion,
    actor,
    training: Dataset,
    validation: Dataset | None = None,
    hyperparameters: dict | None = None,
    method: dict | None = None,
    seed: int | None = None,
) -> ModelVersion:
    """Upload the version's data (checked against its registered hashes), start the job, record it.

    Data whose pre-check has blocking findings is refused (409 `dataset_blocked`) before anything
    is uploaded, unless Compliance overrode that report's findings: then the launch's history
    reason names the override.
    """
    with transaction.atomic():
        # Held for the few seconds the provider calls take: two launches of one version never both go through.
        version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        if version.provider_job_id:
            raise Conflict(
                f"Version '{version.version}' already has fine-tune job {version.provider_job_id}; register a new "
                "version to train again.",
                fields={"provider_job_id": ["Already set."]},
            )
        if version.status != VersionStatus.DRAFT:
            raise Conflict(f"Version '{version.version}' is {version.status}; only a draft can be trained.")
        # Work that cannot succeed is refused before anything is uploaded.
        api = provider_for(version.provider)
        runway.refuse_closed_provider(provider=version.provider)
        runway.refuse_shut_down_base(
            provider=version.provider, base_model=version.base_model, work="launch a fine-tuning job"
        )
        if not capability(version.provider).fine_tunes_model(version.base_model):
            raise Conflict(
                f"{version.provider} does not fine-tune {version.base_model}; register the version on a base "
                "model it fine-tunes.",
                fields={"base_model": ["Not fine-tunable on this provider."]},
                extra={"base_model": version.base_model},
            )
        _check_hash(training, version.training_file_sha256, "training_file")
        if validation is not None:
            _check_hash(validation, version.validation_file_sha256, "validation_file")
        overridden = _refuse_blocked_data(version, with_validation=validation is not None)
        with _answered_for_a_person(bad_input_field="provider", retry="Nothing was recorded; try again later."):
            training_id = training.file_id or api.file_upload(filename=training.filename, content=training.content)
            validation_id = None
            if validation is not None:
                validation_id = validation.file_id or api.file_upload(
                    filename=validation.filename, content=validation.content
                )
            job = api.job_create(
                model=version.base_model,
                training_file=training_id,
                validation_file=validation_id,
                suffix=_suffix(version),
                metadata=job_metadata(version),
                hyperparameters=hyperparameters,
                method=method,
                seed=seed,
            )
        version.provider_job_id = job.id
        version.training_file_id = training_id
        version.validation_file_id = validation_id or ""
        version.job_status = job.status
        version.hyperparameters = job.hyperparameters
        version.seed = job.seed
        version.status = VersionStatus.TRAINING
        mark_change(
            version,
            actor=actor,
            reason=f"Fine-tune job {job.id} started on {version.base_model} ({provider_label(version.provider)})"
            + _override_note(overridden),
        )
        version.save()
        return version


# --- Serving deployment (Azure) -------------------------------------------------------------

DEPLOYMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}\Z")


def version_serving_deploy(*, version: ModelVersion, actor, name: str) -> ModelVersion:
    """Deploy a version's fine-tuned model under `name`, where its provider serves one only once deployed (Azure).

    Engineers and compliance. The version's job must have succeeded with a fine-tuned model.
    The provider is called outside any transaction (deploying the same name again updates it,
    so a retry is safe); the name and the state it answers are then recorded, with history.
    Deploying again under the same name while it is creating or serving changes nothing.
    """
    if not (has_role(actor, Role.ENGINEER) or has_role(actor, Role.COMPLIANCE)):
        raise PermissionDenied("Only engineers and compliance staff may deploy a version.")
    errors = {}
    if not DEPLOYMENT_NAME.match(name or ""):
        errors["name"] = ["2 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."]
    if errors:
        raise ValidationFailed("The deployment is invalid.", fields=errors)
    version = ModelVersion.objects.select_related("model").get(pk=version.pk)
    _refuse_undeployable(version)
    if version.serving_deployment == name and version.serving_deployment_state in SERVING_LIVE:
        return version
    api = provider_for(version.provider)
    with _answered_for_a_person(bad_input_field="name", retry="Nothing was recorded; try again later."):
        deployment = api.deployment_create(name=name, model=version.fine_tuned_model)
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
        _refuse_undeployable(version)
        before = version.serving_deployment or "none"
        version.serving_deployment = deployment.name
        version.serving_deployment_state = deployment.state
        label = provider_label(version.provider)
        mark_change(
            version,
            actor=actor,
            reason=f"{label} deployment {deployment.name} of {version.fine_tuned_model}: {deployment.state} "
            f"(was {before})",
        )
        version.save()
    return version


def _refuse_undeployable(version: ModelVersion) -> None:
    if not needs_deployment(version.provider):
        raise Conflict(
            f"{provider_label(version.provider)} serves a fine-tuned model as soon as its job succeeds: "
            "there is nothing to deploy.",
            fields={"provider": [f"{version.provider} needs no deployment."]},
        )
    version.refuse_if_held()
    if version.job_status != JobStatus.SUCCEEDED or not version.fine_tuned_model:
        raise Conflict(
            f"Version '{version.version}' has no fine-tuned model to deploy yet (job: {version.job_status or 'none'}); "
            "deploy it once its job has succeeded.",
            fields={"fine_tuned_model": ["Not trained yet."]},
        )
