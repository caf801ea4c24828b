"""The provider module against the fake server, through the real SDK and real HTTP."""

from __future__ import annotations

import time

import pytest

from providers import openai_api
from providers.fake_openai import Fault
from tests.conftest import CANARY_KEY, TRAINING
from tests.conftest import launch as _launch


def test_it_uploads_a_file_and_starts_a_job(fake_openai):
    job = _launch(metadata={"fineprint_version": "support:v3"})

    assert job.status == "validating_files"
    assert job.id.startswith("ftjob-")
    assert job.metadata == {"fineprint_version": "support:v3"}
    assert job.seed == 7
    assert fake_openai.file_contents[job.training_file] == TRAINING


def test_it_follows_a_job_to_success_with_checkpoints(fake_openai):
    job = _launch()

    statuses = []
    for seconds in (10, 10, 100):
        fake_openai.advance(seconds)
        statuses.append(openai_api.job_retrieve(job.id).status)
    done = openai_api.job_retrieve(job.id)
    checkpoints = openai_api.job_checkpoints(job.id)

    assert statuses == ["queued", "running", "succeeded"]
    assert done.fine_tuned_model.startswith("ft:gpt-4.1-nano-2025-04-14:fake-org:support-v3:")
    assert done.trained_tokens > 0
    assert done.finished_at is not None
    assert done.result_files
    assert [c.step_number for c in checkpoints] == [90, 60, 30]
    assert {"train_loss", "valid_loss", "train_mean_token_accuracy"} <= set(checkpoints[0].metrics)


def test_it_reports_a_failed_job_with_its_error(fake_openai):
    job = _launch()
    fake_openai.set_outcome(job.id, "failed")
    fake_openai.advance(200)

    failed = openai_api.job_retrieve(job.id)

    assert failed.status == "failed"
    assert failed.error.code == "invalid_training_file"
    assert "assistant" in failed.error.message


def test_it_cancels_a_job(fake_openai):
    job = _launch()

    assert openai_api.job_cancel(job.id).status == "cancelled"
    with pytest.raises(openai_api.ProviderRejected):
        openai_api.job_cancel(job.id)


def test_it_pages_through_jobs_filtered_by_metadata(fake_openai):
    ours = [_launch(metadata={"fineprint": "yes"}).id for _ in range(5)]
    _launch(metadata={"fineprint": "no"})

    seen, after = [], None
    while True:
        page, has_more = openai_api.jobs_page(metadata={"fineprint": "yes"}, after=after, limit=2)
        seen.extend(job.id for job in page)
        if not has_more:
            break
        after = page[-1].id

    assert sorted(seen) == sorted(ours)
    assert fake_openai.requests["job_list"] == 3


def test_it_says_a_rate_limit_can_be_retried_and_when(fake_openai):
    fake_openai.inject(Fault(status=429, retry_after=1.5))

    with pytest.raises(openai_api.ProviderUnavailable) as raised:
        openai_api.jobs_page()

    assert raised.value.retryable
    assert raised.value.status == 429
    assert raised.value.retry_after == 1.5
    assert openai_api.jobs_page() == ([], False)  # the next call goes through


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(status=500), None),
        (Fault(status=503), None),
        (Fault(delay=1.5), "timeout"),
        (Fault(drop=True), "connection_error"),
    ],
)
def test_it_says_server_trouble_can_be_retried(fake_openai, fault, code):
    fake_openai.inject(fault)
    started = time.monotonic()

    with pytest.raises(openai_api.ProviderUnavailable) as raised:
        openai_api.jobs_page()

    assert raised.value.retryable
    if code:
        assert raised.value.code == code
    assert time.monotonic() - started < 10  # our timeout, no SDK retries


def test_it_says_an_unknown_job_cannot_be_retried(fake_openai):
    with pytest.raises(openai_api.ProviderRejected) as raised:
        openai_api.job_retrieve("ftjob-missing")

    assert not raised.value.retryable
    assert raised.value.status == 404


def test_it_never_lets_the_key_into_an_error(fake_openai, settings):
    settings.OPENAI_API_KEY = CANARY_KEY + "-wrong"

    with pytest.raises(openai_api.ProviderRejected) as raised:
        openai_api.jobs_page()

    assert raised.value.status == 401
    assert "canary" not in str(raised.value) and "canary" not in raised.value.message
    assert "canary" not in repr(raised.value.__dict__)


def test_it_refuses_to_call_without_a_key(settings):
    settings.OPENAI_API_KEY = ""

    with pytest.raises(openai_api.ProviderRejected, match="OPENAI_API_KEY"):
        openai_api.jobs_page()


def test_it_unwraps_a_signed_webhook(fake_openai):
    job = _launch()
    fake_openai.advance(200)
    body, headers = fake_openai.webhook_request(fake_openai.jobs[job.id])

    event = openai_api.webhook_unwrap(body, headers)

    assert (event.type, event.job_id, event.webhook_id) == ("fine_tuning.job.succeeded", job.id, headers["webhook-id"])


@pytest.mark.parametrize("tamper", ["body", "signature", "stale", "future"])
def test_it_rejects_a_webhook_that_does_not_check_out(fake_openai, tamper):
    job = _launch()
    fake_openai.advance(200)
    # An hour off, not one second past the SDK's 300 s tolerance: 301 failed whenever a second
    # ticked over between building the timestamp and the SDK's check.
    timestamp = {"stale": int(time.time()) - 3600, "future": int(time.time()) + 3600}.get(tamper)
    body, headers = fake_openai.webhook_request(fake_openai.jobs[job.id], timestamp=timestamp)
    if tamper == "body":
        body = body.replace(job.id.encode(), b"ftjob-someone-else")
    if tamper == "signature":
        headers["webhook-signature"] = "v1,AAAA"

    with pytest.raises(openai_api.WebhookRejected):
        openai_api.webhook_unwrap(body, headers)
