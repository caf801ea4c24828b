"""A fake of Azure OpenAI's fine-tuning API and of the control plane's deployments, on loopback.

The real SDK (`openai.AzureOpenAI(azure_endpoint=...)`) and `providers.azure_openai` talk to it,
as they would to `https://<resource>.openai.azure.com`. It keeps the OpenAI fake's state (the
same clock, faults, files, jobs, events and checkpoints: `FakeAzureOpenAI` extends `FakeOpenAI`)
and differs where Azure differs:

- paths under `/openai/...`; every request needs the `api-version` query parameter (400
  without it) and the resource's key in the `api-key` header, or the Entra ID token
  `entra_token` as `Authorization: Bearer` (401 otherwise);
- the job list takes `after` and `limit` only: `metadata[...]` parameters are ignored, and a
  job's `metadata` is stored and returned but never filters anything;
- a fine-tuned model is named `<base>.ft-<32 hex>`, and listed with its base (`model`) and
  the job that made it (`fine_tune`);
- the model list has Azure's shape: `created_at`, `status`, `capabilities` (`fine_tune`,
  `inference`, ...), `lifecycle_status` and `deprecation: {fine_tune, inference}` in unix
  seconds, not `shutdown_date`. A job is refused on a model that cannot be fine-tuned or whose
  `deprecation.fine_tune` has passed by the fake's clock;
- no webhooks (Azure sends none: only polling sees a job end);
- the control plane: `PUT` / `GET` / `DELETE` `/subscriptions/{sub}/resourceGroups/{rg}/providers/
  Microsoft.CognitiveServices/accounts/{resource}/deployments/{name}?api-version=...` with
  `Authorization: Bearer <management token>`. A deployment is `Creating` for
  `deploy_seconds`, then `Succeeded` (or `Failed`, see `deployment_outcome`); one not used for
  15 days of the fake's clock is deleted (404 afterwards; the fine-tuned model remains).
  `deployment_use(name)` (or `POST /_fake/deployments/{name}/use`) marks a use.

Retirement dates: Microsoft's tables only give "no earlier than" dates for these versions
(e.g. gpt-4.1 2025-04-14: no earlier than April 11, 2026), which are not announced retirement
dates and have passed. So the catalogue uses the OpenAI fake's dates for the same model
families (`OPENAI_MODELS`, e.g. 2027-01-14) as `deprecation.inference`, and the same day as
`deprecation.fine_tune` (Azure announces no earlier end to fine-tuning). Tests change them with
`model_set` or `POST /_fake/models` (`id`, `shutdown_date`, `training_retires_on`,
`fine_tunable`).

Fault injection and the `/_fake/` control routes are the OpenAI fake's (`/_fake/advance`,
`/_fake/faults`, `/_fake/models`, `/_fake/jobs/{id}/outcome`, `/_fake/stats`), plus
`/_fake/deployments/{name}/use` and `/_fake/deployments/{name}/outcome`. Faults apply to the data
plane and to the control plane.

Nothing here is imported by the application itself.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from http.server import ThreadingHTTPServer

from providers.fake_openai import OPENAI_MODELS, FakeOpenAI, _ApiError, _Handler, _public
from providers.fake_openai import serve as _serve

# Azure's ids for the fine-tunable bases of the OpenAI fake's families, with those families' dates.
AZURE_MODELS: dict[str, str | None] = {
    model_id: OPENAI_MODELS[model_id]
    for model_id in (
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
    )
}
# The control plane's answer to a deployment that has seen no traffic for this long: gone.
IDLE_DEPLOYMENT_SECONDS = 15 * 24 * 3600
SAME = "same"  # model_set: the last day for new jobs is the shutdown date


def _unix(day: str | None) -> int | None:
    """A date as Azure's unix seconds (midnight UTC)."""
    return int(datetime.combine(date.fromisoformat(day), time(), UTC).timestamp()) if day else None


def _day(seconds: int | None) -> date | None:
    return datetime.fromtimestamp(seconds, UTC).date() if seconds else None


