"""GET /api/v1/datasets/: filters, cursor pages, a constant number of queries; the detail and the check."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.datasets.test_upload_streaming import URL, jsonl, upload


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def test_it_filters_by_kind_and_base_model(api, engineer, executive):
    training = upload(api(engineer), jsonl(tag="a")).json()["sha256"]
    upload(api(engineer), jsonl(tag="b"), kind="golden")
    upload(api(engineer), jsonl(tag="c"), base_model="gpt-4o")

    body = api(executive).get(URL, {"kind": "training", "base_model": "gpt-4.1-mini"}).json()

    assert [row["sha256"] for row in body["results"]] == [training]
    assert "report" not in body["results"][0]


def test_it_refuses_an_unknown_kind(api, executive):
    response = api(executive).get(URL, {"kind": "poem"})
    assert response.status_code == 400
    assert "kind" in response.json()["error"]["fields"]


def test_it_pages_with_a_cursor_in_constant_queries(api, engineer, executive):
    client = api(executive)
    upload(api(engineer), jsonl(tag="0"))
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL).status_code == 200
    for i in range(1, 5):
        upload(api(engineer), jsonl(tag=str(i)))
    with CaptureQueriesContext(connection) as five:
        first = client.get(URL, {"page_size": 3}).json()
    assert len(five) == len(one)
    assert len(first["results"]) == 3
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert {r["sha256"] for r in first["results"]}.isdisjoint(r["sha256"] for r in second["results"])


def test_the_detail_and_the_check_answer_404_for_an_unknown_hash(api, executive):
    assert api(executive).get(f"{URL}{'0' * 64}/").status_code == 404
    assert api(executive).get(f"{URL}{'0' * 64}/check/").status_code == 404


def test_the_check_says_where_it_is(api, engineer, executive):
    sha = upload(api(engineer), jsonl()).json()["sha256"]
    body = api(executive).get(f"{URL}{sha}/check/").json()
    assert body["status"] == "queued"
    assert body["progress"] == 0
    assert body["requested_by"] == engineer.username


def test_a_recheck_needs_the_file(api, engineer, settings):
    from datasets.models import CheckStatus, DatasetCheck
    from datasets.tasks import dataset_check_task

    sha = upload(api(engineer), jsonl()).json()["sha256"]
    DatasetCheck.objects.update(status=CheckStatus.FAILED)
    (settings.DATASET_STORAGE / f"{sha}.jsonl").unlink()
    response = api(engineer).post(f"{URL}{sha}/check/", {}, format="json")
    assert response.status_code == 409
    assert dataset_check_task  # the task is importable by the name Celery routes
