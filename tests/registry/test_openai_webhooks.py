"""OpenAI's webhooks: verified, never replayed, and answered by a sync of that one job."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from providers.models import WebhookReceipt
from registry.models import JobStatus, ModelVersion, VersionStatus
from registry.tasks import fine_tune_job_sync
from tests.conftest import launch, version_payload

URL = "/webhooks/openai/"


@pytest.fixture
def finished_job(fake_openai, engineer, registered_model):
    from registry import services

    job = launch()
    version = services.version_register(
        model=registered_model, actor=engineer, **version_payload(provider_job_id=job.id)
    )
    fake_openai.advance(200)
    return version, fake_openai.jobs[job.id]


def post(body: bytes, headers: dict):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    return Client().post(URL, body, content_type="application/json", **extra)


def test_it_syncs_the_job_a_good_webhook_names(
    fake_openai, finished_job, eager_celery, django_capture_on_commit_callbacks
):
    version, job = finished_job
    body, headers = fake_openai.webhook_request(job)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(body, headers)

    assert response.status_code == 200
    assert len(callbacks) == 1
    synced = ModelVersion.objects.get(pk=version.pk)
    assert (synced.job_status, synced.status) == (JobStatus.SUCCEEDED, VersionStatus.EVALUATING)
    assert WebhookReceipt.objects.get().job_id == job["id"]


@pytest.mark.parametrize("tamper", ["signature", "stale", "body", "missing_headers"])
def test_it_rejects_a_webhook_that_does_not_check_out_and_enqueues_nothing(
    fake_openai, finished_job, django_capture_on_commit_callbacks, tamper
):
    _, job = finished_job
    stale = int(time.time()) - 600 if tamper == "stale" else None
    body, headers = fake_openai.webhook_request(job, timestamp=stale)
    if tamper == "signature":
        headers["webhook-signature"] = "v1,bm90IHRoZSByaWdodCBzaWduYXR1cmU="
    if tamper == "body":
        body = body.replace(b"succeeded", b"failed")
    if tamper == "missing_headers":
        headers = {}

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(body, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook"
    assert callbacks == []
    assert not WebhookReceipt.objects.exists()


def test_it_refuses_a_replayed_webhook(fake_openai, finished_job, django_capture_on_commit_callbacks):
    _, job = finished_job
    body, headers = fake_openai.webhook_request(job)
    post(body, headers)

    with django_capture_on_commit_callbacks() as callbacks:
        replay = post(body, headers)

    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "replayed_webhook"
    assert callbacks == []
    assert WebhookReceipt.objects.count() == 1


def test_it_refuses_anything_but_post(db):
    assert Client().get(URL).status_code == 405


def test_a_sync_of_one_job_is_safe_to_run_twice(fake_openai, finished_job):
    version, job = finished_job

    assert fine_tune_job_sync(job["id"]) is True
    rows = version.history.count()
    assert fine_tune_job_sync(job["id"]) is False
    assert version.history.count() == rows


def test_a_sync_of_an_unknown_job_changes_nothing(db, fake_openai):
    assert fine_tune_job_sync("ftjob-not-ours") is False
