"""A run's verdicts as a JSONL upload: 10,000 verdicts in one request; bad lines named; past the limit, 413."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sbs.models import SbsRun, SbsRunItem, SbsVerdict
from tests.sbs.helpers import golden_version


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def _url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/sbs-runs/"


def _form(golden, version, lines: bytes, **extra) -> dict:
    return {
        "golden_set": golden.golden_set.name,
        "golden_version": str(golden.golden_version),
        "baseline": version.model.base_model,
        "judge": "gpt-4.1-judge",
        "verdicts": SimpleUploadedFile("verdicts.jsonl", lines, "application/jsonl"),
        **extra,
    }


def test_it_accepts_ten_thousand_verdicts_over_two_thousand_items(api, engineer, registered_version):
    golden = golden_version(engineer, [(f"q-{i}", ["billing" if i % 2 else "returns"]) for i in range(2000)])
    raters = ["ann", "bob", "cy", "dee", "eve"]
    outcomes = ["win", "tie", "loss"]
    verdicts = [
        {"item": f"q-{i}", "outcome": outcomes[(i + r) % 3], "judge": "human", "rater": rater}
        for i in range(2000)
        for r, rater in enumerate(raters)
    ]
    lines = "\n".join(json.dumps(v) for v in verdicts).encode() + b"\n"

    response = api(engineer).post(
        _url(registered_version), _form(golden, registered_version, lines), format="multipart"
    )

    assert response.status_code == 201, response.json()
    run = SbsRun.objects.get()
    assert response.json()["id"] == run.pk
    assert response.json()["verdict_count"] == 10_000
    assert response.json()["comparisons"] == 2000
    assert SbsVerdict.objects.filter(run=run).count() == 10_000
    assert SbsRunItem.objects.filter(run=run).count() == 2000
    assert response.json()["golden_set"]["name"] == "support-golden"


def test_it_names_the_lines_that_are_not_json(api, engineer, registered_version):
    golden = golden_version(engineer, [("b-1", ["billing"])])
    lines = b'{"item": "b-1", "outcome": "win"}\n\n{"item": "b-1",\n{"item": "b-1", "comment": "a\\u0000b"}\n'

    response = api(engineer).post(
        _url(registered_version), _form(golden, registered_version, lines), format="multipart"
    )

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]["verdicts"]
    assert [f.split(":")[0] for f in fields] == ["line 3", "line 4"]
    assert "NUL" in fields[1]
    assert not SbsRun.objects.exists()


def test_it_answers_413_past_the_upload_limit(api, engineer, registered_version, settings):
    settings.SBS_MAX_UPLOAD_BYTES = 1024
    golden = golden_version(engineer, [("b-1", ["billing"])])
    lines = b'{"item": "b-1", "outcome": "win"}\n' * 100

    response = api(engineer).post(
        _url(registered_version), _form(golden, registered_version, lines), format="multipart"
    )

    assert response.status_code == 413
    assert response.json()["error"]["limit_bytes"] == 1024
    assert not SbsRun.objects.exists()


def test_it_refuses_unknown_form_fields_and_a_bad_version_number(api, engineer, registered_version):
    golden = golden_version(engineer, [("b-1", ["billing"])])
    lines = b'{"item": "b-1", "outcome": "win"}\n'
    client = api(engineer)

    unknown = client.post(
        _url(registered_version), _form(golden, registered_version, lines, colour="blue"), format="multipart"
    )
    huge = client.post(
        _url(registered_version),
        _form(golden, registered_version, lines, golden_version=str(10**30)),
        format="multipart",
    )
    missing = client.post(
        _url(registered_version), _form(golden, registered_version, lines, golden_version="2"), format="multipart"
    )

    assert unknown.status_code == 400 and "colour" in unknown.json()["error"]["fields"]
    assert huge.status_code == 400 and "golden_version" in huge.json()["error"]["fields"]
    assert missing.status_code == 400 and "golden_set" in missing.json()["error"]["fields"]
    assert not SbsRun.objects.exists()
