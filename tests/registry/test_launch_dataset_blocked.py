"""A launch on data whose pre-check has blocking findings: refused before anything is uploaded, unless overridden.

The data is checked by the real engine (datasets.checks) through the datasets app's upload and
check task, as in production; the override is Compliance's, through the datasets service.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import DatasetBlocked
from datasets.models import Dataset
from datasets.services import dataset_check_queue, dataset_override_create
from registry import fine_tuning, services
from registry.models import ModelVersion, VersionStatus
from tests.conftest import TRAINING, version_payload

BASE_MODEL = "gpt-4.1-nano-2025-04-14"
CARD = "4111 1111 1111 1111"  # passes the Luhn check: a card number, blocking by default
CARD_LINE = 4


def examples(n: int = 12, *, card_on_line: int | None = None) -> bytes:
    """`n` well-formed chat examples (enough for OpenAI's minimum of 10), one with a card number if told."""
    lines = []
    for number in range(1, n + 1):
        question = f"What does invoice {number} cover?"
        if number == card_on_line:
            question += f" My card is {CARD}."
        lines.append(
            json.dumps({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": "Ok."}]})
        )
    return ("\n".join(lines) + "\n").encode()


CLEAN = examples()
WITH_CARD = examples(card_on_line=CARD_LINE)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = True  # so a dataset can be checked again


@pytest.fixture
def check(api, engineer, eager_celery, django_capture_on_commit_callbacks):
    """Upload `content` to the datasets app and run its check with the real engine; the checked dataset."""

    def run(content: bytes, kind: str = "training") -> Dataset:
        data = {"file": SimpleUploadedFile("data.jsonl", content), "kind": kind, "base_model": BASE_MODEL}
        with django_capture_on_commit_callbacks(execute=True):
            response = api(engineer).post("/api/v1/datasets/", data, format="multipart")
        assert response.status_code == 202, response.content
        dataset = Dataset.objects.get(sha256=response.json()["sha256"])
        assert dataset.is_checked, dataset.checks.first().error
        return dataset

    return run


def draft(model, engineer, training: bytes, validation: bytes | None = None) -> ModelVersion:
    hashes = {"training_file_sha256": sha(training)}
    if validation is not None:
        hashes["validation_file_sha256"] = sha(validation)
    return services.version_register(model=model, actor=engineer, **version_payload(**hashes))


def url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/fine-tune/"


def launch(client, version, training: bytes, validation: bytes | None = None):
    files = {"training_file": SimpleUploadedFile("train.jsonl", training)}
    if validation is not None:
        files["validation_file"] = SimpleUploadedFile("valid.jsonl", validation)
    return client.post(url(version), files, format="multipart")


def assert_nothing_sent(fake_openai) -> None:
    assert "file_create" not in fake_openai.requests
    assert "job_create" not in fake_openai.requests
    assert (fake_openai.files, fake_openai.jobs) == ({}, {})


def test_it_refuses_data_with_a_card_number_and_uploads_nothing(api, engineer, registered_model, fake_openai, check):
    dataset = check(WITH_CARD)
    version = draft(registered_model, engineer, WITH_CARD)

    response = launch(api(engineer), version, WITH_CARD)

    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "dataset_blocked"
    assert error["blocking_findings"] == [
        {
            "file": "training_file",
            "sha256": dataset.sha256,
            "code": "pii_card",
            "line": CARD_LINE,
            "severity": "blocking",
        }
    ]
    assert f"pii_card at line {CARD_LINE}" in error["message"]
    assert "nothing was uploaded" in error["message"]
    assert list(error["fields"]) == ["training_file"]
    assert CARD not in response.content.decode()
    assert_nothing_sent(fake_openai)
    stored = ModelVersion.objects.get(pk=version.pk)
    assert (stored.status, stored.provider_job_id, stored.history.count()) == (VersionStatus.DRAFT, None, 1)


def test_the_service_refuses_too_few_examples(engineer, registered_model, fake_openai, check):
    check(TRAINING)  # 3 examples: under OpenAI's minimum of 10
    version = draft(registered_model, engineer, TRAINING)

    with pytest.raises(DatasetBlocked) as refused:
        fine_tuning.version_fine_tune_launch(
            version=version, actor=engineer, training=fine_tuning.Dataset(content=TRAINING)
        )

    assert [(f["code"], f["severity"]) for f in refused.value.extra["blocking_findings"]] == [
        ("too_few_examples", "blocking")
    ]
    assert "too_few_examples" in refused.value.message
    assert_nothing_sent(fake_openai)


def test_it_refuses_a_blocked_validation_file_sent_with_clean_training(
    api, engineer, registered_model, fake_openai, check
):
    check(CLEAN)
    check(WITH_CARD, kind="validation")
    version = draft(registered_model, engineer, CLEAN, WITH_CARD)

    response = launch(api(engineer), version, CLEAN, WITH_CARD)

    assert response.status_code == 409
    error = response.json()["error"]
    assert [(f["file"], f["code"]) for f in error["blocking_findings"]] == [("validation_file", "pii_card")]
    assert list(error["fields"]) == ["validation_file"]
    assert_nothing_sent(fake_openai)


def test_a_compliance_override_lets_it_proceed_and_history_names_it(
    api, engineer, compliance, registered_model, fake_openai, check
):
    dataset = check(WITH_CARD)
    dataset_override_create(dataset=dataset, justification="Test cards from the PSP sandbox", actor=compliance)
    version = draft(registered_model, engineer, WITH_CARD)

    response = launch(api(engineer), version, WITH_CARD)

    assert response.status_code == 201, response.content
    job = fake_openai.jobs[response.json()["provider_job_id"]]
    assert fake_openai.file_contents[job["training_file"]] == WITH_CARD
    row = ModelVersion.objects.get(pk=version.pk).history.first()
    assert row.history_user == engineer
    reason = row.history_change_reason
    assert reason.startswith(f"Fine-tune job {job['id']} started on {BASE_MODEL} (OpenAI); training file ")
    assert "1 blocking findings OVERRIDDEN by carla-compliance" in reason
    assert reason.endswith(": Test cards from the PSP sandbox")


def test_an_override_of_an_earlier_report_does_not_count_after_a_re_check(
    api, engineer, compliance, registered_model, fake_openai, check, django_capture_on_commit_callbacks
):
    dataset = check(WITH_CARD)
    dataset_override_create(dataset=dataset, justification="Sandbox cards", actor=compliance)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_check_queue(dataset=dataset, actor=engineer)  # the same bytes, checked again
    dataset.refresh_from_db()
    assert dataset.checks.count() == 2 and dataset.blocking == 1
    version = draft(registered_model, engineer, WITH_CARD)

    refused = launch(api(engineer), version, WITH_CARD)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "dataset_blocked"
    assert_nothing_sent(fake_openai)

    dataset_override_create(dataset=dataset, justification="Still sandbox cards", actor=compliance)

    assert launch(api(engineer), version, WITH_CARD).status_code == 201


def test_clean_data_launches_without_an_override_note(api, engineer, registered_model, fake_openai, check):
    check(CLEAN)
    version = draft(registered_model, engineer, CLEAN)

    response = launch(api(engineer), version, CLEAN)

    assert response.status_code == 201, response.content
    reason = ModelVersion.objects.get(pk=version.pk).history.first().history_change_reason
    assert reason == f"Fine-tune job {response.json()['provider_job_id']} started on {BASE_MODEL} (OpenAI)"


def test_data_never_checked_launches(api, engineer, registered_model, fake_openai):
    """The launch does not wait for a check: the gate's dataset_check rule reports the data as missing."""
    version = draft(registered_model, engineer, WITH_CARD)

    response = launch(api(engineer), version, WITH_CARD)

    assert response.status_code == 201, response.content
    assert len(fake_openai.jobs) == 1
