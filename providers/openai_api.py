"""The one place that talks to OpenAI.

Every call goes through the official SDK with an explicit timeout and no SDK
retries: the caller (a sync tick with a time budget) decides how long to wait.
Errors come back as our own types, which say whether a retry can help, and
never carry the API key. Results come back as plain dataclasses, so nothing
outside this module depends on the SDK's types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import openai
from django.conf import settings

from providers.base import (  # noqa: F401  (re-exported: callers still import them from here)
    Checkpoint,
    Job,
    JobError,
    ModelInfo,
    ProviderError,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
    WebhookEvent,
    WebhookRejected,
)

NAME = "openai"
LABEL = "OpenAI"
# The job list filters by metadata, so a sync lists only this instance's jobs.
FILTERS_BY_METADATA = True
# OpenAI signs a webhook when a job ends (`webhook_unwrap`).
HAS_WEBHOOKS = True
# A fine-tuned model serves as soon as its job succeeds.
NEEDS_DEPLOYMENT = False


_SECRET_LIKE = re.compile(r"sk-[A-Za-z0-9_\-*]{3,}")


def _scrub(text: str) -> str:
    """Error text without anything that looks like an API key (either provider's)."""
    for key in (settings.OPENAI_API_KEY, settings.AZURE_OPENAI_API_KEY, settings.AZURE_MANAGEMENT_TOKEN):
        if key:
            text = text.replace(key, "[redacted]")
    return _SECRET_LIKE.sub("[redacted]", text)


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@contextmanager
def _translated(label: str = LABEL) -> Iterator[None]:
    """SDK errors as ours; `label` names the provider in messages (azure_openai shares this)."""
    try:
        yield
    except openai.APITimeoutError:
        raise ProviderUnavailable(f"{label} did not answer in time.", code="timeout") from None
    except openai.APIConnectionError:
        raise ProviderUnavailable(f"Could not connect to {label}.", code="connection_error") from None
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, Mapping) else {}
        error = body.get("error") if isinstance(body.get("error"), Mapping) else body
        code = error.get("code") if isinstance(error, Mapping) else None
        message = _scrub(f"{label} answered {exc.status_code}: {exc.message}")
        if exc.status_code == 429 or exc.status_code >= 500 or exc.status_code == 408:
            raise ProviderUnavailable(
                message, status=exc.status_code, code=code, retry_after=_retry_after(exc.response)
            ) from None
        raise ProviderRejected(message, status=exc.status_code, code=code) from None


def client() -> openai.OpenAI:
    if not settings.OPENAI_API_KEY:
        raise ProviderNotConfigured("OPENAI_API_KEY", provider="OpenAI")
    return openai.OpenAI(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL or None,
        organization=settings.OPENAI_ORGANIZATION or None,
        project=settings.OPENAI_PROJECT or None,
        webhook_secret=settings.OPENAI_WEBHOOK_SECRET or None,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=0,
    )


