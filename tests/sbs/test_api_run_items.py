"""GET .../sbs-runs/{id}/items/: a run's items with their verdicts, by outcome and intent, a constant query count."""

from __future__ import annotations

import pytest

from tests.sbs.helpers import golden_version, run

ITEMS = [
    ("b-1", ["billing"]),
    ("b-2", ["billing", "returns"]),
    ("b-3", ["billing"]),
    ("r-1", ["returns"]),
    ("s-1", ["shipping"]),
]
VERDICTS = [
    {"item": "b-1", "outcome": "loss", "judge": "human", "rater": "ann", "comment": "Wrong refund date."},
    {"item": "b-1", "outcome": "loss", "judge": "human", "rater": "bob"},
    {"item": "b-2", "outcome": "loss", "judge": "human", "rater": "ann"},
    {"item": "b-3", "outcome": "win", "judge": "human", "rater": "ann"},
    {"item": "r-1", "outcome": "loss", "judge": "human", "rater": "ann"},
    {"item": "s-1", "outcome": "tie", "judge": "human", "rater": "ann"},
]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


@pytest.fixture
def the_run(engineer, registered_version):
    golden = golden_version(engineer, ITEMS)
    return run(registered_version, engineer, golden, VERDICTS, judge="human")


def _url(the_run, query: str = "") -> str:
    version = the_run.version
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/sbs-runs/{the_run.pk}/items/{query}"


def test_it_lists_the_billing_losses_only(api, executive, the_run):
    rows = api(executive).get(_url(the_run, "?outcome=loss&intent=billing")).json()["results"]

    # b-3 is a billing win, r-1 a returns loss, s-1 a tie: none of them is a billing loss.
    assert [row["item"] for row in rows] == ["b-1", "b-2"]
    assert rows[0]["intents"] == ["billing"]
    assert rows[0]["outcome"] == "loss"
    assert rows[0]["score"] == 0.0
    assert rows[0]["verdicts"] == [
        {"judge": "human", "rater": "ann", "outcome": "loss", "comment": "Wrong refund date."},
        {"judge": "human", "rater": "bob", "outcome": "loss", "comment": ""},
    ]
    assert rows[1]["intents"] == ["billing", "returns"]
    assert rows[0]["text_kept"] is False and rows[0]["messages"] is None


def test_it_filters_by_outcome_or_intent_alone(api, executive, the_run):
    client = api(executive)

    losses = client.get(_url(the_run, "?outcome=loss")).json()["results"]
    returns = client.get(_url(the_run, "?intent=returns")).json()["results"]
    ties = client.get(_url(the_run, "?outcome=tie")).json()["results"]

    assert [row["item"] for row in losses] == ["b-1", "b-2", "r-1"]
    assert [row["item"] for row in returns] == ["b-2", "r-1"]
    assert [row["item"] for row in ties] == ["s-1"]


def test_it_pages_in_golden_set_order_with_the_same_queries_per_page(
    api, executive, the_run, django_assert_max_num_queries
):
    client = api(executive)
    client.get(_url(the_run, "?page_size=1"))  # the token's first use is recorded once

    with django_assert_max_num_queries(6):  # token, roles, version, run, the page, its verdicts
        first = client.get(_url(the_run, "?page_size=2")).json()
    with django_assert_max_num_queries(6):
        second = client.get(first["next"]).json()
    with django_assert_max_num_queries(6):
        everything = client.get(_url(the_run, "?page_size=500")).json()

    assert [row["item"] for row in first["results"] + second["results"]] == ["b-1", "b-2", "b-3", "r-1"]
    assert [row["item"] for row in everything["results"]] == ["b-1", "b-2", "b-3", "r-1", "s-1"]


def test_it_refuses_bad_filters(api, executive, the_run):
    client = api(executive)

    assert client.get(_url(the_run, "?outcome=draw")).status_code == 400
    assert client.get(_url(the_run, "?colour=blue")).status_code == 400
    assert client.get(_url(the_run, "?cursor=cD1hYmM%3D")).status_code == 400
    assert client.get(_url(the_run, "?intent=a%00b")).status_code == 400
