"""Fine-tune jobs: keep each version's job in step with the provider.

Writes go through `version_job_apply`, which only ever moves a job forward
and saves a version once per real change (one history row, attributed to the
service account, with a reason naming the transition). `jobs_sync_tick` is
what the periodic task runs: one tick at a time (a lease), within a time
budget, asking the provider as little as it can.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from core.audit import mark_change, service_user
from core.errors import Conflict, UpstreamRejected, UpstreamUnavailable, ValidationFailed
from core.leases import lease_claim, lease_release
from lifecycle.capabilities import capability
from providers import openai_api
from registry import runway
from registry.models import JOB_RANK, JOB_TERMINAL, Checkpoint, JobStatus, ModelVersion, VersionStatus

logger = logging.getLogger(__name__)

SYNC_LEASE = "openai-job-sync"
PAGE_SIZE = 100  # the provider's largest page
METADATA_KEY = "fineprint_instance"

T = TypeVar("T")

# What a job's end means for the version, while the version is still in training.
_VERSION_STATUS_AFTER = {
    JobStatus.SUCCEEDED: VersionStatus.EVALUATING,
    JobStatus.FAILED: VersionStatus.FAILED,
    JobStatus.CANCELLED: VersionStatus.CANCELLED,
}


def job_metadata(version: ModelVersion) -> dict[str, str]:
    """The metadata Fineprint puts on the jobs it starts, and filters the job list by."""
    return {METADATA_KEY: settings.FINEPRINT_INSTANCE, "fineprint_version": f"{version.model.name}:{version.version}"}


def version_job_apply(
    *, version_id: int, job: openai_api.Job, checkpoints: list[openai_api.Checkpoint] | None = None, actor=None
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
        mark_change(version, actor=actor, reason=f"OpenAI job {job.id} {transition}")
        version.save()
        for checkpoint in checkpoints or []:
            _checkpoint_record(version, checkpoint, actor=actor)
        return True


def _checkpoint_record(version: ModelVersion, checkpoint: openai_api.Checkpoint, *, actor) -> None:
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
    mark_change(row, actor=actor, reason=f"Checkpoint at step {checkpoint.step_number} of OpenAI job")
    row.save()


def version_job_error_record(*, version_id: int, error: openai_api.ProviderError, actor=None) -> bool:
    """A permanent error asking about one job (e.g. 404): recorded on the version, once."""
    actor = actor or service_user()
    code = f"provider_{error.status or error.code or 'error'}"
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=version_id)
        if version.job_error_code == code and version.job_error_message == error.message:
            return False
        version.job_error_code = code
        version.job_error_message = error.message
        mark_change(version, actor=actor, reason=f"OpenAI job {version.provider_job_id}: {error.message}")
        version.save()
        return True


@dataclass
class TickReport:
    skipped: bool = False
    in_flight: int = 0
    list_calls: int = 0
    retrieve_calls: int = 0
    checkpoint_calls: int = 0
    changed: int = 0
    errors: int = 0
    deferred: int = 0
    waited_seconds: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class _OutOfBudget(Exception):
    pass


class _Tick:
    def __init__(self, *, budget: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.report = TickReport()
        self.clock, self.sleep = clock, sleep
        self.started = clock()
        self.deadline = self.started + budget
        self.actor = service_user()

    def call(self, counter: str, fn: Callable[..., T], *args, **kwargs) -> T:
        """Call the provider; on a rate limit, wait as told if the budget allows, else stop the tick."""
        while True:
            if self.clock() >= self.deadline:
                raise _OutOfBudget("time budget spent")
            try:
                setattr(self.report, counter, getattr(self.report, counter) + 1)
                return fn(*args, **kwargs)
            except openai_api.ProviderUnavailable as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if self.clock() + wait >= self.deadline:
                    raise _OutOfBudget(f"{exc.message} (retry after {wait:g} s exceeds the budget)") from None
                self.report.waited_seconds += wait
                self.sleep(wait)

    def apply(self, version_id: int, known_status: str, job: openai_api.Job) -> None:
        if job.status == known_status and job.status not in JOB_TERMINAL:
            return  # nothing we record changes while a job stays in one status
        checkpoints = None
        if job.status == JobStatus.SUCCEEDED:
            checkpoints = self.call("checkpoint_calls", openai_api.job_checkpoints, job.id)
        if version_job_apply(version_id=version_id, job=job, checkpoints=checkpoints, actor=self.actor):
            self.report.changed += 1


def jobs_sync_tick(
    *,
    budget_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> TickReport:
    """Bring every in-flight job up to date, within a time budget; one tick at a time."""
    budget = budget_seconds if budget_seconds is not None else settings.OPENAI_SYNC_BUDGET_SECONDS
    holder = lease_claim(SYNC_LEASE, seconds=budget + 2 * settings.OPENAI_TIMEOUT_SECONDS)
    if holder is None:
        return TickReport(skipped=True, notes=["another tick holds the lease"])
    started = clock()
    try:
        tick = _Tick(budget=budget, clock=clock, sleep=sleep)
        try:
            _sync(tick)
        except _OutOfBudget as exc:
            tick.report.notes.append(str(exc))
    finally:
        lease_release(SYNC_LEASE, holder)
    tick.report.seconds = round(clock() - started, 3)
    return tick.report


def _sync(tick: _Tick) -> None:
    in_flight = {
        job_id: (pk, status)
        for job_id, pk, status in ModelVersion.objects.filter(provider_job_id__isnull=False)
        .exclude(job_status__in=JOB_TERMINAL)
        .values_list("provider_job_id", "pk", "job_status")
    }
    report = tick.report
    report.in_flight = len(in_flight)
    remaining = set(in_flight)
    # Jobs Fineprint started carry its metadata: a few list pages cover them all.
    after = None
    max_pages = math.ceil(len(in_flight) / PAGE_SIZE) + 1
    try:
        while remaining and report.list_calls < max_pages:
            page, has_more = tick.call(
                "list_calls",
                openai_api.jobs_page,
                metadata={METADATA_KEY: settings.FINEPRINT_INSTANCE},
                after=after,
                limit=PAGE_SIZE,
            )
            for job in page:
                if job.id in remaining:
                    remaining.discard(job.id)
                    tick.apply(*in_flight[job.id], job)
            if not has_more or not page:
                break
            after = page[-1].id
    except openai_api.ProviderRejected as exc:
        report.notes.append(f"listing refused ({exc.message}); asking job by job")
    # Jobs registered from elsewhere (or beyond the pages read): one by one.
    for job_id in sorted(remaining):
        pk, status = in_flight[job_id]
        try:
            job = tick.call("retrieve_calls", openai_api.job_retrieve, job_id)
        except openai_api.ProviderRejected as exc:
            report.errors += 1
            version_job_error_record(version_id=pk, error=exc, actor=tick.actor)
            continue
        except _OutOfBudget:
            report.deferred = len(remaining) - (report.retrieve_calls - 1)
            raise
        tick.apply(pk, status, job)


def job_sync_one(job_id: str) -> bool:
    """Sync one job now (after a webhook); True when it changed the version."""
    version = ModelVersion.objects.filter(provider_job_id=job_id).values_list("pk", "job_status").first()
    if version is None:
        return False
    pk, status = version
    if status in JOB_TERMINAL:
        return False
    try:
        job = openai_api.job_retrieve(job_id)
    except openai_api.ProviderRejected as exc:
        return version_job_error_record(version_id=pk, error=exc)
    checkpoints = openai_api.job_checkpoints(job_id) if job.status == JobStatus.SUCCEEDED else None
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
    """Upload the version's data (checked against its registered hashes), start the job, record it."""
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
        runway.refuse_closed_provider(provider=version.model.provider)
        runway.refuse_shut_down_base(
            provider=version.model.provider, base_model=version.base_model, work="launch a fine-tuning job"
        )
        if not capability(version.model.provider).fine_tunes_model(version.base_model):
            raise Conflict(
                f"{version.model.provider} does not fine-tune {version.base_model}; register the version on a base "
                "model it fine-tunes.",
                fields={"base_model": ["Not fine-tunable on this provider."]},
                extra={"base_model": version.base_model},
            )
        _check_hash(training, version.training_file_sha256, "training_file")
        if validation is not None:
            _check_hash(validation, version.validation_file_sha256, "validation_file")
        try:
            training_id = training.file_id or openai_api.file_upload(
                filename=training.filename, content=training.content
            )
            validation_id = None
            if validation is not None:
                validation_id = validation.file_id or openai_api.file_upload(
                    filename=validation.filename, content=validation.content
                )
            job = openai_api.job_create(
                model=version.base_model,
                training_file=training_id,
                validation_file=validation_id,
                suffix=_suffix(version),
                metadata=job_metadata(version),
                hyperparameters=hyperparameters,
                method=method,
                seed=seed,
            )
        except openai_api.ProviderUnavailable as exc:
            raise UpstreamUnavailable(f"{exc.message} Nothing was recorded; try again later.") from None
        except openai_api.ProviderRejected as exc:
            if exc.status == 400:
                raise ValidationFailed(exc.message, fields={"provider": [exc.message]}) from None
            raise UpstreamRejected(exc.message) from None
        version.provider_job_id = job.id
        version.training_file_id = training_id
        version.validation_file_id = validation_id or ""
        version.job_status = job.status
        version.hyperparameters = job.hyperparameters
        version.seed = job.seed
        version.status = VersionStatus.TRAINING
        mark_change(version, actor=actor, reason=f"Fine-tune job {job.id} started on {version.base_model}")
        version.save()
        return version
