from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registry import services
from registry.models import ModelVersion
from tests.conftest import evaluation_payload, model_payload, sha, version_payload

URL = "/api/v1/versions/"


@pytest.fixture
def catalogue(engineer):
    """Two models; three versions with win rates 0.5, 0.6, 0.7 on the first, one on the second."""
    support = services.model_create(
        actor=engineer, **model_payload(name="support", base_model="gpt-4.1-nano-2025-04-14")
    )
    claims = services.model_create(actor=engineer, **model_payload(name="claims", base_model="gpt-4o-mini"))
    versions = {}
    for label, win in (("v1", 0.5), ("v2", 0.6), ("v3", 0.7)):
        versions[label] = services.version_register(
            model=support,
            actor=engineer,
            evaluations=[evaluation_payload(metrics={"win_rate": win, "refusal_rate": win / 10})],
            **version_payload(version=label, training_file_sha256=sha(f"train-{label}")),
        )
    versions["c1"] = services.version_register(
        model=claims, actor=engineer, **version_payload(version="c1", training_file_sha256=sha("train-v1"))
    )
    return versions


def labels(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [f"{v['model']}:{v['version']}" for v in response.json()["results"]]


def test_it_lists_newest_first(api, executive, catalogue):
    assert labels(api(executive).get(URL)) == ["claims:c1", "support:v3", "support:v2", "support:v1"]


def test_it_filters_by_metric_thresholds(api, engineer, catalogue):
    client = api(engineer)

    assert labels(client.get(URL, {"win_rate__gte": "0.6"})) == ["support:v3", "support:v2"]
    assert labels(client.get(URL, {"win_rate__gt": "0.6"})) == ["support:v3"]
    assert labels(client.get(URL, {"win_rate__lt": "0.6", "refusal_rate__lte": "0.05"})) == ["support:v1"]


def test_its_thresholds_hold_for_one_evaluation(api, engineer, catalogue):
    # v2 gets a second evaluation at 0.8: a version qualifies through one evaluation meeting every threshold.
    services.evaluation_record(
        version=catalogue["v2"], actor=engineer, **evaluation_payload(metrics={"win_rate": 0.8, "refusal_rate": 0.2})
    )
    client = api(engineer)

    assert labels(client.get(URL, {"win_rate__gte": "0.6", "win_rate__lte": "0.6"})) == ["support:v2"]
    assert labels(client.get(URL, {"win_rate__gte": "0.65", "win_rate__lte": "0.75"})) == ["support:v3"]
    # 0.8 meets the first, 0.6 the second, but no evaluation of v2 meets both.
    assert labels(client.get(URL, {"win_rate__gte": "0.75", "refusal_rate__lte": "0.1"})) == []
    assert labels(client.get(URL, {"win_rate__gt": "0.6", "win_rate__lt": "0.6"})) == []


def test_equal_bounds_are_asked_as_one_value():
    from registry.selectors import _one_values

    assert _one_values((("win_rate", "gte", 0.61), ("win_rate", "lte", 0.61))) == (("win_rate", "exact", 0.61),)
    both = (("refusal_rate", "lte", 0.1), ("win_rate", "lte", 0.6), ("win_rate", "gte", 0.6), ("golden_score", "gt", 1))
    assert _one_values(both) == (("refusal_rate", "lte", 0.1), ("win_rate", "exact", 0.6), ("golden_score", "gt", 1))
    for unchanged in (
        (("win_rate", "gte", 0.6), ("win_rate", "lte", 0.7)),  # a range
        (("win_rate", "gt", 0.6), ("win_rate", "lt", 0.6)),  # nothing: not one value
        (("win_rate", "gte", 0.6), ("refusal_rate", "lte", 0.6)),  # two metrics
        (("win_rate", "gte", 0.6),),
    ):
        assert _one_values(unchanged) == unchanged


def test_a_search_for_one_value_finds_it_written_as_an_integer_or_a_fraction(api, engineer):
    model = services.model_create(actor=engineer, **model_payload(name="whole"))
    for label, win in (("v1", 1), ("v2", 1.0), ("v3", 0.5)):
        services.version_register(
            model=model,
            actor=engineer,
            evaluations=[evaluation_payload(metrics={"win_rate": win, "refusal_rate": 0.0})],
            **version_payload(version=label, training_file_sha256=sha(f"train-{label}")),
        )
    client = api(engineer)

    for one in ("1", "1.0", "1e0"):
        assert labels(client.get(URL, {"win_rate__gte": one, "win_rate__lte": one})) == ["whole:v2", "whole:v1"]
    assert labels(client.get(URL, {"win_rate__gte": "1", "win_rate__lte": "1", "refusal_rate__gte": "0.1"})) == []
    assert labels(client.get(URL, {"win_rate__gte": "0.5", "win_rate__lte": "0.5", "model": "whole"})) == ["whole:v3"]


def test_it_filters_by_model_status_base_model_and_dataset(api, engineer, compliance, catalogue):
    services.version_retire(version=catalogue["v1"], actor=compliance, reason="old")
    client = api(engineer)

    assert labels(client.get(URL, {"model": "claims"})) == ["claims:c1"]
    assert labels(client.get(URL, {"status": "retired"})) == ["support:v1"]
    assert labels(client.get(URL, {"base_model": "gpt-4o-mini"})) == ["claims:c1"]
    assert labels(client.get(URL, {"dataset_sha256": sha("train-v1")})) == ["claims:c1", "support:v1"]
    assert labels(client.get(URL, {"dataset_sha256": catalogue["v2"].validation_file_sha256})) == ["support:v2"]


def test_it_filters_by_creation_time(api, engineer, catalogue):
    now = timezone.now()
    client = api(engineer)

    assert len(labels(client.get(URL, {"created_after": (now - timedelta(hours=1)).isoformat()}))) == 4
    assert labels(client.get(URL, {"created_before": (now - timedelta(hours=1)).isoformat()})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"win_rate__gte": "high"}, "win_rate__gte"),
        ({"status": "shipped"}, "status"),
        ({"dataset_sha256": "ABC"}, "dataset_sha256"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"winrate": "0.5"}, "winrate"),
        ({"page_size": "0"}, "page_size"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_it_names_a_bad_filter(api, engineer, catalogue, params, field):
    response = api(engineer).get(URL, params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_it_pages_with_a_stable_cursor(api, engineer, catalogue):
    client = api(engineer)
    first = client.get(URL, {"page_size": 2}).json()
    # A version registered between pages must not shift the second page.
    services.version_register(model=catalogue["v1"].model, actor=engineer, **version_payload(version="v9"))
    second = client.get(first["next"]).json()

    assert [v["version"] for v in first["results"]] == ["c1", "v3"]
    assert [v["version"] for v in second["results"]] == ["v2", "v1"]


@pytest.mark.parametrize(
    "path",
    [URL, "/api/v1/models/support/versions/", f"{URL}?win_rate__gte=0.1", "/api/v1/models/"],
)
def test_it_reads_a_page_in_a_constant_number_of_queries(api, engineer, catalogue, path):
    client = api(engineer)
    model = catalogue["v1"].model
    for n in range(10, 30):
        services.version_register(
            model=model,
            actor=engineer,
            evaluations=[evaluation_payload(), evaluation_payload(suite="second")],
            **version_payload(version=f"bulk{n}"),
        )
        services.model_create(actor=engineer, **model_payload())
    separator = "&" if "?" in path else "?"
    client.get(path)  # the token's first use is recorded (at most hourly): not a cost of the page

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{path}{separator}page_size={page_size}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        return len(queries)

    assert count(2) == count(20)
    # token+user, roles, the model, the page, its evaluations, the page's runways, the page's data cards
    assert count(20) <= 7


def test_it_lists_one_model_versions_only(api, engineer, catalogue):
    response = api(engineer).get("/api/v1/models/claims/versions/")

    assert labels(response) == ["claims:c1"]
    assert ModelVersion.objects.count() == 4


@pytest.fixture
def metric_spread(engineer):
    """25 versions over two models: some with no evaluation, some with one or two at win rate 0.61, some at 0.7."""
    models = [services.model_create(actor=engineer, **model_payload(name=name)) for name in ("spread-a", "spread-b")]
    matching = []
    for n in range(25):
        wins = [(0.61, 0.61), (0.7,), (), (0.61,), (0.7, 0.61)][n % 5]
        version = services.version_register(
            model=models[n % 2],
            actor=engineer,
            evaluations=[evaluation_payload(metrics={"win_rate": win}) for win in wins],
            **version_payload(version=f"s{n}"),
        )
        if 0.61 in wins:
            matching.append(f"{version.model.name}:s{n}")
    return matching[::-1]  # newest first


def walk(client, params: dict) -> tuple[list[str], list[str]]:
    """Every page forward by `next`, then from the last page back by `previous`: the labels each way, in list order."""
    forward, response = [], client.get(URL, params)
    while True:
        forward += labels(response)
        if not response.json()["next"]:
            break
        response = client.get(response.json()["next"])
    backward = labels(response)
    while response.json()["previous"]:
        response = client.get(response.json()["previous"])
        backward = labels(response) + backward
    return forward, backward


@pytest.mark.parametrize("page_size", [1, 3, 4, 50])
def test_a_search_by_metrics_alone_pages_through_every_match_once(api, engineer, metric_spread, page_size):
    # A search by metrics alone reads its page's versions from the evaluations (registry.selectors._page_of_matches):
    # a version with two matching evaluations is listed once, one with none never, forward and back.
    params = {"win_rate__gte": "0.61", "win_rate__lte": "0.61", "page_size": page_size}

    assert walk(api(engineer), params) == (metric_spread, metric_spread)


def test_a_search_by_metrics_and_more_pages_as_one_by_metrics_alone(api, engineer, metric_spread):
    # With another filter the page is not read from the evaluations first (EXISTS): the same versions, paged alike.
    params = {"win_rate__gte": "0.61", "win_rate__lte": "0.61", "page_size": 2}

    assert walk(api(engineer), {**params, "model": "spread-a"}) == ([v for v in metric_spread if "-a:" in v],) * 2
    assert walk(api(engineer), {**params, "status": "draft"}) == (metric_spread, metric_spread)


def test_a_search_by_metrics_alone_limits_its_read_of_the_evaluations_to_the_page(api, engineer, metric_spread):
    client = api(engineer)
    client.get(URL)  # the token's first use is recorded (at most hourly): not this page's

    with CaptureQueriesContext(connection) as queries:
        first = client.get(URL, {"win_rate__gte": "0.61", "page_size": 3})
        client.get(first.json()["next"])

    pages = [q["sql"] for q in queries.captured_queries if 'FROM "registry_modelversion"' in q["sql"]]
    assert len(pages) == 2
    # The versions' ids come from the evaluations, in the page's order, as many as the page needs (3 and 1 more).
    assert all('IN (SELECT DISTINCT U0."version_id"' in sql and "LIMIT 4)" in sql for sql in pages)
    assert 'EXISTS(SELECT 1 AS "a" FROM "registry_evaluationresult"' not in "".join(pages)
