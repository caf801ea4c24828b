"""GOLDEN_KEEP_TEXT: off, an item keeps its id, intents and prompt hash only; on, its turns and reference too."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import GoldenItem
from tests.sbs.helpers import golden_jsonl

URL = "/api/v1/golden-sets/support-golden/versions/"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def _upload_and_list(api, engineer):
    client = api(engineer)
    content = golden_jsonl([("b-1", ["billing"])])
    response = client.post(URL, {"file": SimpleUploadedFile("g.jsonl", content)}, format="multipart")
    assert response.status_code == 201, response.json()
    return client.get(response.json()["items_url"]).json()["results"]


def test_it_keeps_no_text_when_off(api, engineer, settings):
    settings.GOLDEN_KEEP_TEXT = False

    [row] = _upload_and_list(api, engineer)

    item = GoldenItem.objects.get()
    assert item.messages is None
    assert item.reference == ""
    assert item.prompt_hash
    assert "Question" not in str(row) and "reference answer" not in str(row)
    assert row == {
        "item_id": "b-1",
        "position": 0,
        "intents": ["billing"],
        "prompt_hash": item.prompt_hash,
        "text_kept": False,
        "messages": None,
        "reference": None,
    }


def test_it_keeps_the_turns_and_reference_when_on(api, engineer, settings):
    settings.GOLDEN_KEEP_TEXT = True

    [row] = _upload_and_list(api, engineer)

    item = GoldenItem.objects.get()
    question = "Question number b-1 about billing?"
    assert item.messages == [{"role": "user", "content": question}]
    assert item.reference == "The reference answer to b-1."
    assert row["text_kept"] is True
    assert row["messages"] == [{"role": "user", "content": question}]
    assert row["reference"] == "The reference answer to b-1."
