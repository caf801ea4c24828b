"""What every provider module shares: its error types and the plain results it returns.

Each provider module (`openai_api`, `azure_openai`) exposes the same functions over these
types, so nothing outside `providers/` depends on an SDK's types or on which provider
answered. `providers.registry.provider_api(name)` picks the module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class ProviderError(Exception):
    """A call to the provider failed. `retryable` says whether trying again later can help."""

    retryable = False

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """Rate limited, a server error, a timeout or a broken connection: try again later."""

    retryable = True


class ProviderRejected(ProviderError):
    """The provider refused the request (400, 401, 403, 404...): retrying the same call will not help."""


class ProviderNotConfigured(ProviderRejected):
    """The provider cannot be called at all: `setting` names the setting that is missing."""

    def __init__(self, setting: str, *, provider: str):
        super().__init__(f"{provider} is not configured: {setting} is not set.", code="not_configured")
        self.setting = setting
        self.provider = provider


class WebhookRejected(ProviderError):
    """A webhook whose signature, timestamp or body does not check out."""


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    param: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    model: str
    fine_tuned_model: str | None
    trained_tokens: int | None
    hyperparameters: dict[str, Any]
    method: dict[str, Any]
    seed: int | None
    metadata: dict[str, str]
    error: JobError | None
    created_at: datetime
    finished_at: datetime | None
    estimated_finish: datetime | None
    training_file: str
    validation_file: str | None
    result_files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Checkpoint:
    id: str
    step_number: int
    fine_tuned_model_checkpoint: str
    metrics: dict[str, float]
    created_at: datetime


@dataclass(frozen=True)
class ModelInfo:
    """A model the provider serves, with its lifecycle.

    `shutdown_date`: the day it stops serving (None: none announced). `training_retires_on`:
    the day it stops accepting new fine-tuning jobs, where the provider says so (Azure).
    `fine_tunable`: whether it can be fine-tuned, where the provider says so (None: not said).
    """

    id: str
    owned_by: str
    created_at: datetime | None
    shutdown_date: date | None
    fine_tunable: bool | None = None
    training_retires_on: date | None = None


@dataclass(frozen=True)
class WebhookEvent:
    webhook_id: str
    type: str
    job_id: str


class DeploymentState:
    """The states of a `ServingDeployment` (Azure's provisioningState, lower-cased, or missing)."""

    CREATING = "creating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSING = "missing"


@dataclass(frozen=True)
class ServingDeployment:
    """A deployment that serves a fine-tuned model, where the provider needs one (Azure).

    `state` is one of DeploymentState: "creating", "succeeded", "failed" or "missing" (never
    created, or deleted, e.g. by Azure after 15 days without use; the model itself remains).
    """

    name: str
    model: str
    state: str
