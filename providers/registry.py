"""Which provider module serves a registered model's `provider`, and whether it is configured.

Every provider module exposes the same functions over the types in `providers.base`:

    file_upload(*, filename, content, purpose="fine-tune") -> str
    job_create(*, model, training_file, validation_file=None, suffix=None, metadata=None,
               hyperparameters=None, method=None, seed=None) -> Job
    job_retrieve(job_id) -> Job
    jobs_page(*, metadata=None, after=None, limit=100) -> tuple[list[Job], bool]
    job_cancel(job_id) -> Job
    job_checkpoints(job_id) -> list[Checkpoint]
    job_events(job_id, *, limit=20) -> list[dict]
    models_list() -> list[ModelInfo]
    model_retrieve(model_id) -> ModelInfo

and the attributes NAME, FILTERS_BY_METADATA (the job list filters by metadata on the
server; otherwise `jobs_page(metadata=...)` filters each page client-side), HAS_WEBHOOKS
(`webhook_unwrap(body, headers)` exists) and NEEDS_DEPLOYMENT (`deployment_create(*, name,
model)` and `deployment_get(name)` exist, and a fine-tuned model serves only once deployed).
"""

from __future__ import annotations

from types import ModuleType

from django.conf import settings

from providers import azure_openai, openai_api
from providers.base import ProviderNotConfigured, ProviderRejected

_MODULES: dict[str, ModuleType] = {openai_api.NAME: openai_api, azure_openai.NAME: azure_openai}


def missing_setting(name: str) -> str | None:
    """The first setting provider `name` needs that is not set (None: it is configured)."""
    if name == openai_api.NAME:
        return None if settings.OPENAI_API_KEY else "OPENAI_API_KEY"
    if name == azure_openai.NAME:
        if not settings.AZURE_OPENAI_ENDPOINT:
            return "AZURE_OPENAI_ENDPOINT"
        if not settings.AZURE_OPENAI_API_KEY and not settings.AZURE_OPENAI_USE_ENTRA_ID:
            return "AZURE_OPENAI_API_KEY"
        return None
    raise ProviderRejected(f"Unknown provider {str(name)[:40]!r}.", code="unknown_provider")


def provider_traits(name: str) -> ModuleType:
    """The module for provider `name`, to read what it is like (NEEDS_DEPLOYMENT...), without calling it."""
    if name not in _MODULES:
        raise ProviderRejected(f"Unknown provider {str(name)[:40]!r}.", code="unknown_provider")
    return _MODULES[name]


def provider_api(name: str) -> ModuleType:
    """The module for provider `name` ("openai", "azure"); ProviderNotConfigured if it cannot be called."""
    setting = missing_setting(name)
    if setting:
        raise ProviderNotConfigured(setting, provider=_MODULES[name].LABEL)
    return _MODULES[name]


def configured_providers() -> list[str]:
    """The providers Fineprint can call, in a fixed order (OpenAI first)."""
    return [name for name in _MODULES if missing_setting(name) is None]
