"""Versions follow their fine-tune jobs at the (fake) provider, through the real SDK."""

from __future__ import annotations

import pytest
from django.conf import settings

from core.audit import Source, audit_source
from core.leases import lease_claim
from providers import openai_api
from providers.fake_openai import Fault
from registry import fine_tuning, services
from registry.models import Checkpoint, JobStatus, ModelVersion, VersionStatus
from tests.conftest import launch, version_payload


class FakeTime:
    """A monotonic clock that only moves when the tick sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


def tick(fake_time, budget: float = 30):
    with audit_source(Source.TASK):
        return fine_tuning.jobs_sync_tick(budget_seconds=budget, clock=fake_time.clock, sleep=fake_time.sleep)


def version_with_job(model, engineer, *, ours: bool = True) -> ModelVersion:
    metadata = {fine_tuning.METADATA_KEY: settings.FINEPRINT_INSTANCE} if ours else None
    job = launch(metadata=metadata)
    return services.version_register(model=model, actor=engineer, **version_payload(provider_job_id=job.id))


def fresh(version: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.get(pk=version.pk)


def test_it_follows_a_job_to_success_one_history_row_per_change(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)

    seen = []
    for seconds in (0, 10, 10, 100):
        fake_openai.advance(seconds)
        tick(fake_time)
        seen.append((fresh(version).job_status, fresh(version).status))

    assert seen == [
        (JobStatus.VALIDATING_FILES, VersionStatus.TRAINING),
        (JobStatus.QUEUED, VersionStatus.TRAINING),
        (JobStatus.RUNNING, VersionStatus.TRAINING),
        (JobStatus.SUCCEEDED, VersionStatus.EVALUATING),
    ]
    done = fresh(version)
    assert done.fine_tuned_model.startswith("ft:gpt-4.1-nano-2025-04-14:fake-org:")
    assert done.trained_tokens > 0
    assert done.job_finished_at is not None
    assert done.result_files
    assert done.hyperparameters == {"n_epochs": 3}
    assert [c.step_number for c in Checkpoint.objects.filter(version=version)] == [90, 60, 30]
    rows = list(version.history.order_by("history_date", "history_id"))
    assert len(rows) == 1 + 4  # registered, then one per transition
    assert [r.history_change_reason for r in rows[1:]] == [
        f"OpenAI job {version.provider_job_id} registered -> validating_files",
        f"OpenAI job {version.provider_job_id} validating_files -> queued",
        f"OpenAI job {version.provider_job_id} queued -> running",
        f"OpenAI job {version.provider_job_id} running -> succeeded",
    ]
    assert {(r.history_user.username, r.history_source) for r in rows[1:]} == {
        (settings.FINEPRINT_SERVICE_USERNAME, Source.TASK)
    }


def test_it_records_a_failed_job_with_its_error(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    fake_openai.set_outcome(version.provider_job_id, "failed")
    fake_openai.advance(200)

    tick(fake_time)

    failed = fresh(version)
    assert (failed.job_status, failed.status) == (JobStatus.FAILED, VersionStatus.FAILED)
    assert failed.job_error_code == "invalid_training_file"
    assert "assistant messages" in failed.job_error_message
    assert not Checkpoint.objects.exists()


def test_it_records_a_cancelled_job(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    openai_api.job_cancel(version.provider_job_id)

    tick(fake_time)

    assert (fresh(version).job_status, fresh(version).status) == (JobStatus.CANCELLED, VersionStatus.CANCELLED)


def test_it_changes_nothing_on_a_repeated_tick_or_a_stale_answer(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    fake_openai.advance(25)
    tick(fake_time)
    rows = version.history.count()
    stale = openai_api.Job(**{**openai_api.job_retrieve(version.provider_job_id).__dict__, "status": "queued"})

    tick(fake_time)
    changed = fine_tuning.version_job_apply(version_id=version.pk, job=stale)

    assert not changed
    assert fresh(version).job_status == JobStatus.RUNNING
    assert version.history.count() == rows


def test_it_never_moves_a_finished_job(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    fake_openai.advance(200)
    tick(fake_time)
    running = openai_api.Job(**{**openai_api.job_retrieve(version.provider_job_id).__dict__, "status": "running"})

    assert not fine_tuning.version_job_apply(version_id=version.pk, job=running)
    assert fresh(version).job_status == JobStatus.SUCCEEDED


def test_it_waits_out_a_rate_limit_within_its_budget(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    fake_openai.inject(Fault(status=429, retry_after=2, count=2))

    report = tick(fake_time, budget=30)

    assert fake_time.slept == [2.0, 2.0]
    assert report.changed == 1
    assert fresh(version).job_status == JobStatus.VALIDATING_FILES


def test_it_leaves_the_rest_for_the_next_tick_when_the_wait_exceeds_the_budget(
    fake_openai, fake_time, engineer, registered_model
):
    version = version_with_job(registered_model, engineer)
    fake_openai.inject(Fault(status=429, retry_after=60))

    report = tick(fake_time, budget=30)

    assert report.changed == 0
    assert fake_time.slept == []
    assert "exceeds the budget" in report.notes[0]
    assert fresh(version).job_status == ""
    assert tick(fake_time).changed == 1  # the next tick catches up


def test_it_retries_server_errors_within_the_budget(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    fake_openai.inject(Fault(status=500, count=2))

    report = tick(fake_time)

    assert report.list_calls == 3
    assert fresh(version).job_status == JobStatus.VALIDATING_FILES


def test_it_records_a_job_the_provider_does_not_know_and_carries_on(fake_openai, fake_time, engineer, registered_model):
    known = version_with_job(registered_model, engineer)
    unknown = services.version_register(
        model=registered_model, actor=engineer, **version_payload(provider_job_id="ftjob-nobody-knows")
    )

    report = tick(fake_time)

    assert report.errors == 1
    assert fresh(unknown).job_error_code == "provider_404"
    assert "404" in fresh(unknown).job_error_message
    assert fresh(known).job_status == JobStatus.VALIDATING_FILES
    rows = unknown.history.count()
    tick(fake_time)
    assert unknown.history.count() == rows  # the same error is not recorded twice


def test_it_lists_its_own_jobs_page_by_page_and_retrieves_only_the_others(
    fake_openai, fake_time, engineer, registered_model, monkeypatch
):
    monkeypatch.setattr(fine_tuning, "PAGE_SIZE", 2)
    ours = [version_with_job(registered_model, engineer) for _ in range(5)]
    foreign = version_with_job(registered_model, engineer, ours=False)

    report = tick(fake_time)

    assert (report.list_calls, report.retrieve_calls) == (3, 1)
    assert all(fresh(v).job_status == JobStatus.VALIDATING_FILES for v in [*ours, foreign])


def test_it_skips_a_tick_while_another_holds_the_lease(fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    assert lease_claim(fine_tuning.SYNC_LEASE, seconds=60)

    report = tick(fake_time)

    assert report.skipped
    assert fresh(version).job_status == ""


def test_it_asks_nothing_when_nothing_is_in_flight(db, fake_openai, fake_time):
    report = tick(fake_time)

    assert (report.list_calls, report.retrieve_calls) == (0, 0)
    assert fake_openai.requests == {}


def test_the_task_runs_a_tick(fake_openai, engineer, registered_model):
    from registry.tasks import fine_tune_jobs_sync

    version = version_with_job(registered_model, engineer)

    result = fine_tune_jobs_sync()

    assert result["changed"] == 1
    assert fresh(version).history.first().history_source == Source.TASK


def test_the_api_shows_the_job_and_its_checkpoints(api, executive, fake_openai, fake_time, engineer, registered_model):
    version = version_with_job(registered_model, engineer)
    fake_openai.advance(200)
    tick(fake_time)
    client = api(executive)
    base = f"/api/v1/models/{registered_model.name}/versions/{version.version}/"

    detail = client.get(base).json()
    checkpoints = client.get(base + "checkpoints/").json()["results"]
    listed = client.get(f"/api/v1/models/{registered_model.name}/versions/").json()["results"][0]

    assert detail["job"]["status"] == "succeeded"
    assert detail["job"]["trained_tokens"] > 0
    assert detail["job"]["hyperparameters"] == {"n_epochs": 3}
    assert detail["latest_checkpoint"]["step_number"] == 90
    assert set(detail["latest_checkpoint"]["metrics"]) >= {"train_loss", "valid_mean_token_accuracy"}
    assert [c["step_number"] for c in checkpoints] == [90, 60, 30]
    assert listed["job"] == detail["job"]
    assert "latest_checkpoint" not in listed


def test_the_admin_syncs_a_job_on_request_for_the_user_who_asked(
    fake_openai, engineer, compliance, registered_model, eager_celery, django_capture_on_commit_callbacks
):
    from django.test import Client

    version = version_with_job(registered_model, engineer)
    client = Client()
    client.force_login(compliance)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/registry/modelversion/", {"action": "sync_job", "_selected_action": [version.pk]}
        )

    assert response.status_code == 302
    row = fresh(version).history.first()
    assert row.job_status == JobStatus.VALIDATING_FILES
    assert (row.history_user.username, row.history_on_behalf_of, row.history_source) == (
        settings.FINEPRINT_SERVICE_USERNAME,
        compliance,
        Source.TASK,
    )


def test_the_admin_shows_the_job_and_its_checkpoints(fake_openai, fake_time, engineer, compliance, registered_model):
    from django.test import Client

    version = version_with_job(registered_model, engineer)
    fake_openai.advance(200)
    tick(fake_time)
    client = Client()
    client.force_login(compliance)

    html = client.get(f"/admin/registry/modelversion/{version.pk}/change/").content.decode()

    assert "Fine-tune job" in html
    assert fresh(version).fine_tuned_model in html
    assert "Checkpoints of the fine-tune job" in html
    assert "train_loss" in html


def test_a_tick_that_fails_releases_its_lease(db, fake_openai, fake_time, monkeypatch):
    # Regression: a tick that raised before its first provider call kept the lease until it expired.
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(fine_tuning, "service_user", broken)
    with pytest.raises(RuntimeError):
        tick(fake_time)
    monkeypatch.undo()

    assert not tick(fake_time).skipped


def test_the_service_account_exists_whatever_happened_to_the_database(db):
    from django.contrib.auth import get_user_model

    from core.audit import service_user

    get_user_model().objects.filter(username=settings.FINEPRINT_SERVICE_USERNAME).delete()

    assert service_user().username == settings.FINEPRINT_SERVICE_USERNAME
    assert not service_user().has_usable_password()


def test_the_api_key_appears_nowhere(api, engineer, fake_openai, fake_time, registered_model, caplog):
    import logging

    from django.db import connection

    from tests.conftest import CANARY_KEY

    caplog.set_level(logging.DEBUG)
    version = version_with_job(registered_model, engineer)
    unknown = services.version_register(
        model=registered_model, actor=engineer, **version_payload(provider_job_id="ftjob-unknown")
    )
    for seconds in (0, 10, 10, 100):
        fake_openai.advance(seconds)
        tick(fake_time)
    responses = [
        api(engineer).get(f"/api/v1/models/{registered_model.name}/versions/{v.version}/{suffix}").content.decode()
        for v in (version, unknown)
        for suffix in ("", "history/", "checkpoints/")
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_historicalmodelversion")
        history = repr(cursor.fetchall())

    assert fresh(unknown).job_error_code == "provider_404"
    for text in (*responses, history, caplog.text):
        assert CANARY_KEY not in text
        assert "canary" not in text
