"""POST .../sbs-runs/ with an Idempotency-Key: a retry answers the first run instead of recording a second."""

from __future__ import annotations

import pytest

from registry.models import EvaluationResult
from sbs.models import SbsRun
from tests.sbs.helpers import golden_version


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"


def test_it_records_one_run_for_a_retried_post(api, engineer, registered_version):
    golden = golden_version(engineer, [("b-1", ["billing"])])
    url = f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/sbs-runs/"
    body = {
        "golden_set_sha256": golden.sha256,
        "baseline": registered_version.model.base_model,
        "judge": "human",
        "verdicts": [{"item": "b-1", "outcome": "win", "rater": "ann"}],
    }
    evaluations = EvaluationResult.objects.count()
    client = api(engineer)

    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="run-42")
    retry = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="run-42")
    reused = client.post(url, {**body, "judge": "gpt-4.1"}, format="json", HTTP_IDEMPOTENCY_KEY="run-42")

    assert first.status_code == retry.status_code == 201
    assert retry.json()["id"] == first.json()["id"]
    assert retry["Idempotent-Replayed"] == "true"
    assert reused.status_code == 409
    assert SbsRun.objects.count() == 1
    assert EvaluationResult.objects.count() == evaluations + 1
