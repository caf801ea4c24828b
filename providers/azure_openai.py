"""The one place that talks to Azure OpenAI (Microsoft Foundry).

The data plane goes through the official SDK's `openai.AzureOpenAI` (`{endpoint}/openai/...`,
the `api-version` query parameter, the `api-key` header or an Entra ID token), with the
same explicit timeout (OPENAI_TIMEOUT_SECONDS), no SDK retries and the same error types as
`openai_api`: a caller cannot tell which provider answered except by what it says.

Where Azure differs from OpenAI, and how this module copes:

- **No metadata filter on the job list.** Azure's `GET /openai/fine_tuning/jobs` takes only
  `after` and `limit`. `jobs_page(metadata=...)` therefore asks for one page as usual and
  keeps the jobs whose metadata matches, client-side: one request per call, as with OpenAI,
  but a page may hold fewer jobs than `limit` (or none while `has_more` is true). A caller
  that must see every match (the sync) should page without `metadata` and filter itself,
  so it keeps the cursor of the unfiltered list; `FILTERS_BY_METADATA = False` says so.
- **Model lifecycle.** Azure's model objects carry `capabilities.fine_tune`, `lifecycle_status`
  and `deprecation: {fine_tune, inference}` (unix seconds) instead of `shutdown_date`:
  `deprecation.inference` becomes `shutdown_date` (it stops serving), `deprecation.fine_tune`
  `training_retires_on` (it stops training), `capabilities.fine_tune` `fine_tunable`.
- **No webhooks.** Only polling tells Fineprint a job ended (`HAS_WEBHOOKS = False`).
- **Deployment.** A fine-tuned model (`<base>.ft-<32 hex>`) serves only once deployed through
  the control plane (Azure Resource Manager), and Azure deletes a deployment that has not been
  used for 15 days (the model remains). `deployment_create` / `deployment_get` call
  `{AZURE_MANAGEMENT_ENDPOINT}/subscriptions/.../deployments/{name}` with a bearer token
  (AZURE_MANAGEMENT_TOKEN, or Entra ID), over httpx2, the HTTP client the SDK itself uses.

Authentication: AZURE_OPENAI_API_KEY; or, with no key and AZURE_OPENAI_USE_ENTRA_ID=1, the
environment's Entra ID credentials through `azure-identity` (imported only then).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import httpx2
import openai
from django.conf import settings

from providers.base import (
    DeploymentState,
    ModelInfo,
    ProviderNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
    ServingDeployment,
)

# The SDK objects Azure returns have OpenAI's shapes: the mapping and the error translation are
# shared with openai_api rather than copied.
from providers.openai_api import FineTuningCalls, _retry_after, _scrub, _translated, _when

NAME = "azure"
LABEL = "Azure OpenAI"
FILTERS_BY_METADATA = False
HAS_WEBHOOKS = False
NEEDS_DEPLOYMENT = True

# The control plane's API version for deployments (Microsoft.CognitiveServices/accounts/deployments).
MANAGEMENT_API_VERSION = "2024-10-21"
_COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
_MANAGEMENT_SCOPE = "https://management.azure.com/.default"
_PROVISIONING = {
    "succeeded": DeploymentState.SUCCEEDED,
    "failed": DeploymentState.FAILED,
    "canceled": DeploymentState.FAILED,
    "deleting": DeploymentState.MISSING,
}


def _entra_credential():
    """The environment's Entra ID credential (managed identity, workload identity, az login...)."""
    try:
        from azure.identity import DefaultAzureCredential  # only with Entra ID: an optional dependency
    except ImportError:
        raise ProviderNotConfigured("AZURE_OPENAI_API_KEY", provider=LABEL) from None
    return DefaultAzureCredential()


def client() -> openai.AzureOpenAI:
    if not settings.AZURE_OPENAI_ENDPOINT:
        raise ProviderNotConfigured("AZURE_OPENAI_ENDPOINT", provider=LABEL)
    credentials: dict[str, Any]
    if settings.AZURE_OPENAI_API_KEY:
        credentials = {"api_key": settings.AZURE_OPENAI_API_KEY}
    elif settings.AZURE_OPENAI_USE_ENTRA_ID:
        credential = _entra_credential()
        credentials = {"azure_ad_token_provider": lambda: credential.get_token(_COGNITIVE_SCOPE).token}
    else:
        raise ProviderNotConfigured("AZURE_OPENAI_API_KEY", provider=LABEL)
    return openai.AzureOpenAI(
        azure_endpoint=settings.AZURE_OPENAI_ENDPOINT,
        api_version=settings.AZURE_OPENAI_API_VERSION,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=0,
        **credentials,
    )


# --- files and jobs --------------------------------------------------------------------------


# The calls are OpenAI's, over the Azure client; the job list cannot filter by metadata.
_calls = FineTuningCalls(lambda: client(), label=LABEL, filters_by_metadata=FILTERS_BY_METADATA)
file_upload = _calls.file_upload
job_create = _calls.job_create
job_retrieve = _calls.job_retrieve
jobs_page = _calls.jobs_page
job_cancel = _calls.job_cancel
job_checkpoints = _calls.job_checkpoints
job_events = _calls.job_events


# --- models ------------------------------------------------------------------------------------


