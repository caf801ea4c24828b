"""OpenAI's webhooks: verified, never replayed, and answered by a sync of that one job."""

from __future__ import annotations

import json
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
    # An hour off, not just past the SDK's 300 s tolerance: a second ticking over cannot make it pass.
    stale = int(time.time()) - 3600 if tamper == "stale" else None
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


def test_it_answers_a_replayed_webhook_as_received_and_does_nothing(
    fake_openai, finished_job, django_capture_on_commit_callbacks
):
    # The provider retries anything but a 2xx: a 400 would make it deliver the duplicate again and again.
    _, job = finished_job
    body, headers = fake_openai.webhook_request(job)
    post(body, headers)

    with django_capture_on_commit_callbacks() as callbacks:
        replay = post(body, headers)

    assert replay.status_code == 200
    assert replay.json() == {"received": headers["webhook-id"], "duplicate": True}
    assert callbacks == []
    assert WebhookReceipt.objects.count() == 1


def signed(fake_openai, *, webhook_id: str, job_id: str) -> tuple[bytes, dict]:
    """A webhook with a valid signature over whatever ids it is given."""
    timestamp = int(time.time())
    body = json.dumps(
        {"id": "evt_1", "object": "event", "created_at": timestamp, "type": "fine_tuning.job.succeeded"}
        | {"data": {"id": job_id}}
    )
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": fake_openai.sign(webhook_id, timestamp, body),
    }
    return body.encode(), headers


@pytest.mark.parametrize(
    ("webhook_id", "job_id"),
    [
        ("wh_" + "a" * 98, "ftjob-1"),  # 101 characters: longer than the receipt's column
        ("wh_1", "ftjob-" + "a" * 95),
        ("wh_1", "ftjob-1\u0000"),
        ("wh_1", "ftjob-1\n"),
        ("wh_\x01", "ftjob-1"),
        ("wh_1", ""),
    ],
)
def test_it_refuses_a_signed_webhook_whose_ids_cannot_be_stored(
    fake_openai, db, django_capture_on_commit_callbacks, webhook_id, job_id
):
    body, headers = signed(fake_openai, webhook_id=webhook_id, job_id=job_id)

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(body, headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_webhook"
    assert callbacks == []
    assert not WebhookReceipt.objects.exists()


def test_it_refuses_a_signed_webhook_nested_too_deeply(fake_openai, db):
    timestamp = int(time.time())
    body = '{"type": "fine_tuning.job.succeeded", "data": ' + "[" * 5000 + "]" * 5000 + "}"
    headers = {
        "webhook-id": "wh_1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": fake_openai.sign("wh_1", timestamp, body),
    }

    response = post(body.encode(), headers)

    assert response.status_code == 400
    assert not WebhookReceipt.objects.exists()


def test_it_answers_413_to_a_webhook_over_the_body_limit(fake_openai, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body, headers = signed(fake_openai, webhook_id="wh_1", job_id="ftjob-" + "a" * 2000)

    response = post(body, headers)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not WebhookReceipt.objects.exists()


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
