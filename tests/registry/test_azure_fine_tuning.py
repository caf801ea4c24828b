"""A model moves from OpenAI to Azure OpenAI; each version trains, syncs and shows its provider.

Against both fakes, through the real SDK: v1 launched on OpenAI, the model moved to Azure by
compliance with a reason, v2 launched on Azure and synced to `succeeded` with its checkpoints.
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.audit import Source, audit_source
from registry import fine_tuning, services
from registry.models import Checkpoint, JobStatus, ModelVersion, VersionStatus
from tests.conftest import TRAINING, model_payload, version_payload
from tests.fakes import AZURE_CANARY_KEY, AZURE_CANARY_TOKEN
from tests.registry.test_fine_tune_sync import FakeTime


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def launch_url(version: ModelVersion) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/fine-tune/"


def launch(client, version: ModelVersion):
    upload = SimpleUploadedFile("train.jsonl", TRAINING, content_type="application/jsonl")
    return client.post(launch_url(version), {"training_file": upload}, format="multipart")


def draft(model, engineer, label: str) -> ModelVersion:
    return services.version_register(
        model=model, actor=engineer, **version_payload(version=label, training_file_sha256=sha(TRAINING))
    )


def fresh(version: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.get(pk=version.pk)


def tick(clock: FakeTime, budget: float = 30):
    with audit_source(Source.TASK):
        return fine_tuning.jobs_sync_tick(budget_seconds=budget, clock=clock.clock, sleep=clock.sleep)


@pytest.fixture
def model(engineer):
    return services.model_create(actor=engineer, **model_payload(base_model="gpt-4.1-mini-2025-04-14"))


def move_to_azure(model, compliance, reason="OpenAI accepts no new fine-tuning jobs after 2027-01-06."):
    return services.model_update(model=model, actor=compliance, data={"provider": "azure"}, reason=reason)


def test_it_trains_v1_on_openai_and_v2_on_azure_and_each_version_shows_its_provider(
    api, engineer, compliance, executive, model, fake_openai, fake_azure
):
    v1 = draft(model, engineer, "v1")
    assert launch(api(engineer), v1).status_code == 201

    response = api(compliance).patch(
        f"/api/v1/models/{model.name}/",
        {"provider": "azure", "reason": "OpenAI accepts no new fine-tuning jobs after 2027-01-06."},
        format="json",
    )
    assert response.status_code == 200, response.content
    model.refresh_from_db()
    v2 = draft(model, engineer, "v2")
    launched = launch(api(engineer), v2)

    assert launched.status_code == 201, launched.content
    assert (fresh(v1).provider, fresh(v2).provider) == ("openai", "azure")
    assert launched.json()["provider"] == "azure"
    assert launched.json()["provider_job_id"] in fake_azure.jobs
    assert fresh(v1).provider_job_id in fake_openai.jobs
    reader = api(executive)
    listed = reader.get(f"/api/v1/models/{model.name}/versions/").json()["results"]
    assert {row["version"]: row["provider"] for row in listed} == {"v1": "openai", "v2": "azure"}
    assert reader.get(f"/api/v1/models/{model.name}/versions/v1/").json()["provider"] == "openai"
    history = reader.get(f"/api/v1/models/{model.name}/history/").json()
    move = history[-1]
    assert (move["user"], move["reason"]) == (
        compliance.username,
        "OpenAI accepts no new fine-tuning jobs after 2027-01-06.",
    )
    assert {"field": "provider", "old": "openai", "new": "azure"} in move["changes"]


def test_only_compliance_moves_a_model_and_says_why(api, engineer, compliance, model, fake_azure):
    url = f"/api/v1/models/{model.name}/"

    by_engineer = api(engineer).patch(url, {"provider": "azure", "reason": "cheaper"}, format="json")
    without_reason = api(compliance).patch(url, {"provider": "azure"}, format="json")

    assert by_engineer.status_code == 403
    assert by_engineer.json()["error"]["fields"] == {"provider": ["Governance field: compliance staff only."]}
    assert without_reason.status_code == 400
    assert "reason" in without_reason.json()["error"]["fields"]
    model.refresh_from_db()
    assert model.provider == "openai"


def test_an_engineer_registers_a_model_on_azure(api, engineer):
    response = api(engineer).post("/api/v1/models/", {**model_payload(), "provider": "azure"}, format="json")

    assert response.status_code == 201
    assert response.json()["provider"] == "azure"


def test_a_provider_that_is_not_configured_answers_400_naming_the_setting(api, engineer, compliance, model, settings):
    settings.AZURE_OPENAI_ENDPOINT = ""
    moved = api(compliance).patch(
        f"/api/v1/models/{model.name}/", {"provider": "azure", "reason": "OpenAI closes"}, format="json"
    )
    azure_model = services.model_create(actor=engineer, **model_payload(provider="azure"))
    version = draft(azure_model, engineer, "v1")

    launched = launch(api(engineer), version)

    for response in (moved, launched):
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"provider": ["AZURE_OPENAI_ENDPOINT is not set."]}
    assert fresh(version).status == VersionStatus.DRAFT
    assert fresh(version).provider_job_id is None


def test_a_version_keeps_its_provider_fixed_at_registration(engineer, compliance, model, fake_azure):
    version = draft(model, engineer, "v1")
    move_to_azure(model, compliance)

    version = fresh(version)
    version.provider = "azure"
    with pytest.raises(Exception, match="Fixed at registration"):
        version.save()
    assert fresh(version).provider == "openai"


# --- Sync on Azure ---------------------------------------------------------------------------


@pytest.fixture
def azure_model(engineer, fake_azure):
    return services.model_create(
        actor=engineer, **model_payload(provider="azure", base_model="gpt-4.1-mini-2025-04-14")
    )


def azure_job(model, engineer, label: str | None = None) -> ModelVersion:
    version = draft(model, engineer, label or f"v{ModelVersion.objects.count() + 1}")
    return fine_tuning.version_fine_tune_launch(
        version=version, actor=engineer, training=fine_tuning.Dataset(content=TRAINING, filename="train.jsonl")
    )


def test_it_follows_an_azure_job_to_success_with_its_checkpoints(engineer, azure_model, fake_azure):
    clock = FakeTime()
    version = azure_job(azure_model, engineer)

    seen = []
    for seconds in (0, 10, 10, 100):
        fake_azure.advance(seconds)
        report = tick(clock)
        seen.append(fresh(version).job_status)

    assert seen == ["validating_files", "queued", "running", "succeeded"]
    done = fresh(version)
    assert done.status == VersionStatus.EVALUATING
    assert done.fine_tuned_model.startswith("gpt-4.1-mini-2025-04-14.ft-")
    assert [c.step_number for c in Checkpoint.objects.filter(version=version)] == [90, 60, 30]
    reasons = [r.history_change_reason for r in done.history.order_by("history_date", "history_id")]
    assert reasons[-1] == f"Azure OpenAI job {done.provider_job_id} running -> succeeded"
    azure = report.providers["azure"]
    assert (azure.in_flight, azure.list_calls, azure.max_list_calls, azure.checkpoint_calls) == (1, 1, 2, 1)
    assert "openai" not in report.providers  # nothing in flight there


def test_it_lists_azure_pages_within_its_call_budget_then_asks_the_rest_one_by_one(
    engineer, azure_model, fake_azure, monkeypatch
):
    # Azure's list has no metadata filter: it holds every job of the resource, newest first.
    monkeypatch.setattr(fine_tuning, "PAGE_SIZE", 2)
    ours = [azure_job(azure_model, engineer) for _ in range(3)]
    for _ in range(6):  # newer jobs on the same resource, started by someone else
        from providers import azure_openai

        file_id = azure_openai.file_upload(filename="t.jsonl", content=TRAINING)
        azure_openai.job_create(model="gpt-4.1-mini-2025-04-14", training_file=file_id)

    report = tick(FakeTime())

    azure = report.providers["azure"]
    assert azure.max_list_calls == 3  # ceil(3 / 2) + 1
    assert azure.list_calls == 3  # six foreign jobs fill the first pages
    assert azure.retrieve_calls == 3  # ours lie beyond: one by one
    assert all(fresh(v).job_status == JobStatus.VALIDATING_FILES for v in ours)


def test_it_waits_out_an_azure_rate_limit_within_its_budget(engineer, azure_model, fake_azure):
    from providers.fake_openai import Fault

    clock = FakeTime()
    version = azure_job(azure_model, engineer)
    fake_azure.inject(Fault(status=429, retry_after=2, count=2, path="/openai/"))

    report = tick(clock)

    assert clock.slept == [2.0, 2.0]
    assert report.providers["azure"].waited_seconds == 4.0
    assert fresh(version).job_status == JobStatus.VALIDATING_FILES


def test_it_leaves_an_azure_job_for_the_next_tick_when_the_connection_drops(engineer, azure_model, fake_azure):
    from providers.fake_openai import Fault

    clock = FakeTime()
    version = azure_job(azure_model, engineer)
    fake_azure.advance(10)
    fake_azure.inject(Fault(drop=True, count=3, path="/openai/"))

    report = tick(clock)

    azure = report.providers["azure"]
    assert (azure.list_calls, azure.changed, azure.deferred) == (fine_tuning.ATTEMPTS, 0, 1)
    assert "the next tick tries again" in azure.notes[0]
    assert fresh(version).job_status == JobStatus.VALIDATING_FILES
    assert tick(clock).changed == 1  # the next tick catches up
    assert fresh(version).job_status == JobStatus.QUEUED


def test_it_records_an_azure_job_azure_does_not_know_and_carries_on(engineer, azure_model, fake_azure):
    known = azure_job(azure_model, engineer)
    unknown = services.version_register(
        model=azure_model, actor=engineer, **version_payload(provider_job_id="ftjob-nobody-at-azure")
    )

    report = tick(FakeTime())

    assert report.providers["azure"].errors == 1
    assert fresh(unknown).job_error_code == "provider_404"
    assert fresh(known).job_status == JobStatus.VALIDATING_FILES
    rows = unknown.history.count()
    tick(FakeTime())
    assert unknown.history.count() == rows


def test_one_tick_covers_both_providers_each_with_a_share_of_the_budget(
    engineer, model, azure_model, fake_openai, fake_azure
):
    openai_version = draft(model, engineer, "v1")
    openai_version = fine_tuning.version_fine_tune_launch(
        version=openai_version, actor=engineer, training=fine_tuning.Dataset(content=TRAINING)
    )
    azure_version = azure_job(azure_model, engineer)
    fake_openai.advance(10)
    fake_azure.advance(10)

    report = tick(FakeTime(), budget=30)

    assert set(report.providers) == {"openai", "azure"}
    assert report.providers["openai"].budget_seconds == 15.0  # half of what is left
    assert report.providers["azure"].budget_seconds == 30.0  # the rest (the fake clock did not move)
    assert report.changed == 2
    assert fresh(openai_version).job_status == fresh(azure_version).job_status == JobStatus.QUEUED


def test_a_provider_that_is_not_configured_is_skipped_and_said(engineer, azure_model, fake_azure, settings):
    version = azure_job(azure_model, engineer)
    settings.AZURE_OPENAI_ENDPOINT = ""

    report = tick(FakeTime())

    assert report.providers == {}
    assert report.notes == ["Azure OpenAI is not configured: 1 job and 0 deployments wait."]
    assert fresh(version).job_status == JobStatus.VALIDATING_FILES  # as launched


def test_the_azure_keys_appear_nowhere(api, engineer, azure_model, fake_azure, caplog):
    import logging

    from django.db import connection

    caplog.set_level(logging.DEBUG)
    version = azure_job(azure_model, engineer)
    services.version_register(model=azure_model, actor=engineer, **version_payload(provider_job_id="ftjob-x"))
    clock = FakeTime()
    for seconds in (0, 10, 10, 100):
        fake_azure.advance(seconds)
        tick(clock)
    api(engineer).post(
        f"/api/v1/models/{azure_model.name}/versions/{version.version}/serving-deployment/",
        {"name": "support-prod"},
        format="json",
    )
    texts = [
        api(engineer).get(f"/api/v1/models/{azure_model.name}/versions/{version.version}/{suffix}").content.decode()
        for suffix in ("", "history/", "checkpoints/")
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_historicalmodelversion")
        texts.append(repr(cursor.fetchall()))

    for text in (*texts, caplog.text):
        assert AZURE_CANARY_KEY not in text
        assert AZURE_CANARY_TOKEN not in text
