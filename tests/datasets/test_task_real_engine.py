"""The check task with the real engine (datasets.checks): a report the API serves, the golden fingerprint kept."""

from __future__ import annotations

import pytest

from datasets.models import CheckStatus, Dataset
from tests.datasets.test_upload_streaming import jsonl, upload


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


def test_the_real_engine_reports_through_the_task(api, engineer, eager_celery, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        golden = upload(api(engineer), jsonl(12, tag="golden"), kind="golden").json()["sha256"]
    # The golden set's prompts, one blank line more: other bytes, every prompt leaked.
    with django_capture_on_commit_callbacks(execute=True):
        training = upload(api(engineer), jsonl(12, tag="golden") + b"\n", golden=[golden]).json()["sha256"]

    dataset = Dataset.objects.get(sha256=training)
    check = dataset.checks.get()
    assert check.status == CheckStatus.DONE, check.error
    assert check.progress == 100
    assert dataset.report["sha256"] == training
    assert dataset.report["examples"] == 12
    assert dataset.report["leakage"]["exact"] == 12
    assert dataset.blocking == dataset.report["blocking"] > 0
    # The price row in force for the base model gives the dollar figure (regression: it was always None).
    cost = dataset.report["cost"]
    rate = float(cost["price"]["usd_per_1m_training_tokens"])
    assert cost["usd"] is not None and cost["usd"] == round(cost["billed_tokens"] / 1_000_000 * rate, 4)
    assert Dataset.objects.get(sha256=golden).fingerprint is not None
    assert "q0golden" not in str(Dataset.objects.get(sha256=golden).fingerprint)
