"""A fake of OpenAI's fine-tuning API, served on loopback.

The real `openai` SDK talks to it through `base_url`, so development (`make
run`) and the tests exercise Fineprint's real client code without the
internet. It implements what Fineprint uses: file upload and retrieval; job
create, retrieve, list (cursor paging, metadata filter), cancel, events and
checkpoints; signed webhooks (Standard Webhooks, as OpenAI sends them); the
model list and model retrieval with each model's `shutdown_date`.

Its model catalogue holds OpenAI's published dates (November 2026) and every
fine-tuned model its jobs produced (no date of its own: it shuts down with its
base). Like OpenAI, it refuses a job on a model that has shut down by its clock,
or after its last day for new jobs (`last_job_day`).

Jobs advance `validating_files -> queued -> running -> succeeded` on the
server's clock (or end `failed` / `cancelled`). Tests drive that clock and
inject faults (429 with retry-after, 500, slow answers, dropped connections)
either on the `FakeOpenAI` object or over HTTP under `/_fake/`.

Nothing here is imported by the application itself.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

logger = logging.getLogger(__name__)

TERMINAL = ("succeeded", "failed", "cancelled")

# OpenAI's base models and their announced shutdown dates, as published by November 2026
# (None: none announced). Tests and `POST /_fake/models` change or add entries.
OPENAI_MODELS: dict[str, str | None] = {
    "gpt-3.5-turbo": "2026-10-23",
    "gpt-3.5-turbo-0125": "2026-10-23",
    "gpt-4o": "2027-01-14",
    "gpt-4o-2024-08-06": "2027-01-14",
    "gpt-4o-mini": "2027-01-14",
    "gpt-4o-mini-2024-07-18": "2027-01-14",
    "gpt-4.1": "2027-01-14",
    "gpt-4.1-2025-04-14": "2027-01-14",
    "gpt-4.1-mini": "2027-01-14",
    "gpt-4.1-mini-2025-04-14": "2027-01-14",
    "gpt-4.1-nano-2025-04-14": None,
}
# The last day OpenAI's self-serve fine-tuning accepts new jobs.
OPENAI_LAST_JOB_DAY = "2027-01-06"


@dataclass
class Fault:
    """One injected fault, applied to the next `count` requests whose path starts with `path`."""

    status: int | None = None  # 429 or 5xx
    retry_after: float | None = None
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without an answer
    path: str = ""  # "" matches every API path (not the /_fake/ control routes)
    count: int = 1


@dataclass
class Durations:
    validating: float = 2.0
    queued: float = 3.0
    running: float = 10.0


@dataclass
class FakeOpenAI:
    """The state behind the fake server: files, jobs and the clock."""

    api_key: str = "sk-fake"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    durations: Durations = field(default_factory=Durations)
    organization: str = "fake-org"
    # None: jobs are accepted whatever the clock says (tests that are not about the closing day).
    last_job_day: str | None = OPENAI_LAST_JOB_DAY

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.offset = 0.0
        self.files: dict[str, dict] = {}
        self.file_contents: dict[str, bytes] = {}
        self.jobs: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}
        self.webhooks_sent: list[dict] = []
        self._ids = itertools.count(1)
        self.models: dict[str, dict] = {}
        for model_id, shutdown_date in OPENAI_MODELS.items():
            self.model_set(model_id, shutdown_date)

    # --- clock and control --------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward; jobs progress as if that time had passed."""
        with self.lock:
            self.offset += seconds
            for job in self.jobs.values():
                self._refresh(job)

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def set_outcome(self, job_id: str, outcome: str) -> None:
        """Decide how a job ends: 'succeeded' (the default) or 'failed'."""
        with self.lock:
            self.jobs[job_id]["_outcome"] = outcome

    def today(self) -> date:
        return datetime.fromtimestamp(self.now(), UTC).date()

    def model_set(self, model_id: str, shutdown_date: str | None, *, owned_by: str = "system") -> dict:
        """Add a model, or announce (or withdraw) its shutdown date."""
        with self.lock:
            model = self.models.setdefault(
                model_id, {"id": model_id, "object": "model", "created": int(self.now()), "owned_by": owned_by}
            )
            model["shutdown_date"] = shutdown_date
            return model

    def _trainable(self, model: dict, today: date) -> bool:
        shutdown = model.get("shutdown_date")
        return not (shutdown and date.fromisoformat(shutdown) <= today)

    def _fine_tuned_name(self, job: dict) -> str:
        short = hashlib.sha256(job["id"].encode()).hexdigest()[:8]
        return f"ft:{job['model']}:{self.organization}:{job['_suffix'] or 'ft'}:{short}"

    def _fine_tuned_add(self, job: dict) -> None:
        # Listed like OpenAI lists an organisation's fine-tunes: no date of its own.
        self.model_set(job["fine_tuned_model"], None, owned_by=self.organization)

    def model_get(self, model_id: str) -> dict:
        with self.lock:
            model = self.models.get(model_id)
            if model is None:
                raise _ApiError(404, f"The model '{model_id}' does not exist", code="model_not_found")
            return model

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}{secrets.token_hex(4)}"

    # --- files ----------------------------------------------------------------------------

    def file_create(self, *, filename: str, purpose: str, content: bytes) -> dict:
        with self.lock:
            file_id = self._new_id("file")
            self.files[file_id] = {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(self.now()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "expires_at": None,
                "status_details": None,
            }
            self.file_contents[file_id] = content
            return self.files[file_id]

    # --- jobs -------------------------------------------------------------------------------

    def job_create(self, body: dict) -> dict:
        with self.lock:
            today = self.today()
            if self.last_job_day and today > date.fromisoformat(self.last_job_day):
                raise _ApiError(
                    403, "Your organization can no longer create fine-tuning jobs.", code="fine_tuning_closed"
                )
            model = self.models.get(body.get("model") or "")
            if model is None or not self._trainable(model, today):
                raise _ApiError(
                    400,
                    f"Model {body.get('model')} is not available for fine-tuning or does not exist.",
                    param="model",
                    code="model_not_available",
                )
            training_file = body.get("training_file")
            if training_file not in self.files:
                raise _ApiError(400, f"Invalid file ID: {training_file}", param="training_file", code="invalid_file")
            validation_file = body.get("validation_file")
            if validation_file and validation_file not in self.files:
                raise _ApiError(
                    400, f"Invalid file ID: {validation_file}", param="validation_file", code="invalid_file"
                )
            metadata = body.get("metadata") or {}
            if len(metadata) > 16 or not all(isinstance(v, str) for v in metadata.values()):
                raise _ApiError(400, "metadata: at most 16 string pairs", param="metadata")
            job_id = self._new_id("ftjob")
            hyperparameters = body.get("hyperparameters") or {"n_epochs": 3}
            method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}
            job = {
                "id": job_id,
                "object": "fine_tuning.job",
                "created_at": int(self.now()),
                "error": None,
                "fine_tuned_model": None,
                "finished_at": None,
                "hyperparameters": hyperparameters,
                "model": body.get("model"),
                "organization_id": self.organization,
                "result_files": [],
                "seed": body.get("seed") if body.get("seed") is not None else 42,
                "status": "validating_files",
                "trained_tokens": None,
                "training_file": training_file,
                "validation_file": validation_file,
                "estimated_finish": None,
                "integrations": None,
                "metadata": metadata or None,
                "method": method,
                "_suffix": body.get("suffix") or "",
                "_started": self.now(),
                "_outcome": "succeeded",
                "_cancelled": False,
                "_checkpoints": [],
            }
            self.jobs[job_id] = job
            self.events[job_id] = []
            self._event(job, "Validating training file")
            return job

    def job_get(self, job_id: str) -> dict:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise _ApiError(404, f"Could not find fine-tune: {job_id}", code="fine_tune_not_found")
            self._refresh(job)
            return job

    def job_list(self, *, after: str | None, limit: int, metadata: dict[str, str]) -> tuple[list[dict], bool]:
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: (j["created_at"], j["id"]), reverse=True)
            jobs = [j for j in jobs if all((j["metadata"] or {}).get(k) == v for k, v in metadata.items())]
            if after:
                ids = [j["id"] for j in jobs]
                jobs = jobs[ids.index(after) + 1 :] if after in ids else []
            page = jobs[:limit]
            for job in page:
                self._refresh(job)
            return page, len(jobs) > limit

    def job_cancel(self, job_id: str) -> dict:
        with self.lock:
            job = self.job_get(job_id)
            if job["status"] in TERMINAL:
                raise _ApiError(400, f"Job {job_id} has already {job['status']}.", code="invalid_request")
            job["_cancelled"] = True
            self._refresh(job)
            return job

    def _event(self, job: dict, message: str, level: str = "info") -> None:
        self.events[job["id"]].insert(
            0,
            {
                "id": self._new_id("ftevent"),
                "object": "fine_tuning.job.event",
                "created_at": int(self.now()),
                "level": level,
                "message": message,
                "data": {},
                "type": "message",
            },
        )

    def _refresh(self, job: dict) -> None:
        """Bring a job to the status its age says; forward only."""
        if job["status"] in TERMINAL:
            return
        if job["_cancelled"]:
            self._finish(job, "cancelled")
            return
        elapsed = self.now() - job["_started"]
        d = self.durations
        if elapsed < d.validating:
            return
        if elapsed < d.validating + d.queued:
            self._move(job, "queued", "Job enqueued")
            return
        if elapsed < d.validating + d.queued + d.running:
            if self._move(job, "running", "Fine-tuning job started"):
                job["estimated_finish"] = int(job["_started"] + d.validating + d.queued + d.running)
            return
        self._finish(job, job["_outcome"])

    def _move(self, job: dict, status: str, message: str) -> bool:
        if job["status"] == status:
            return False
        job["status"] = status
        self._event(job, message)
        return True

    def _finish(self, job: dict, outcome: str) -> None:
        job["finished_at"] = int(self.now())
        job["estimated_finish"] = None
        if outcome == "succeeded":
            tokens = max(1, self.file_contents.get(job["training_file"], b"").count(b"\n")) * 1000
            epochs = int((job["hyperparameters"] or {}).get("n_epochs") or 3)
            job["fine_tuned_model"] = self._fine_tuned_name(job)
            self._fine_tuned_add(job)
            job["trained_tokens"] = tokens * epochs
            results = self.file_create(filename="step_metrics.csv", purpose="fine-tune-results", content=b"step\n")
            job["result_files"] = [results["id"]]
            job["_checkpoints"] = [
                {
                    "id": self._new_id("ftckpt"),
                    "object": "fine_tuning.job.checkpoint",
                    "created_at": int(self.now()),
                    "fine_tuned_model_checkpoint": f"{job['fine_tuned_model']}:ckpt-step-{step}",
                    "fine_tuning_job_id": job["id"],
                    "step_number": step,
                    "metrics": {
                        "step": float(step),
                        "train_loss": round(1.2 / (1 + i), 4),
                        "train_mean_token_accuracy": round(0.6 + 0.1 * i, 4),
                        "valid_loss": round(1.3 / (1 + i), 4),
                        "valid_mean_token_accuracy": round(0.55 + 0.1 * i, 4),
                        "full_valid_loss": round(1.3 / (1 + i), 4),
                        "full_valid_mean_token_accuracy": round(0.55 + 0.1 * i, 4),
                    },
                }
                for i, step in enumerate((10 * epochs, 20 * epochs, 30 * epochs))
            ]
            self._event(job, "The job has successfully completed")
        elif outcome == "failed":
            job["error"] = {
                "code": "invalid_training_file",
                "message": "The training file has 3 examples with missing assistant messages.",
                "param": "training_file",
            }
            self._event(job, "Fine-tuning job failed", level="error")
        else:
            self._event(job, "Fine-tuning job cancelled")
        job["status"] = outcome
        self._send_webhook(job)

    # --- webhooks ---------------------------------------------------------------------------

    def sign(self, webhook_id: str, timestamp: int, body: str) -> str:
        secret = self.webhook_secret or ""
        key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
        digest = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()

    def webhook_request(self, job: dict, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers OpenAI would send for a job that reached a terminal status."""
        webhook_id = "wh_" + secrets.token_hex(12)
        timestamp = int(time.time()) if timestamp is None else timestamp
        event_type = f"fine_tuning.job.{job['status']}"
        body = json.dumps(
            {
                "id": "evt_" + secrets.token_hex(12),
                "object": "event",
                "created_at": timestamp,
                "type": event_type,
                "data": {"id": job["id"]},
            }
        )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(webhook_id, timestamp, body),
        }
        return body.encode(), headers

    def _send_webhook(self, job: dict) -> None:
        if not (self.webhook_url and self.webhook_secret):
            return
        body, headers = self.webhook_request(job)
        self.webhooks_sent.append({"job": job["id"], "status": job["status"]})

        def deliver() -> None:
            request = urllib.request.Request(self.webhook_url, data=body, headers=headers, method="POST")  # noqa: S310
            try:
                urllib.request.urlopen(request, timeout=5).close()  # noqa: S310  (the configured loopback URL)
            except Exception as exc:  # a fake: delivery problems are only logged
                logger.warning("fake OpenAI: webhook to %s failed: %s", self.webhook_url, exc)

        threading.Thread(target=deliver, daemon=True).start()

    # --- faults -------------------------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path) and fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
            return None

    def count(self, route: str) -> None:
        with self.lock:
            self.requests[route] = self.requests.get(route, 0) + 1


class _ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    state: FakeOpenAI  # set on the subclass made by serve()
    protocol_version = "HTTP/1.1"
    API_PREFIXES: tuple[str, ...] = ("/v1/",)  # what faults and authentication apply to
    NAME = "OpenAI"

    ROUTES = [
        ("POST", re.compile(r"^/v1/files$"), "file_create"),
        ("GET", re.compile(r"^/v1/files/(?P<file_id>[^/]+)$"), "file_get"),
        ("POST", re.compile(r"^/v1/fine_tuning/jobs$"), "job_create"),
        ("GET", re.compile(r"^/v1/fine_tuning/jobs$"), "job_list"),
        ("GET", re.compile(r"^/v1/fine_tuning/jobs/(?P<job_id>[^/]+)$"), "job_get"),
        ("POST", re.compile(r"^/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/cancel$"), "job_cancel"),
        ("GET", re.compile(r"^/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/events$"), "job_events"),
        ("GET", re.compile(r"^/v1/fine_tuning/jobs/(?P<job_id>[^/]+)/checkpoints$"), "job_checkpoints"),
        ("GET", re.compile(r"^/v1/models$"), "model_list"),
        ("GET", re.compile(r"^/v1/models/(?P<model_id>[^/]+)$"), "model_get"),
        ("POST", re.compile(r"^/_fake/advance$"), "fake_advance"),
        ("POST", re.compile(r"^/_fake/models$"), "fake_model"),
        ("POST", re.compile(r"^/_fake/faults$"), "fake_fault"),
        ("POST", re.compile(r"^/_fake/jobs/(?P<job_id>[^/]+)/outcome$"), "fake_outcome"),
        ("GET", re.compile(r"^/_fake/stats$"), "fake_stats"),
    ]

    def log_message(self, format, *args):
        logger.debug(f"fake {self.NAME}: " + format, *args)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _is_api(self, path: str) -> bool:
        return path.startswith(self.API_PREFIXES)

    def _refusal(self, path: str) -> _ApiError | None:
        """Why an API request is refused before it reaches its route (None: it is not)."""
        if self.headers.get("Authorization") != f"Bearer {self.state.api_key}":
            return _ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
        return None

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""
        self._query = parse_qsl(url.query)
        fault = self.state.take_fault(url.path) if self._is_api(url.path) else None
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault.status:
                headers = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
                message = "Rate limit reached" if fault.status == 429 else "The server had an error"
                self._send(fault.status, _ApiError(fault.status, message).body(), headers)
                return
        route = next(
            ((name, m) for verb, pattern, name in self.ROUTES if verb == method and (m := pattern.match(url.path))),
            None,
        )
        if route is None:
            self._send(404, _ApiError(404, f"Unknown path {url.path}").body())
            return
        name, match = route
        refusal = self._refusal(url.path) if self._is_api(url.path) else None
        if refusal is not None:
            self._send(refusal.status, refusal.body())
            return
        self.state.count(name)
        try:
            status, payload = getattr(self, name)(**match.groupdict())
        except _ApiError as error:
            self._send(error.status, error.body())
            return
        self._send(status, payload)

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self) -> dict:
        try:
            return json.loads(self._body or b"{}")
        except ValueError:
            raise _ApiError(400, "Invalid JSON body") from None

    # --- OpenAI routes ----------------------------------------------------------------------

    def file_create(self):
        content_type = self.headers.get("Content-Type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self._body
        )
        fields, upload = {}, None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                upload = (part.get_filename(), part.get_payload(decode=True) or b"")
            elif name:
                fields[name] = part.get_content().strip()
        if upload is None:
            raise _ApiError(400, "No file uploaded", param="file")
        return 200, self.state.file_create(filename=upload[0], purpose=fields.get("purpose", ""), content=upload[1])

    def file_get(self, file_id):
        if file_id not in self.state.files:
            raise _ApiError(404, f"No such File object: {file_id}")
        return 200, self.state.files[file_id]

    def job_create(self):
        return 200, _public(self.state.job_create(self._json()))

    def job_get(self, job_id):
        return 200, _public(self.state.job_get(job_id))

    def job_list(self):
        after, limit, metadata = None, 20, {}
        for key, value in self._query:
            if key == "after":
                after = value
            elif key == "limit":
                limit = max(1, min(100, int(value)))
            elif key.startswith("metadata[") and key.endswith("]"):
                metadata[key[9:-1]] = value
        page, has_more = self.state.job_list(after=after, limit=limit, metadata=metadata)
        return 200, {"object": "list", "data": [_public(j) for j in page], "has_more": has_more}

    def job_cancel(self, job_id):
        return 200, _public(self.state.job_cancel(job_id))

    def job_events(self, job_id):
        self.state.job_get(job_id)
        return 200, {"object": "list", "data": self.state.events[job_id], "has_more": False}

    def job_checkpoints(self, job_id):
        checkpoints = sorted(self.state.job_get(job_id)["_checkpoints"], key=lambda c: -c["step_number"])
        first = checkpoints[0]["id"] if checkpoints else None
        last = checkpoints[-1]["id"] if checkpoints else None
        return 200, {"object": "list", "data": checkpoints, "has_more": False, "first_id": first, "last_id": last}

    def model_list(self):
        with self.state.lock:
            models = sorted(self.state.models.values(), key=lambda m: m["id"])
            return 200, {"object": "list", "data": [_public(m) for m in models]}

    def model_get(self, model_id):
        return 200, _public(self.state.model_get(unquote(model_id)))

    # --- control routes ------------------------------------------------------------------------

    def fake_model(self):
        body = self._json()
        return 200, self.state.model_set(body["id"], body.get("shutdown_date"))

    def fake_advance(self):
        self.state.advance(float(self._json().get("seconds", 0)))
        return 200, {"offset": self.state.offset}

    def fake_fault(self):
        self.state.inject(Fault(**self._json()))
        return 200, {"faults": len(self.state.faults)}

    def fake_outcome(self, job_id):
        self.state.set_outcome(job_id, self._json()["outcome"])
        return 200, {"id": job_id}

    def fake_stats(self):
        return 200, {"requests": dict(self.state.requests), "jobs": len(self.state.jobs)}


def serve(
    state: FakeOpenAI, host: str = "127.0.0.1", port: int = 0, *, handler: type[_Handler] = _Handler
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve `state` on loopback in a background thread; port 0 picks a free port."""
    handler = type(f"Fake{handler.NAME}Handler", (handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
    )
    thread.start()
    return server, thread
