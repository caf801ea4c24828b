"""Shared personas and helpers: an engineer, a compliance officer, an executive, an outsider."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from core.roles import Role
from core.services import token_issue
from registry import services

_counter = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    integration_dir = Path(__file__).parent / "integration"
    for item in items:
        if integration_dir in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


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
        secret = token_issue(user=user, name="tests", actor=None).secret
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
        "base_model": "gpt-3.5-turbo-0125",
        **overrides,
    }


def evaluation_payload(**overrides) -> dict:
    return {
        "suite": "golden-v1",
        "golden_set_sha256": sha("golden-v1"),
        "baseline_version": "gpt-3.5-turbo-0125",
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
