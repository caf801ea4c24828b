"""A run citing an item its golden set version lacks, a duplicate verdict or an unknown outcome: 400, nothing stored."""

from __future__ import annotations

import pytest
from django.apps import apps

from tests.sbs.helpers import golden_version

ITEMS = [("b-1", ["billing"]), ("b-2", ["billing"]), ("r-1", ["returns"])]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def _row_counts() -> dict[str, int]:
    """Every row of the registry and sbs apps, history rows included."""
    return {
        model._meta.label: model._base_manager.count()
        for label in ("registry", "sbs")
        for model in apps.get_app_config(label).get_models()
    }


def _url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/sbs-runs/"


def _body(golden, version, verdicts: list[dict]) -> dict:
    return {
        "golden_set_sha256": golden.sha256,
        "baseline": version.model.base_model,
        "judge": "gpt-4.1-judge",
        "verdicts": verdicts,
    }


FINE = [{"item": "b-1", "outcome": "win"}, {"item": "b-2", "outcome": "loss"}]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"item": "x-9", "outcome": "win"}, "verdict 2: item 'x-9' is not in golden set support-golden v1"),
        (
            {"item": "b-1", "outcome": "tie"},
            "verdict 2: item 'b-1' rated twice by gpt-4.1-judge (one verdict per item per rater)",
        ),
        ({"item": "r-1", "outcome": "draw"}, "verdict 2: item 'r-1': unknown outcome 'draw' (win, tie or loss)"),
    ],
    ids=["unknown item", "duplicate verdict", "unknown outcome"],
)
def test_it_refuses_the_run_naming_the_item_and_stores_nothing(api, engineer, registered_version, bad, message):
    golden = golden_version(engineer, ITEMS)
    before = _row_counts()

    response = api(engineer).post(
        _url(registered_version), _body(golden, registered_version, [*FINE, bad]), format="json"
    )

    assert response.status_code == 400, response.json()
    assert response.json()["error"]["fields"] == {"verdicts": [message]}
    assert _row_counts() == before


def test_it_allows_the_same_item_from_another_rater(api, engineer, registered_version):
    golden = golden_version(engineer, ITEMS)
    verdicts = [
        {"item": "b-1", "outcome": "win", "judge": "human", "rater": "ann"},
        {"item": "b-1", "outcome": "loss", "judge": "human", "rater": "bob"},
    ]

    response = api(engineer).post(_url(registered_version), _body(golden, registered_version, verdicts), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["verdict_count"] == 2
    assert response.json()["comparisons"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"golden_set_sha256": None}, "golden_set_sha256"),
        ({"golden_set_sha256": "0" * 64}, "golden_set_sha256"),
        ({"golden_set": "support-golden"}, "golden_set_sha256"),
        ({"verdicts": []}, "verdicts"),
        ({"verdicts": ["win"]}, "verdicts.0"),
        ({"verdicts": {"item": "b-1"}}, "verdicts"),
        ({"baseline": "v-nope"}, "baseline_version"),
        ({"judge": "a\x00b"}, "judge"),
        ({"judge": 10**30}, "judge"),
        ({"judge": "human:ann"}, "judge"),  # how a human rater is shown: no model judge may be named so
        ({"ran_at": "yesterday"}, "ran_at"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_it_refuses_a_bad_body_without_a_server_error(api, engineer, registered_version, change, field):
    golden = golden_version(engineer, ITEMS)
    body = {
        key: value for key, value in {**_body(golden, registered_version, FINE), **change}.items() if value is not None
    }
    before = _row_counts()

    response = api(engineer).post(_url(registered_version), body, format="json")

    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert _row_counts() == before


def test_it_refuses_a_golden_dataset_that_is_no_version_and_a_text_body(api, engineer, registered_version, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from datasets import services as dataset_services
    from tests.sbs.helpers import golden_jsonl

    loose = dataset_services.dataset_upload(
        upload=SimpleUploadedFile("g.jsonl", golden_jsonl(ITEMS)),
        kind="golden",
        base_model="gpt-4.1-mini",
        actor=engineer,
    ).dataset
    client = api(engineer)
    before = _row_counts()

    unversioned = client.post(_url(registered_version), _body(loose, registered_version, FINE), format="json")
    plain = client.post(_url(registered_version), "judge: human", content_type="text/plain")

    assert unversioned.status_code == 400
    assert "golden_set_sha256" in unversioned.json()["error"]["fields"]
    assert plain.status_code == 415
    assert _row_counts() == before
