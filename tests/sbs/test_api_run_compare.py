"""GET .../sbs-runs/{id}/compare/?with=: which items flipped between two runs on the same golden set version."""

from __future__ import annotations

import pytest

from registry import services as registry_services
from tests.conftest import version_payload
from tests.sbs.helpers import golden_version, run

ITEMS = [(f"i-{n}", ["billing" if n < 4 else "returns"]) for n in range(7)]
# Item: (outcome in the older run, outcome in the newer run)
PAIRS = {
    "i-0": ("loss", "win"),  # improved
    "i-1": ("loss", "tie"),  # improved
    "i-2": ("tie", "win"),  # improved
    "i-3": ("win", "loss"),  # regressed
    "i-4": ("win", "win"),  # unchanged
    "i-5": ("tie", "tie"),  # unchanged
}  # i-6: rated only in the newer run


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


@pytest.fixture
def runs(engineer, registered_version):
    golden = golden_version(engineer, ITEMS)
    newer_version = registry_services.version_register(
        model=registered_version.model, actor=engineer, **version_payload()
    )
    older = run(registered_version, engineer, golden, [{"item": i, "outcome": a} for i, (a, _) in PAIRS.items()])
    newer = run(
        newer_version,
        engineer,
        golden,
        [{"item": i, "outcome": b} for i, (_, b) in PAIRS.items()] + [{"item": "i-6", "outcome": "win"}],
    )
    return older, newer


def _url(the_run, query: str) -> str:
    version = the_run.version
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/sbs-runs/{the_run.pk}/compare/{query}"


def test_it_counts_transitions_and_lists_the_flips(api, executive, runs):
    older, newer = runs

    response = api(executive).get(_url(newer, f"?with={older.pk}"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["run"]["id"] == newer.pk and body["other"]["id"] == older.pk
    assert body["same_baseline"] is True
    assert (body["items_compared"], body["only_in_run"], body["only_in_other"]) == (6, 1, 0)
    assert body["transitions"] == {
        "win": {"win": 1, "tie": 0, "loss": 1},
        "tie": {"win": 1, "tie": 1, "loss": 0},
        "loss": {"win": 1, "tie": 1, "loss": 0},
    }
    assert body["counts"] == {"improved": 3, "regressed": 1, "unchanged": 2}
    assert [(f["item"], f["other_outcome"], f["outcome"], f["direction"]) for f in body["flips"]] == [
        ("i-0", "loss", "win", "improved"),
        ("i-1", "loss", "tie", "improved"),
        ("i-2", "tie", "win", "improved"),
        ("i-3", "win", "loss", "regressed"),
    ]
    assert body["flips"][3]["intents"] == ["billing"]
    assert (body["flips_total"], body["truncated"]) == (4, False)


def test_it_keeps_one_direction_and_says_when_it_cut_the_list(api, executive, runs):
    older, newer = runs
    client = api(executive)

    regressed = client.get(_url(newer, f"?with={older.pk}&direction=regressed")).json()
    capped = client.get(_url(newer, f"?with={older.pk}&direction=improved&limit=2")).json()

    assert [f["item"] for f in regressed["flips"]] == ["i-3"]
    assert [f["item"] for f in capped["flips"]] == ["i-0", "i-1"]
    assert (capped["flips_total"], capped["truncated"]) == (3, True)


def test_it_refuses_runs_on_different_golden_set_versions(api, engineer, executive, runs):
    older, newer = runs
    golden_v2 = golden_version(engineer, [*ITEMS, ("i-7", ["billing"])])
    elsewhere = run(older.version, engineer, golden_v2, [{"item": "i-7", "outcome": "win"}])

    response = api(executive).get(_url(newer, f"?with={elsewhere.pk}"))

    assert response.status_code == 400
    assert "support-golden v2" in response.json()["error"]["fields"]["with"][0]


def test_it_refuses_a_missing_or_foreign_run(api, executive, engineer, runs):
    older, newer = runs
    client = api(executive)

    assert client.get(_url(newer, "?with=999999")).status_code == 400
    assert client.get(_url(newer, f"?with={10**30}")).status_code == 400
    assert client.get(_url(older, "")).status_code == 400  # nothing ran before it
    assert client.get(_url(newer, f"?with={newer.pk}")).status_code == 400


def test_it_compares_with_the_run_before_it_when_none_is_named(api, engineer, executive, runs):
    older, newer = runs
    golden_v2 = golden_version(engineer, [*ITEMS, ("i-7", ["billing"])])
    run(older.version, engineer, golden_v2, [{"item": "i-7", "outcome": "win"}])  # later, but on another version

    body = api(executive).get(_url(newer, "")).json()

    assert body["other"]["id"] == older.pk
    assert body["counts"] == {"improved": 3, "regressed": 1, "unchanged": 2}