@dataclass
class FakeAzureOpenAI(FakeOpenAI):
    """The fake's state, Azure-shaped: an OpenAI fake without webhooks or a metadata filter, plus deployments."""

    api_key: str = "azure-fake-key"
    management_token: str = "fake-management-token"  # noqa: S105  (a fake's default, not a secret)
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "fineprint-rg"
    resource_name: str = "fineprint-aoai"
    # An Entra ID access token the data plane also accepts (`Authorization: Bearer`); None: key only.
    entra_token: str | None = None
    deploy_seconds: float = 5.0
    # Azure announces no last day for new jobs.
    last_job_day: str | None = None

    def __post_init__(self) -> None:
        self.deployments: dict[str, dict] = {}
        self.webhook_url = None  # Azure sends no webhooks
        super().__post_init__()
        self.models.clear()
        for model_id, shutdown_date in AZURE_MODELS.items():
            self.model_set(model_id, shutdown_date, fine_tunable=True)

    # --- models in Azure's shape ------------------------------------------------------------

    def model_set(
        self,
        model_id: str,
        shutdown_date: str | None,
        *,
        owned_by: str = "system",
        training_retires_on: str | None = SAME,
        fine_tunable: bool | None = None,
    ) -> dict:
        """Add a model, or announce (or withdraw) its retirement (`deprecation`, unix seconds)."""
        with self.lock:
            model = self.models.setdefault(
                model_id,
                {
                    "id": model_id,
                    "object": "model",
                    "created_at": int(self.now()),
                    "status": "succeeded",
                    "capabilities": {
                        "fine_tune": False,
                        "inference": True,
                        "completion": False,
                        "chat_completion": True,
                        "embeddings": False,
                    },
                    "lifecycle_status": "generally-available",
                    "deprecation": {},
                },
            )
            if fine_tunable is not None:
                model["capabilities"]["fine_tune"] = fine_tunable
            training = shutdown_date if training_retires_on == SAME else training_retires_on
            model["deprecation"] = {
                key: value
                for key, value in (("fine_tune", _unix(training)), ("inference", _unix(shutdown_date)))
                if value is not None
            }
            return model

    def _trainable(self, model: dict, today: date) -> bool:
        retires = _day(model["deprecation"].get("fine_tune"))
        shutdown = _day(model["deprecation"].get("inference"))
        return bool(model["capabilities"].get("fine_tune")) and not any(
            day and day <= today for day in (retires, shutdown)
        )

    def _fine_tuned_name(self, job: dict) -> str:
        return f"{job['model']}.ft-{hashlib.sha256(job['id'].encode()).hexdigest()[:32]}"

    def _fine_tuned_add(self, job: dict) -> None:
        base = self.models.get(job["model"]) or {}
        model = self.model_set(job["fine_tuned_model"], None, training_retires_on=None, fine_tunable=False)
        # Listed with its base and the job that made it; it retires with its base.
        model["model"] = job["model"]
        model["fine_tune"] = job["id"]
        model["deprecation"] = dict(base.get("deprecation") or {})
        model["deprecation"].pop("fine_tune", None)

    # --- jobs: no metadata filter, no webhooks --------------------------------------------------

    def job_list(self, *, after: str | None, limit: int, metadata: dict[str, str]) -> tuple[list[dict], bool]:
        return super().job_list(after=after, limit=limit, metadata={})

    def _send_webhook(self, job: dict) -> None:
        return None

    # --- deployments (control plane) --------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        with self.lock:
            super().advance(seconds)
            for name in list(self.deployments):
                self._deployment_refresh(name)

    def deployment_put(self, name: str, body: dict) -> tuple[dict, bool]:
        """Create (True) or update (False) a deployment of a model this resource lists."""
        with self.lock:
            model = ((body.get("properties") or {}).get("model") or {}).get("name")
            if not model or model not in self.models:
                raise _ApiError(
                    400, f"The model '{model}' is not supported for deployment.", code="DeploymentModelNotSupported"
                )
            created = name not in self.deployments
            self.deployments[name] = {
                "name": name,
                "model": model,
                "sku": body.get("sku") or {"name": "standard", "capacity": 1},
                "state": "Creating",
                "_since": self.now(),
                "_last_used": self.now(),
                "_outcome": self.deployments.get(name, {}).get("_outcome", "Succeeded"),
            }
            return self._deployment_body(name), created

    def deployment_get(self, name: str) -> dict:
        with self.lock:
            self._deployment_refresh(name)
            if name not in self.deployments:
                raise _ApiError(
                    404, f"The deployment {name} was not found.", code="DeploymentNotFound"
                )  # what Azure says after deleting an idle one, too
            return self._deployment_body(name)

    def deployment_delete(self, name: str) -> None:
        with self.lock:
            self.deployments.pop(name, None)

    def deployment_use(self, name: str) -> None:
        """Traffic reached the deployment: its 15 idle days start again."""
        with self.lock:
            self.deployment_get(name)
            self.deployments[name]["_last_used"] = self.now()

    def deployment_outcome(self, name: str, outcome: str) -> None:
        """How provisioning ends: "Succeeded" (the default) or "Failed"."""
        with self.lock:
            self.deployments[name]["_outcome"] = outcome

    def _deployment_refresh(self, name: str) -> None:
        deployment = self.deployments.get(name)
        if deployment is None:
            return
        if self.now() - deployment["_last_used"] >= IDLE_DEPLOYMENT_SECONDS:
            del self.deployments[name]
            return
        if deployment["state"] == "Creating" and self.now() - deployment["_since"] >= self.deploy_seconds:
            deployment["state"] = deployment["_outcome"]

    def _deployment_body(self, name: str) -> dict:
        deployment = self.deployments[name]
        account = (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.CognitiveServices/accounts/{self.resource_name}"
        )
        return {
            "id": f"{account}/deployments/{name}",
            "type": "Microsoft.CognitiveServices/accounts/deployments",
            "name": name,
            "sku": deployment["sku"],
            "properties": {
                "model": {"format": "OpenAI", "name": deployment["model"], "version": "1"},
                "provisioningState": deployment["state"],
            },
        }


