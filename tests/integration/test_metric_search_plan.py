"""A search for one metric value reads its page from the metric's index in the versions' order (registry.selectors)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from tests.conftest import evaluation_payload, model_payload, sha, version_payload


@pytest.fixture
def spread(engineer):
    model = services.model_create(actor=engineer, **model_payload(name="spread"))
    for n in range(12):
        services.version_register(
            model=model,
            actor=engineer,
            evaluations=[evaluation_payload(metrics={"win_rate": (0.61, 0.7)[n % 2], "refusal_rate": 0.02})],
            **version_payload(version=f"s{n}", training_file_sha256=sha(f"s{n}")),
        )


def _page_plan(api, user, params: dict) -> str:
    """The plan PostgreSQL picks for the search's page statement, were walking the table not cheapest."""
    with CaptureQueriesContext(connection) as queries:
        response = api(user).get("/api/v1/versions/", {**params, "page_size": 3})
    assert response.status_code == 200 and len(response.json()["results"]) == 3
    [page] = [q["sql"] for q in queries.captured_queries if 'FROM "registry_modelversion"' in q["sql"]]
    # A dozen rows fit one page of the table, which any plan would read whole: price that out, as a large
    # table does, to see what the indexes can give.
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            cursor.execute(f"EXPLAIN {page}")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")


@pytest.mark.parametrize("metric", ["win_rate", "refusal_rate"])
def test_a_search_for_one_value_reads_its_page_in_order_from_the_metrics_index(api, engineer, spread, metric):
    value = "0.61" if metric == "win_rate" else "0.02"
    plan = _page_plan(api, engineer, {f"{metric}__gte": value, f"{metric}__lte": value})

    # Read backward from (metric, version): newest first, no sort, so a page stops after a page's worth of entries.
    assert re.search(rf"Index (Only )?Scan Backward using evaluation_{metric} on registry_evaluationresult", plan), plan
    assert "Sort" not in plan, plan


def test_a_range_still_reads_the_metrics_index(api, engineer, spread):
    plan = _page_plan(api, engineer, {"win_rate__gte": "0.6", "win_rate__lte": "0.65"})

    assert "using evaluation_win_rate on registry_evaluationresult" in plan, plan
