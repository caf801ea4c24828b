"""POST /api/v1/golden-sets/{name}/versions/: a version is the golden dataset of its bytes, numbered once."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import Dataset, GoldenItem, GoldenSet
from tests.sbs.helpers import golden_jsonl

URL = "/api/v1/golden-sets/support-golden/versions/"
ITEMS = [("b-1", ["billing"]), ("b-2", ["billing", "returns"]), ("r-1", ["returns"])]


def upload(client, content: bytes, url: str = URL, **extra):
    data = {"file": SimpleUploadedFile("golden.jsonl", content, "application/jsonl"), **extra}
    return client.post(url, data, format="multipart")


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


def test_it_numbers_new_bytes_and_answers_the_same_bytes_with_the_same_version(api, engineer):
    client = api(engineer)
    first = golden_jsonl(ITEMS)

    created = upload(client, first, description="Support questions")
    again = upload(client, first)
    second = upload(client, golden_jsonl([*ITEMS, ("s-1", ["shipping"])]))

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["golden_set"] == "support-golden"
    assert body["number"] == 1
    assert body["sha256"] == hashlib.sha256(first).hexdigest()
    assert body["item_count"] == 3
    assert body["intent_counts"] == {"billing": 2, "returns": 2}
    assert body["uploaded_by"] == engineer.username
    assert created["Location"] == body["url"]
    assert body["url"].endswith("/api/v1/golden-sets/support-golden/versions/1/")
    assert body["dataset_url"].endswith(f"/api/v1/datasets/{body['sha256']}/")
    assert again.status_code == 200
    assert again.json()["number"] == 1
    assert second.status_code == 201
    assert second.json()["number"] == 2
    assert GoldenSet.objects.get().description == "Support questions"
    assert Dataset.objects.filter(golden_set__name="support-golden").count() == 2
    assert GoldenItem.objects.count() == 3 + 4


def test_it_refuses_a_training_dataset_s_bytes(api, engineer):
    content = golden_jsonl(ITEMS)
    client = api(engineer)
    training = client.post(
        "/api/v1/datasets/",
        {"file": SimpleUploadedFile("t.jsonl", content), "kind": "training", "base_model": "gpt-4.1-mini"},
        format="multipart",
    )
    assert training.status_code == 202

    response = upload(client, content)

    assert response.status_code == 409
    assert response.json()["error"]["kind"] == "training"
    assert not GoldenSet.objects.exists()
    assert not GoldenItem.objects.exists()


def test_it_refuses_another_set_s_version(api, engineer):
    content = golden_jsonl(ITEMS)
    client = api(engineer)
    assert upload(client, content).status_code == 201

    response = upload(client, content, url="/api/v1/golden-sets/other-golden/versions/")

    assert response.status_code == 409
    assert response.json()["error"]["golden_set"] == "support-golden"
    assert not GoldenSet.objects.filter(name="other-golden").exists()


def test_it_names_the_bad_lines_and_records_nothing(api, engineer):
    content = golden_jsonl(ITEMS) + b'{"id": "x-1", "intents": []}\nnot json\n'

    response = upload(api(engineer), content)

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["file"] == [
        "line 4: item 'x-1' has no intents (a non-empty list of tags)",
        "line 5: not a JSON object",
    ]
    assert not Dataset.objects.exists()
    assert not GoldenSet.objects.exists()


def test_it_refuses_an_intent_holding_the_tag_separator(api, engineer):
    response = upload(api(engineer), golden_jsonl([("b-1", ["billing|returns"])]))

    assert response.status_code == 400
    assert "may not contain '|'" in response.json()["error"]["fields"]["file"][0]


def test_it_refuses_a_bad_name_and_a_json_body(api, engineer):
    client = api(engineer)

    bad_name = upload(client, golden_jsonl(ITEMS), url="/api/v1/golden-sets/Support%20Set/versions/")
    as_json = client.post(URL, {"file": "x"}, format="json")

    assert bad_name.status_code == 400
    assert "name" in bad_name.json()["error"]["fields"]
    assert as_json.status_code == 415
    assert not Dataset.objects.exists()


def test_it_answers_413_past_the_golden_size_limit(api, engineer, settings):
    settings.GOLDEN_MAX_BYTES = 100

    response = upload(api(engineer), golden_jsonl(ITEMS))

    assert response.status_code == 413
    assert response.json()["error"]["limit_bytes"] == 100
    assert not Dataset.objects.exists()