_DEPLOYMENT_PATH = (
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)/deployments/(?P<name>[^/]+)$"
)


class _AzureHandler(_Handler):
    state: FakeAzureOpenAI
    NAME = "Azure OpenAI"
    API_PREFIXES = ("/openai/", "/subscriptions/")

    ROUTES = [
        ("POST", re.compile(r"^/openai/files$"), "file_create"),
        ("GET", re.compile(r"^/openai/files/(?P<file_id>[^/]+)$"), "file_get"),
        ("POST", re.compile(r"^/openai/fine_tuning/jobs$"), "job_create"),
        ("GET", re.compile(r"^/openai/fine_tuning/jobs$"), "job_list"),
        ("GET", re.compile(r"^/openai/fine_tuning/jobs/(?P<job_id>[^/]+)$"), "job_get"),
        ("POST", re.compile(r"^/openai/fine_tuning/jobs/(?P<job_id>[^/]+)/cancel$"), "job_cancel"),
        ("GET", re.compile(r"^/openai/fine_tuning/jobs/(?P<job_id>[^/]+)/events$"), "job_events"),
        ("GET", re.compile(r"^/openai/fine_tuning/jobs/(?P<job_id>[^/]+)/checkpoints$"), "job_checkpoints"),
        ("GET", re.compile(r"^/openai/models$"), "model_list"),
        ("GET", re.compile(r"^/openai/models/(?P<model_id>[^/]+)$"), "model_get"),
        ("PUT", re.compile(_DEPLOYMENT_PATH), "deployment_put"),
        ("GET", re.compile(_DEPLOYMENT_PATH), "deployment_get"),
        ("DELETE", re.compile(_DEPLOYMENT_PATH), "deployment_delete"),
        ("POST", re.compile(r"^/_fake/advance$"), "fake_advance"),
        ("POST", re.compile(r"^/_fake/models$"), "fake_model"),
        ("POST", re.compile(r"^/_fake/faults$"), "fake_fault"),
        ("POST", re.compile(r"^/_fake/jobs/(?P<job_id>[^/]+)/outcome$"), "fake_outcome"),
        ("POST", re.compile(r"^/_fake/deployments/(?P<name>[^/]+)/use$"), "fake_deployment_use"),
        ("POST", re.compile(r"^/_fake/deployments/(?P<name>[^/]+)/outcome$"), "fake_deployment_outcome"),
        ("GET", re.compile(r"^/_fake/stats$"), "fake_stats"),
    ]

    def _refusal(self, path: str) -> _ApiError | None:
        if not any(key == "api-version" and value for key, value in self._query):
            return _ApiError(
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                code="MissingApiVersionParameter",
            )
        if path.startswith("/subscriptions/"):
            if self.headers.get("Authorization") != f"Bearer {self.state.management_token}":
                return _ApiError(401, "The access token is invalid.", code="InvalidAuthenticationToken")
            return None
        entra = self.state.entra_token
        if entra and self.headers.get("Authorization") == f"Bearer {entra}":
            return None
        if self.headers.get("api-key") != self.state.api_key:
            return _ApiError(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
                "a valid key for an active subscription and use a correct regional API endpoint for your resource.",
                code="401",
            )
        return None

    # --- control plane ------------------------------------------------------------------------------

    def _account(self, sub: str, rg: str, account: str) -> None:
        state = self.state
        if (sub, rg.lower(), account.lower()) != (
            state.subscription_id,
            state.resource_group.lower(),
            state.resource_name.lower(),
        ):
            raise _ApiError(404, f"The Resource '{account}' was not found.", code="ResourceNotFound")

    def deployment_put(self, sub, rg, account, name):
        self._account(sub, rg, account)
        body, created = self.state.deployment_put(name, self._json())
        return (201 if created else 200), body

    def deployment_get(self, sub, rg, account, name):
        self._account(sub, rg, account)
        return 200, self.state.deployment_get(name)

    def deployment_delete(self, sub, rg, account, name):
        self._account(sub, rg, account)
        self.state.deployment_delete(name)
        return 200, {}

    # --- control routes -----------------------------------------------------------------------------

    def fake_model(self):
        body = self._json()
        model = self.state.model_set(
            body["id"],
            body.get("shutdown_date"),
            training_retires_on=body.get("training_retires_on", body.get("shutdown_date")),
            fine_tunable=body.get("fine_tunable"),
        )
        return 200, _public(model)

    def fake_deployment_use(self, name):
        self.state.deployment_use(name)
        return 200, {"name": name}

    def fake_deployment_outcome(self, name):
        self.state.deployment_outcome(name, self._json()["outcome"])
        return 200, {"name": name}


def serve(
    state: FakeAzureOpenAI, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `state` on loopback in a background thread; port 0 picks a free port.

    Point AZURE_OPENAI_ENDPOINT and AZURE_MANAGEMENT_ENDPOINT at `http://127.0.0.1:<port>`.
    """
    return _serve(state, host, port, handler=_AzureHandler)
