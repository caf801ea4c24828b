"""Shared personas and helpers: an engineer, a compliance officer, an executive, an outsider."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from config.celery import app as celery_app
from core.roles import Role
from core.services import token_issue
from providers import openai_api
from providers.fake_openai import Durations, FakeOpenAI, serve
from registry import services
from tests.fakes import azure_fake_running

_counter = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    integration_dir = Path(__file__).parent / "integration"
    for item in items:
        if integration_dir in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _own_audit_directories(settings, tmp_path):
    """Each test its own checkpoint and export directories: a checkpoint left by another test
    names a link of that test's (rolled back) chain, which the verifier here would call missing."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    settings.AUDIT_EXPORT_DIR = tmp_path / "audit-exports"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Failed-authentication counters live in the cache: no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_user(username: str, role: str | None = None, **extra):
    user = get_user_model().objects.create_user(username=username, password="pw-for-tests", **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def engineer(db):
    return make_user("erin-engineer", Role.ENGINEER)


@pytest.fixture
def other_engineer(db):
    return make_user("eli-engineer", Role.ENGINEER)


@pytest.fixture
def compliance(db):
    return make_user("carla-compliance", Role.COMPLIANCE, is_staff=True)


@pytest.fixture
def executive(db):
    return make_user("ed-executive", Role.EXECUTIVE)


@pytest.fixture
def outsider(db):
    return make_user("olga-outsider")


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        secret = token_issue(user=user, name="tests", issued_by=user, via="tests").secret
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api():
    return client_for


def model_payload(**overrides) -> dict:
    n = next(_counter)
    return {
        "name": f"support-{n}",
        "display_name": f"Support assistant {n}",
        "purpose": "Answers billing questions.",
        "base_model": "gpt-4.1-nano-2025-04-14",
        **overrides,
    }


def evaluation_payload(**overrides) -> dict:
    return {
        "suite": "golden-v1",
        "golden_set_sha256": sha("golden-v1"),
        "baseline_version": "gpt-4.1-nano-2025-04-14",
        "metrics": {"win_rate": 0.61, "refusal_rate": 0.04, "p95_latency_ms": 950, "golden_score": 0.88},
        "per_intent": {"billing": 0.64, "returns": 0.58},
        **overrides,
    }


def version_payload(**overrides) -> dict:
    n = next(_counter)
    return {
        "version": f"v{n}",
        "training_file_sha256": sha(f"train-{n}"),
        "validation_file_sha256": sha(f"valid-{n}"),
        "changelog": "Added 200 returns chats; expect fewer wrong refund promises.",
        **overrides,
    }


@pytest.fixture
def registered_model(engineer):
    data = model_payload()
    return services.model_create(actor=engineer, **data)


@pytest.fixture
def registered_version(registered_model, engineer):
    data = version_payload()
    return services.version_register(model=registered_model, actor=engineer, evaluations=[evaluation_payload()], **data)


# --- The fake OpenAI server ----------------------------------------------------------

CANARY_KEY = "sk-canary-9f8e7d6c5b4a-must-never-leak"
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA="


@pytest.fixture
def fake_openai(settings):
    """The fake OpenAI server on a free loopback port, with Fineprint's settings pointed at it."""
    # No closing day: tests that are not about it must not depend on today's date.
    state = FakeOpenAI(
        last_job_day=None,
        api_key=CANARY_KEY,
        webhook_secret=WEBHOOK_SECRET,
        durations=Durations(validating=10, queued=10, running=100),
    )
    server, thread = serve(state)
    settings.OPENAI_API_KEY = CANARY_KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    settings.OPENAI_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.OPENAI_TIMEOUT_SECONDS = 1
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def fake_azure(settings):
    """The Azure OpenAI fake (data plane and control plane), with Fineprint's Azure settings pointed at it."""
    with azure_fake_running(settings) as state:
        yield state


TRAINING = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 3


def launch(metadata=None) -> openai_api.Job:
    file_id = openai_api.file_upload(filename="train.jsonl", content=TRAINING)
    return openai_api.job_create(
        model="gpt-4.1-nano-2025-04-14", training_file=file_id, suffix="support-v3", metadata=metadata, seed=7
    )


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process (unit tests; the integration suite uses a real worker)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
