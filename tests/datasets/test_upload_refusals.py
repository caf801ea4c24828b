"""What the upload refuses: too large (413), not multipart (415), bad fields (400), the wrong role (401/403)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import Dataset
from tests.datasets.test_upload_streaming import URL, jsonl, upload


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def test_it_refuses_a_file_over_the_limit_with_413(api, engineer, settings):
    settings.DATASET_MAX_BYTES = 1024
    response = upload(api(engineer), jsonl(200))

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert error["limit_bytes"] == 1024
    assert "file" in error["fields"]
    assert not Dataset.objects.exists()


def test_it_accepts_a_file_at_the_limit(api, engineer, settings):
    content = jsonl(3)
    settings.DATASET_MAX_BYTES = len(content)
    assert upload(api(engineer), content).status_code == 202


def test_it_refuses_json_with_415(api, engineer):
    response = api(engineer).post(URL, {"kind": "training", "base_model": "gpt-4.1"}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "training", "base_model": "gpt-4.1"}, "file"),
        ({"kind": "poem", "base_model": "gpt-4.1", "file": True}, "kind"),
        ({"kind": "training", "file": True}, "base_model"),
        ({"kind": "training", "base_model": "claude-9", "file": True}, "base_model"),
        ({"kind": "training", "base_model": "gpt-4.1", "file": True, "golden": "not-a-sha"}, "golden.0"),
        ({"kind": "training", "base_model": "gpt-4.1", "file": True, "golden": "a" * 64}, "golden"),
        ({"kind": "training", "base_model": "gpt-4.1", "file": True, "colour": "red"}, "colour"),
    ],
)
def test_it_names_each_bad_field_with_400(api, engineer, data, field):
    if data.pop("file", False):
        data["file"] = SimpleUploadedFile("t.jsonl", jsonl(), "application/jsonl")
    response = api(engineer).post(URL, data, format="multipart")

    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Dataset.objects.exists()


def test_it_refuses_an_empty_file_with_400(api, engineer):
    response = upload(api(engineer), b"")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_a_golden_named_must_be_a_golden_set(api, engineer):
    training = upload(api(engineer), jsonl(tag="t")).json()["sha256"]
    response = upload(api(engineer), jsonl(tag="u"), golden=[training])
    assert response.status_code == 400
    assert "not a golden set" in response.json()["error"]["fields"]["golden"][0]


def test_compliance_may_upload(api, compliance):
    assert upload(api(compliance), jsonl()).status_code == 202


def test_executives_and_outsiders_may_not_upload(api, executive, outsider):
    assert upload(api(executive), jsonl()).status_code == 403
    assert upload(api(outsider), jsonl()).status_code == 403
    assert not Dataset.objects.exists()


def test_it_needs_a_token(api):
    assert upload(api(None), jsonl()).status_code == 401
    assert api(None).get(URL).status_code == 401
