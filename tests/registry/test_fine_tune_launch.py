"""Starting a registered version's fine-tune job, with its data checked against the registered hashes."""

from __future__ import annotations

import hashlib

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from providers.fake_openai import Fault
from registry import fine_tuning, services
from registry.models import JobStatus, ModelVersion, VersionStatus
from tests.conftest import TRAINING, version_payload

VALIDATION = b'{"messages": [{"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]}\n'


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def draft(engineer, registered_model):
    return services.version_register(
        model=registered_model,
        actor=engineer,
        **version_payload(version="v7", training_file_sha256=sha(TRAINING), validation_file_sha256=sha(VALIDATION)),
    )


def url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/fine-tune/"


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/jsonl")


def test_it_uploads_checked_files_and_starts_the_job(api, engineer, draft, fake_openai):
    response = api(engineer).post(
        url(draft),
        {
            "training_file": upload("train.jsonl", TRAINING),
            "validation_file": upload("valid.jsonl", VALIDATION),
            "hyperparameters": '{"n_epochs": 2}',
            "seed": 11,
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == VersionStatus.TRAINING
    assert body["job"]["status"] == JobStatus.VALIDATING_FILES
    job = fake_openai.jobs[body["provider_job_id"]]
    assert fake_openai.file_contents[job["training_file"]] == TRAINING
    assert fake_openai.file_contents[job["validation_file"]] == VALIDATION
    assert job["metadata"] == {
        fine_tuning.METADATA_KEY: settings.FINEPRINT_INSTANCE,
        "fineprint_version": f"{draft.model.name}:v7",
    }
    assert job["_suffix"] == f"{draft.model.name}-v7"
    assert (job["hyperparameters"], job["seed"], job["model"]) == ({"n_epochs": 2}, 11, "gpt-4.1-nano-2025-04-14")
    stored = ModelVersion.objects.get(pk=draft.pk)
    assert (stored.training_file_id, stored.validation_file_id) == (job["training_file"], job["validation_file"])
    row = stored.history.first()
    assert (row.history_user, row.history_change_reason) == (
        engineer,
        f"Fine-tune job {job['id']} started on gpt-4.1-nano-2025-04-14 (OpenAI)",
    )


def test_it_then_follows_the_job_it_started(api, engineer, draft, fake_openai):
    api(engineer).post(url(draft), {"training_file": upload("train.jsonl", TRAINING)}, format="multipart")
    fake_openai.advance(200)

    report = fine_tuning.jobs_sync_tick(budget_seconds=10)

    assert (report.list_calls, report.retrieve_calls, report.changed) == (1, 0, 1)
    assert ModelVersion.objects.get(pk=draft.pk).status == VersionStatus.EVALUATING


@pytest.mark.parametrize("which", ["training_file", "validation_file"])
def test_it_refuses_a_file_whose_hash_differs_and_uploads_nothing(api, engineer, draft, fake_openai, which):
    files = {"training_file": upload("train.jsonl", TRAINING), "validation_file": upload("v.jsonl", VALIDATION)}
    files[which] = upload("other.jsonl", b'{"messages": []}\n')

    response = api(engineer).post(url(draft), files, format="multipart")

    assert response.status_code == 409
    error = response.json()["error"]
    registered = draft.training_file_sha256 if which == "training_file" else draft.validation_file_sha256
    assert error["registered_sha256"] == registered
    assert error["uploaded_sha256"] == sha(b'{"messages": []}\n')
    assert list(error["fields"]) == [which]
    assert fake_openai.files == {}
    assert ModelVersion.objects.get(pk=draft.pk).status == VersionStatus.DRAFT


def test_it_starts_a_job_on_files_already_at_the_provider(api, engineer, draft, fake_openai):
    existing = fake_openai.file_create(filename="train.jsonl", purpose="fine-tune", content=TRAINING)

    response = api(engineer).post(url(draft), {"training_file_id": existing["id"]}, format="json")

    assert response.status_code == 201
    assert fake_openai.jobs[response.json()["provider_job_id"]]["training_file"] == existing["id"]


def test_it_refuses_a_second_job_for_a_version(api, engineer, draft, fake_openai):
    client = api(engineer)
    client.post(url(draft), {"training_file": upload("train.jsonl", TRAINING)}, format="multipart")

    again = client.post(url(draft), {"training_file": upload("train.jsonl", TRAINING)}, format="multipart")

    assert again.status_code == 409
    assert len(fake_openai.jobs) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "training_file"),
        ({"training_file_id": "file-1", "hyperparameters": "not json"}, "hyperparameters"),
        ({"training_file_id": "file-1", "method": "[1]"}, "method"),
        ({"training_file_id": "file-1", "seed": "-1"}, "seed"),
        ({"training_file_id": "file-1", "status": "production"}, "status"),
    ],
)
def test_it_names_a_bad_launch_field(api, engineer, draft, fake_openai, data, field):
    response = api(engineer).post(url(draft), data, format="multipart")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert fake_openai.jobs == {}


def test_it_says_when_the_provider_is_unavailable_and_records_nothing(api, engineer, draft, fake_openai):
    fake_openai.inject(Fault(status=429, retry_after=30))

    response = api(engineer).post(url(draft), {"training_file": upload("t.jsonl", TRAINING)}, format="multipart")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert ModelVersion.objects.get(pk=draft.pk).provider_job_id is None


def test_it_passes_on_what_the_provider_refuses(api, engineer, draft, fake_openai):
    response = api(engineer).post(url(draft), {"training_file_id": "file-unknown"}, format="json")

    assert response.status_code == 400
    assert "Invalid file ID" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("persona", "status"), [("compliance", 403), ("executive", 403), ("outsider", 403), ("anonymous", 401)]
)
def test_only_engineers_launch(api, draft, fake_openai, compliance, executive, outsider, persona, status):
    user = {"compliance": compliance, "executive": executive, "outsider": outsider, "anonymous": None}[persona]

    response = api(user).post(url(draft), {"training_file_id": "file-1"}, format="json")

    assert response.status_code == status
    assert fake_openai.jobs == {}


def test_it_refuses_other_content_types(api, engineer, draft, fake_openai):
    response = api(engineer).generic("POST", url(draft), "training_file_id=x", content_type="text/plain")

    assert response.status_code == 415
