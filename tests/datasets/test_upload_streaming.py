"""POST /api/v1/datasets/: streamed and hashed by Fineprint, the same bytes giving the same dataset."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import CheckStatus, Dataset, DatasetCheck

URL = "/api/v1/datasets/"


def jsonl(n: int = 12, tag: str = "") -> bytes:
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"q{i}{tag}"}, {"role": "assistant", "content": "a"}]})
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def upload(client, content: bytes, *, kind: str = "training", base_model: str = "gpt-4.1-mini", **extra):
    data = {"file": SimpleUploadedFile("train.jsonl", content, "application/jsonl"), "kind": kind}
    data["base_model"] = base_model
    data.update(extra)
    return client.post(URL, data, format="multipart")


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


def test_it_hashes_the_bytes_while_streaming_and_queues_a_check(api, engineer, django_capture_on_commit_callbacks):
    content = jsonl()
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(api(engineer), content)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size_bytes"] == len(content)
    assert body["check"]["status"] == CheckStatus.QUEUED
    assert body["check"]["url"].endswith(f"/api/v1/datasets/{body['sha256']}/check/")
    assert response["Location"] == body["check"]["url"]
    assert body["uploaded_by"] == engineer.username
    assert len(callbacks) == 1  # the check task, after commit
    dataset = Dataset.objects.get(sha256=body["sha256"])
    assert dataset.history.count() == 1
    assert dataset.history.first().history_user == engineer


def test_it_never_reads_the_upload_into_memory(api, engineer, settings):
    """Even a small file goes through the hashing temporary-file handler (no memory handler at all)."""
    from datasets.api.uploads import HashingUploadHandler

    seen = []
    original = HashingUploadHandler.file_complete

    def spy(self, file_size):
        uploaded = original(self, file_size)
        seen.append(uploaded)
        return uploaded

    HashingUploadHandler.file_complete = spy
    try:
        response = upload(api(engineer), jsonl())
    finally:
        HashingUploadHandler.file_complete = original
    assert response.status_code == 202
    assert len(seen) == 1
    assert hasattr(seen[0], "temporary_file_path")
    assert seen[0].sha256 == response.json()["sha256"]


def test_it_gives_the_same_dataset_for_the_same_bytes(api, engineer, compliance):
    content = jsonl()
    first = upload(api(engineer), content)
    again = upload(api(compliance), content, kind="validation", base_model="gpt-4o")

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["sha256"] == first.json()["sha256"]
    assert again.json()["kind"] == "training"  # the dataset it already is
    assert Dataset.objects.count() == 1
    assert DatasetCheck.objects.count() == 1


def test_other_bytes_are_another_dataset(api, engineer):
    assert upload(api(engineer), jsonl()).status_code == 202
    assert upload(api(engineer), jsonl(tag="x")).status_code == 202
    assert Dataset.objects.count() == 2


def test_it_checks_again_the_bytes_whose_last_check_failed(api, engineer):
    content = jsonl()
    upload(api(engineer), content)
    DatasetCheck.objects.update(status=CheckStatus.FAILED)

    response = upload(api(engineer), content)

    assert response.status_code == 202
    assert DatasetCheck.objects.count() == 2


def test_it_deletes_nothing_it_did_not_keep_when_the_dataset_exists(api, engineer, settings):
    content = jsonl()
    upload(api(engineer), content)
    upload(api(engineer), content)
    leftovers = [p.name for p in settings.DATASET_STORAGE.iterdir() if p.suffix == ".part"]
    assert leftovers == []
