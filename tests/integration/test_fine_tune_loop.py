"""The whole loop on real services: PostgreSQL, a Celery worker and beat on Redis, the fake OpenAI server.

An engineer registers and launches a version over HTTP; beat's ticks, run by
the worker, bring it to `evaluating` with its checkpoints. Then a worker is
killed with SIGKILL in the middle of a tick: after a restart, nothing is lost
and nothing is recorded twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from core.roles import Role
from core.services import token_issue
from providers.fake_openai import Durations, FakeOpenAI, Fault, serve
from registry import services
from registry.models import Checkpoint, JobStatus, ModelVersion, VersionStatus
from tests.conftest import make_user, model_payload
from tests.integration.conftest import CeleryProcesses

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-integration-" + uuid.uuid4().hex


@pytest.fixture
def fake(settings):
    state = FakeOpenAI(api_key=KEY, last_job_day=None, durations=Durations(validating=1, queued=1, running=3))
    server, _ = serve(state)
    settings.OPENAI_API_KEY = KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def celery_processes(transactional_db, fake):
    """Start (and restart) a worker and beat against the test database, Redis and the fake server."""
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    processes = CeleryProcesses(
        "integration",
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=settings.OPENAI_BASE_URL,
        OPENAI_SYNC_INTERVAL_SECONDS="5",
        OPENAI_SYNC_BUDGET_SECONDS="4",
        OPENAI_TIMEOUT_SECONDS="2",
        # Short, but no shorter than the longest a task may run with the budgets above (48 s):
        # the settings refuse a timeout that would hand a running tick to a second worker.
        CELERY_VISIBILITY_TIMEOUT="60",
    )
    yield processes.worker, processes.beat
    processes.stop()


def _wait(predicate, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _launch_over_http(live_server, token: str, model_name: str, label: str) -> str:
    data = b'{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n' * 5
    register = urllib.request.Request(
        f"{live_server.url}/api/v1/models/{model_name}/versions/",
        data=json.dumps(
            {
                "version": label,
                "training_file_sha256": hashlib.sha256(data).hexdigest(),
                "changelog": "Integration run.",
            }
        ).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    assert urllib.request.urlopen(register, timeout=10).status == 201
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="training_file"; filename="t.jsonl"\r\n'
            f"Content-Type: application/jsonl\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    launch = urllib.request.Request(
        f"{live_server.url}/api/v1/models/{model_name}/versions/{label}/fine-tune/",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(launch, timeout=20) as response:
        assert response.status == 201
        return json.loads(response.read())["provider_job_id"]


def _transition_rows(job_id: str) -> list[str]:
    version = ModelVersion.objects.get(provider_job_id=job_id)
    return [r.history_change_reason for r in version.history.all() if "->" in (r.history_change_reason or "")]


def test_a_launched_version_reaches_evaluating_with_its_checkpoints(live_server, fake, celery_processes):
    start_worker, start_beat = celery_processes
    engineer = make_user("loop-engineer", Role.ENGINEER)
    model = services.model_create(actor=engineer, **model_payload())
    token = token_issue(user=engineer, name="loop", issued_by=engineer, via="tests").secret
    start_worker()
    start_beat()

    job_id = _launch_over_http(live_server, token, model.name, "v1")

    version = _wait(
        lambda: ModelVersion.objects.filter(provider_job_id=job_id, status=VersionStatus.EVALUATING).first(),
        seconds=60,
        what="the version to reach evaluating",
    )
    assert version.job_status == JobStatus.SUCCEEDED
    assert version.fine_tuned_model.startswith("ft:")
    assert Checkpoint.objects.filter(version=version).count() == 3
    reasons = _transition_rows(job_id)
    assert len(reasons) == len(set(reasons))  # no transition recorded twice
    assert reasons[-1].endswith("-> succeeded")
    assert {r.history_user.username for r in version.history.all()[:1]} == {settings.FINEPRINT_SERVICE_USERNAME}


def test_a_worker_killed_mid_tick_loses_and_doubles_nothing(live_server, fake, celery_processes):
    start_worker, start_beat = celery_processes
    engineer = make_user("kill-engineer", Role.ENGINEER)
    model = services.model_create(actor=engineer, **model_payload())
    token = token_issue(user=engineer, name="kill", issued_by=engineer, via="tests").secret
    job_ids = [_launch_over_http(live_server, token, model.name, f"v{i}") for i in range(1, 4)]
    fake.advance(10)  # every job has finished at the provider
    # The next tick hangs in its first provider call...
    fake.inject(Fault(delay=3.0, path="/v1/fine_tuning/jobs", count=1))
    worker = start_worker()
    start_beat()
    _wait(lambda: not fake.faults, seconds=30, what="a tick to reach the provider")

    os.killpg(worker.pid, signal.SIGKILL)  # ...and its worker dies in the middle of it.
    worker.wait(timeout=10)
    start_worker()

    _wait(
        lambda: ModelVersion.objects.filter(provider_job_id__in=job_ids, status=VersionStatus.EVALUATING).count() == 3,
        seconds=90,
        what="every version to reach evaluating after the restart",
    )
    for job_id in job_ids:
        reasons = _transition_rows(job_id)
        assert len(reasons) == len(set(reasons)), reasons
        assert Checkpoint.objects.filter(version__provider_job_id=job_id).count() == 3