def _when(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


def _dump(value) -> dict[str, Any]:
    if value is None:
        return {}
    return value.model_dump(mode="json", exclude_none=True) if hasattr(value, "model_dump") else dict(value)


def _job(raw) -> Job:
    error = None
    if raw.error is not None and (raw.error.code or raw.error.message):
        error = JobError(code=raw.error.code or "", message=_scrub(raw.error.message or ""), param=raw.error.param)
    return Job(
        id=raw.id,
        status=raw.status,
        model=raw.model,
        fine_tuned_model=raw.fine_tuned_model,
        trained_tokens=raw.trained_tokens,
        hyperparameters=_dump(raw.hyperparameters),
        method=_dump(raw.method),
        seed=raw.seed,
        metadata=dict(raw.metadata or {}),
        error=error,
        created_at=_when(raw.created_at),
        finished_at=_when(raw.finished_at),
        estimated_finish=_when(raw.estimated_finish),
        training_file=raw.training_file,
        validation_file=raw.validation_file,
        result_files=list(raw.result_files or []),
    )


def _checkpoint(raw) -> Checkpoint:
    return Checkpoint(
        id=raw.id,
        step_number=raw.step_number,
        fine_tuned_model_checkpoint=raw.fine_tuned_model_checkpoint,
        metrics={k: v for k, v in _dump(raw.metrics).items() if isinstance(v, (int, float))},
        created_at=_when(raw.created_at),
    )


class FineTuningCalls:
    """The fine-tuning calls, over the SDK: OpenAI's and Azure's clients answer them with the same shapes.

    Each provider module binds one to its own client factory and name (`file_upload =
    _calls.file_upload`, ...), so the two modules share every call and differ only where the
    providers do: the client, and whether the job list filters by metadata on the server.
    """

    def __init__(self, client_factory: Callable[[], openai.OpenAI], *, label: str, filters_by_metadata: bool):
        self._client = client_factory
        self._label = label
        self._filters_by_metadata = filters_by_metadata

    def file_upload(self, *, filename: str, content: bytes, purpose: str = "fine-tune") -> str:
        with _translated(self._label):
            return self._client().files.create(file=(filename, content), purpose=purpose).id

    def job_create(
        self,
        *,
        model: str,
        training_file: str,
        validation_file: str | None = None,
        suffix: str | None = None,
        metadata: dict[str, str] | None = None,
        hyperparameters: dict | None = None,
        method: dict | None = None,
        seed: int | None = None,
    ) -> Job:
        params: dict[str, Any] = {"model": model, "training_file": training_file}
        optional = {
            "validation_file": validation_file,
            "suffix": suffix,
            "metadata": metadata,
            "hyperparameters": hyperparameters,
            "method": method,
            "seed": seed,
        }
        params.update({name: value for name, value in optional.items() if value is not None})
        with _translated(self._label):
            return _job(self._client().fine_tuning.jobs.create(**params))

    def job_retrieve(self, job_id: str) -> Job:
        with _translated(self._label):
            return _job(self._client().fine_tuning.jobs.retrieve(job_id))

    def jobs_page(
        self, *, metadata: dict[str, str] | None = None, after: str | None = None, limit: int = 100
    ) -> tuple[list[Job], bool]:
        """One page of jobs, newest first; the bool says whether another page follows.

        Where the provider cannot filter by metadata (Azure), the page is filtered here: still
        one request, but a page may hold fewer jobs than `limit`.
        """
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        if metadata and self._filters_by_metadata:
            params["metadata"] = metadata
        with _translated(self._label):
            page = self._client().fine_tuning.jobs.list(**params)
            jobs = [_job(raw) for raw in page.data]
        if metadata and not self._filters_by_metadata:
            jobs = [job for job in jobs if all(job.metadata.get(k) == v for k, v in metadata.items())]
        return jobs, bool(page.has_more)

    def job_cancel(self, job_id: str) -> Job:
        with _translated(self._label):
            return _job(self._client().fine_tuning.jobs.cancel(job_id))

    def job_checkpoints(self, job_id: str) -> list[Checkpoint]:
        with _translated(self._label):
            page = self._client().fine_tuning.jobs.checkpoints.list(job_id, limit=100)
            return [_checkpoint(raw) for raw in page.data]

    def job_events(self, job_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        with _translated(self._label):
            page = self._client().fine_tuning.jobs.list_events(job_id, limit=limit)
            return [{"at": _when(e.created_at), "level": e.level, "message": _scrub(e.message)} for e in page.data]


# The module's client is looked up at each call (tests point the settings at a fake server).
_calls = FineTuningCalls(lambda: client(), label=LABEL, filters_by_metadata=FILTERS_BY_METADATA)
file_upload = _calls.file_upload
job_create = _calls.job_create
job_retrieve = _calls.job_retrieve
jobs_page = _calls.jobs_page
job_cancel = _calls.job_cancel
job_checkpoints = _calls.job_checkpoints
job_events = _calls.job_events


def _shutdown_date(raw) -> date | None:
    value = getattr(raw, "shutdown_date", None)
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ProviderRejected(
            f"Model {raw.id}: unreadable shutdown_date {str(value)[:40]!r}.", code="invalid_body"
        ) from None


def models_list() -> list[ModelInfo]:
    """Every model the organisation can use, base and fine-tuned; OpenAI answers in one page (one call)."""
    with _translated():
        page = client().models.list()
        return [
            ModelInfo(
                id=raw.id, owned_by=raw.owned_by, created_at=_when(raw.created), shutdown_date=_shutdown_date(raw)
            )
            for raw in page.data
        ]


def model_retrieve(model_id: str) -> ModelInfo:
    with _translated():
        raw = client().models.retrieve(model_id)
        return ModelInfo(
            id=raw.id, owned_by=raw.owned_by, created_at=_when(raw.created), shutdown_date=_shutdown_date(raw)
        )


# What the provider's ids look like (wh_..., ftjob-...), and at most what WebhookReceipt stores.
# A signed webhook is still input: a secret that leaked must not let anyone break the receipts table.
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_EVENT_TYPE = re.compile(r"fine_tuning\.job\.[a-z_]{1,50}")


def webhook_unwrap(body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """Verify a webhook (signature, 5-minute tolerance) and read which job it is about."""
    if not settings.OPENAI_WEBHOOK_SECRET:
        raise WebhookRejected("OPENAI_WEBHOOK_SECRET is not set.", code="not_configured")
    sdk = openai.OpenAI(api_key="unused-for-webhooks", webhook_secret=settings.OPENAI_WEBHOOK_SECRET)
    try:
        event = sdk.webhooks.unwrap(body, dict(headers))
    except openai.InvalidWebhookSignatureError as exc:
        raise WebhookRejected(str(exc), code="invalid_signature") from None
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise WebhookRejected(f"Unreadable webhook: {str(exc)[:200]}", code="invalid_body") from None
    event_type = getattr(event, "type", None)
    job_id = getattr(getattr(event, "data", None), "id", None)
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise WebhookRejected(f"Not a fine-tuning job event: {str(event_type)[:100]!r}", code="unexpected_event")
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id", "")
    for name, value in (("webhook-id", webhook_id), ("data.id", job_id)):
        if not isinstance(value, str) or not _WEBHOOK_ID.fullmatch(value):
            raise WebhookRejected(f"{name} is not an id (1 to 100 letters, digits, _.:-).", code="invalid_body")
    return WebhookEvent(webhook_id=webhook_id, type=event_type, job_id=job_id)
