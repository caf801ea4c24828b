"""The same bytes uploaded again are checked again when a golden set is new to them, and only then."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import services
from datasets.models import CheckStatus, DatasetCheck, DatasetKind
from tests.datasets.test_upload_streaming import jsonl, upload
from tests.sbs.helpers import golden_jsonl


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


def _checked_golden(engineer) -> str:
    result = services.dataset_upload(
        upload=SimpleUploadedFile("golden.jsonl", golden_jsonl([("g1", ["billing"]), ("g2", ["returns"])])),
        kind=DatasetKind.GOLDEN,
        base_model="gpt-4.1-mini",
        actor=engineer,
    )
    services.dataset_check_run(check_id=result.check.pk)
    return result.dataset.sha256


def _finish_checks() -> None:
    for check in DatasetCheck.objects.filter(status=CheckStatus.QUEUED):
        services.dataset_check_run(check_id=check.pk)


def test_it_checks_the_same_bytes_again_against_a_golden_set_they_never_met(api, engineer):
    content = jsonl()
    upload(api(engineer), content)
    _finish_checks()
    golden = _checked_golden(engineer)

    response = upload(api(engineer), content, golden=[golden])

    assert response.status_code == 202
    latest = DatasetCheck.objects.filter(dataset__sha256=response.json()["sha256"]).order_by("-id").first()
    assert latest.status == CheckStatus.QUEUED
    assert latest.goldens == [golden]
    _finish_checks()
    latest.refresh_from_db()
    assert latest.status == CheckStatus.DONE  # the file was there for it, though files are not kept


def test_it_does_not_check_again_when_the_golden_sets_are_the_same(api, engineer):
    golden = _checked_golden(engineer)
    content = jsonl()
    upload(api(engineer), content, golden=[golden])
    _finish_checks()
    checks = DatasetCheck.objects.count()

    again = upload(api(engineer), content, golden=[golden])
    plain = upload(api(engineer), content)

    assert (again.status_code, plain.status_code) == (200, 200)
    assert DatasetCheck.objects.count() == checks


def test_it_joins_a_check_still_running_instead_of_queueing_another(api, engineer):
    golden = _checked_golden(engineer)
    content = jsonl()
    upload(api(engineer), content)  # queued, not run

    again = upload(api(engineer), content, golden=[golden])

    assert again.status_code == 200
    assert DatasetCheck.objects.filter(dataset__sha256=again.json()["sha256"]).count() == 1
