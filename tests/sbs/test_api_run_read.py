"""A version's runs, newest first, and one run with its figures and links; a run of another version is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from registry import services as registry_services
from sbs import services
from tests.conftest import version_payload
from tests.sbs.helpers import golden_version

ITEMS = [("b-1", ["billing"]), ("b-2", ["billing"]), ("r-1", ["returns"])]
VERDICTS = [{"item": "b-1", "outcome": "win"}, {"item": "b-2", "outcome": "tie"}, {"item": "r-1", "outcome": "loss"}]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def _record(version, actor, golden, *, days_ago: int):
    return services.sbs_run_create(
        version=version,
        actor=actor,
        golden=golden,
        baseline=version.model.base_model,
        judge="gpt-4.1-judge",
        verdicts=VERDICTS,
        ran_at=timezone.now() - timedelta(days=days_ago),
    )


def _runs_url(version) -> str:
    return f"/api/v1/models/{version.model.name}/versions/{version.version}/sbs-runs/"


def test_it_lists_a_version_s_runs_newest_first_in_constant_queries(
    api, executive, engineer, registered_version, django_assert_max_num_queries
):
    golden = golden_version(engineer, ITEMS)
    other_version = registry_services.version_register(
        model=registered_version.model, actor=engineer, **version_payload()
    )
    old = _record(registered_version, engineer, golden, days_ago=3)
    new = _record(registered_version, engineer, golden, days_ago=1)
    middle = _record(registered_version, engineer, golden, days_ago=2)
    _record(other_version, engineer, golden, days_ago=0)  # another version's: not listed
    client = api(executive)
    client.get(_runs_url(registered_version))  # the token's first use is recorded once

    with django_assert_max_num_queries(4):  # token, roles, version, the page
        response = client.get(_runs_url(registered_version))

    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [new.pk, middle.pk, old.pk]
    assert rows[0]["golden_set"]["name"] == "support-golden"
    assert rows[0]["golden_set"]["sha256"] == golden.sha256
    assert rows[0]["created_by"] == engineer.username
    assert "figures" not in rows[0]


def test_it_shows_a_run_with_its_figures_and_links(api, executive, engineer, registered_version):
    golden = golden_version(engineer, ITEMS)
    the_run = _record(registered_version, engineer, golden, days_ago=0)

    body = api(executive).get(f"{_runs_url(registered_version)}{the_run.pk}/").json()

    # 1 win, 1 tie, 1 loss: (1 + 0.5) / 3.
    assert body["win_rate"] == pytest.approx(0.5)
    assert body["figures"]["overall"]["n"] == 3
    assert body["figures"]["per_intent"]["billing"]["wins"] == 1
    assert body["evaluation"] == the_run.evaluation_id
    assert body["baseline"] == registered_version.model.base_model
    assert body["judge"] == "gpt-4.1-judge"
    assert body["links"]["items"].endswith(f"/sbs-runs/{the_run.pk}/items/")
    assert body["links"]["losses"].endswith("/items/?outcome=loss")
    assert body["links"]["golden_version"].endswith("/api/v1/golden-sets/support-golden/versions/1/")


def test_it_does_not_find_a_run_under_another_version(api, executive, engineer, registered_version):
    golden = golden_version(engineer, ITEMS)
    other_version = registry_services.version_register(
        model=registered_version.model, actor=engineer, **version_payload()
    )
    the_run = _record(registered_version, engineer, golden, days_ago=0)
    client = api(executive)

    assert client.get(f"{_runs_url(other_version)}{the_run.pk}/").status_code == 404
    assert client.get(f"{_runs_url(other_version)}{the_run.pk}/items/").status_code == 404
    assert client.get(f"{_runs_url(registered_version)}{10**30}/").status_code == 404
    assert client.get(f"{_runs_url(registered_version)}?colour=blue").status_code == 400