def _day(raw_id: str, name: str, value: Any) -> date | None:
    if value in (None, "", 0):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC).date()
    except (TypeError, ValueError, OverflowError, OSError):
        raise ProviderRejected(
            f"Model {raw_id}: unreadable deprecation.{name} {str(value)[:40]!r}.", code="invalid_body"
        ) from None


def _model(raw) -> ModelInfo:
    """Azure's model object, read through `model_dump()`: its lifecycle fields are not the SDK's."""
    data = raw.model_dump(mode="json")
    capabilities = data.get("capabilities") if isinstance(data.get("capabilities"), dict) else {}
    deprecation = data.get("deprecation") if isinstance(data.get("deprecation"), dict) else {}
    fine_tunable = capabilities.get("fine_tune")
    created = data.get("created_at") or data.get("created")
    # Azure names no owner; a fine-tuned model names the job that made it (`fine_tune`).
    owned_by = data.get("owned_by") or ("organization" if data.get("fine_tune") else "system")
    return ModelInfo(
        id=raw.id,
        owned_by=owned_by,
        created_at=_when(created) if isinstance(created, int) else None,
        shutdown_date=_day(raw.id, "inference", deprecation.get("inference")),
        fine_tunable=fine_tunable if isinstance(fine_tunable, bool) else None,
        training_retires_on=_day(raw.id, "fine_tune", deprecation.get("fine_tune")),
    )


def models_list() -> list[ModelInfo]:
    """Every model the resource can use, base and fine-tuned (one call)."""
    with _translated(LABEL):
        return [_model(raw) for raw in client().models.list().data]


def model_retrieve(model_id: str) -> ModelInfo:
    with _translated(LABEL):
        return _model(client().models.retrieve(model_id))


# --- deployments (control plane) -------------------------------------------------------------


def _deployment_url(name: str) -> str:
    parts = {}
    for setting in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_OPENAI_RESOURCE_NAME"):
        value = getattr(settings, setting)
        if not value:
            raise ProviderNotConfigured(setting, provider=LABEL)
        parts[setting] = quote(value, safe="")
    base = (settings.AZURE_MANAGEMENT_ENDPOINT or "https://management.azure.com").rstrip("/")
    return (
        f"{base}/subscriptions/{parts['AZURE_SUBSCRIPTION_ID']}"
        f"/resourceGroups/{parts['AZURE_RESOURCE_GROUP']}"
        f"/providers/Microsoft.CognitiveServices/accounts/{parts['AZURE_OPENAI_RESOURCE_NAME']}"
        f"/deployments/{quote(name, safe='')}"
    )


def _management_token() -> str:
    if settings.AZURE_MANAGEMENT_TOKEN:
        return settings.AZURE_MANAGEMENT_TOKEN
    if settings.AZURE_OPENAI_USE_ENTRA_ID:
        return _entra_credential().get_token(_MANAGEMENT_SCOPE).token
    raise ProviderNotConfigured("AZURE_MANAGEMENT_TOKEN", provider=LABEL)


def _management(method: str, name: str, body: dict | None = None) -> httpx2.Response | None:
    """One control-plane call; None for a 404 (no such deployment)."""
    url = _deployment_url(name)
    headers = {"Authorization": f"Bearer {_management_token()}"}
    try:
        response = httpx2.request(
            method,
            url,
            params={"api-version": MANAGEMENT_API_VERSION},
            json=body,
            headers=headers,
            timeout=settings.OPENAI_TIMEOUT_SECONDS,
        )
    except httpx2.TimeoutException:
        raise ProviderUnavailable(f"{LABEL} (control plane) did not answer in time.", code="timeout") from None
    except httpx2.TransportError:
        raise ProviderUnavailable(f"Could not connect to {LABEL} (control plane).", code="connection_error") from None
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        text = str(error.get("message") or response.reason_phrase or "")[:500]
        message = _scrub(f"{LABEL} (control plane) answered {response.status_code}: {text}")
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise ProviderUnavailable(message, status=status, code=code, retry_after=_retry_after(response))
        raise ProviderRejected(message, status=status, code=code)
    return response


def _deployment(name: str, response: httpx2.Response | None, *, model: str = "") -> ServingDeployment:
    if response is None:
        return ServingDeployment(name=name, model=model, state=DeploymentState.MISSING)
    try:
        data = response.json()
        properties = data.get("properties") or {}
        state = str(properties.get("provisioningState") or "").lower()
        model = str((properties.get("model") or {}).get("name") or model)
    except (ValueError, AttributeError):
        raise ProviderRejected(f"{LABEL} (control plane): unreadable deployment {name}.", code="invalid_body") from None
    return ServingDeployment(name=name, model=model, state=_PROVISIONING.get(state, DeploymentState.CREATING))


def deployment_create(*, name: str, model: str, capacity: int = 1) -> ServingDeployment:
    """Deploy fine-tuned `model` as `name` (standard SKU); creating an existing name updates it."""
    body = {
        "sku": {"name": "standard", "capacity": capacity},
        "properties": {"model": {"format": "OpenAI", "name": model, "version": "1"}},
    }
    response = _management("PUT", name, body)
    if response is None:  # a PUT does not 404 on a missing deployment: the account is missing
        raise ProviderRejected(f"{LABEL} (control plane): the resource was not found.", status=404)
    return _deployment(name, response, model=model)


def deployment_get(name: str) -> ServingDeployment:
    """The deployment's state; "missing" when there is none (never made, or deleted when idle)."""
    return _deployment(name, _management("GET", name))
