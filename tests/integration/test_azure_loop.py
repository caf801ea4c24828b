"""The Azure loop on real services: PostgreSQL, a Celery worker and beat on Redis, the Azure OpenAI fake.

An engineer registers a version of a model on Azure and launches it over HTTP; beat's ticks,
run by the worker, bring it to `evaluating` with its checkpoints (Azure sends no webhooks:
only the tick sees a job end). Then the fine-tuned model is deployed and the ticks follow
the deployment to `succeeded`.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from core.roles import Role
from core.services import token_issue
from providers.fake_openai import Durations
from registry import services
from registry.models import Checkpoint, JobStatus, ModelVersion, ServingState, VersionStatus
from tests.conftest import make_user, model_payload
from tests.fakes import AZURE_CANARY_KEY, AZURE_CANARY_TOKEN, azure_fake_running
from tests.integration.conftest import CeleryProcesses
from tests.integration.test_fine_tune_loop import _launch_over_http, _transition_rows, _wait

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def azure(settings):
    with azure_fake_running(
        settings, durations=Durations(validating=1, queued=1, running=3), deploy_seconds=1
    ) as state:
        yield state


@pytest.fixture
def celery_on_azure(transactional_db, azure):
    """A worker and beat against the test database, Redis and the Azure fake (OpenAI not configured)."""
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    processes = CeleryProcesses(
        "azure-loop",
        OPENAI_API_KEY="",
        AZURE_OPENAI_ENDPOINT=settings.AZURE_OPENAI_ENDPOINT,
        AZURE_OPENAI_API_KEY=AZURE_CANARY_KEY,
        AZURE_MANAGEMENT_ENDPOINT=settings.AZURE_MANAGEMENT_ENDPOINT,
        AZURE_MANAGEMENT_TOKEN=AZURE_CANARY_TOKEN,
        AZURE_SUBSCRIPTION_ID=azure.subscription_id,
        AZURE_RESOURCE_GROUP=azure.resource_group,
        AZURE_OPENAI_RESOURCE_NAME=azure.resource_name,
        OPENAI_SYNC_INTERVAL_SECONDS="5",
        OPENAI_SYNC_BUDGET_SECONDS="4",
        OPENAI_TIMEOUT_SECONDS="2",
        CELERY_VISIBILITY_TIMEOUT="60",
    )
    processes.worker()
    processes.beat()
    yield
    processes.stop()


def test_an_azure_version_trains_syncs_and_deploys_through_a_worker(live_server, azure, celery_on_azure):
    engineer = make_user("azure-loop-engineer", Role.ENGINEER)
    model = services.model_create(actor=engineer, **model_payload(provider="azure"))
    token = token_issue(user=engineer, name="azure-loop", issued_by=engineer, via="tests").secret

    job_id = _launch_over_http(live_server, token, model.name, "v1")

    assert job_id in azure.jobs
    version = _wait(
        lambda: ModelVersion.objects.filter(provider_job_id=job_id, status=VersionStatus.EVALUATING).first(),
        seconds=60,
        what="the Azure version to reach evaluating",
    )
    assert (version.provider, version.job_status) == ("azure", JobStatus.SUCCEEDED)
    assert version.fine_tuned_model.startswith(f"{model.base_model}.ft-")
    assert Checkpoint.objects.filter(version=version).count() == 3
    reasons = _transition_rows(job_id)
    assert len(reasons) == len(set(reasons))
    assert reasons[-1].startswith(f"Azure OpenAI job {job_id} ") and reasons[-1].endswith("-> succeeded")

    deploy = urllib.request.Request(
        f"{live_server.url}/api/v1/models/{model.name}/versions/v1/serving-deployment/",
        data=json.dumps({"name": "support-v1"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(deploy, timeout=20) as response:
        assert json.loads(response.read())["serving_deployment"] == {"name": "support-v1", "state": "creating"}
    _wait(
        lambda: ModelVersion.objects.filter(pk=version.pk, serving_deployment_state=ServingState.SUCCEEDED).exists(),
        seconds=60,
        what="the deployment to succeed",
    )
