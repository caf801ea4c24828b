"""The check task: progress to 100, the report on the dataset, golden fingerprints, the file removed."""

from __future__ import annotations

import pytest

from datasets import services
from datasets.models import CheckStatus, Dataset, DatasetCheck
from datasets.tasks import dataset_check_task
from tests.datasets.test_upload_streaming import jsonl, upload

SECRET_PROMPT = "q3-golden-secret"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


@pytest.fixture
def engine(monkeypatch):
    """A stand-in for datasets.checks (the engine has its own tests): reports what it was given."""
    calls = []

    def check_file(path, *, kind, base_model, goldens=(), price=None, policy=None, progress=None):
        lines = path.read_bytes().splitlines()
        for done in range(1, len(lines) + 1):
            progress(done, len(lines))
        calls.append({"goldens": list(goldens), "price": price, "policy": policy})
        return {"examples": len(lines), "blocking": 1, "warnings": 2, "findings": [], "price": price}

    def golden_fingerprint(path):
        return {"items": len(path.read_bytes().splitlines()), "hashes": ["0f" * 8]}

    monkeypatch.setattr(services, "check_file", check_file)
    monkeypatch.setattr(services, "golden_fingerprint", golden_fingerprint)
    return calls


def test_it_writes_the_report_and_ends_at_100(api, engineer, engine, eager_celery, django_capture_on_commit_callbacks):
    progress_seen = []
    original = services._progress_writer

    def spying_writer(check):
        tick = original(check)

        def recorded(done, total):
            tick(done, total)
            progress_seen.append(DatasetCheck.objects.get(pk=check.pk).progress)

        return recorded

    services._progress_writer = spying_writer
    try:
        with django_capture_on_commit_callbacks(execute=True):
            sha = upload(api(engineer), jsonl(12)).json()["sha256"]
    finally:
        services._progress_writer = original

    dataset = Dataset.objects.get(sha256=sha)
    check = dataset.checks.get()
    assert check.status == CheckStatus.DONE
    assert check.progress == 100
    assert progress_seen == sorted(progress_seen) and 0 < progress_seen[0] < 100
    assert dataset.report["examples"] == 12
    assert (dataset.blocking, dataset.warnings, dataset.policy_version) == (1, 2, 0)
    assert dataset.report["price"]["base_model"] == "gpt-4.1-mini"
    assert dataset.report["price"]["usd_per_1m_training_tokens"] == "5.0000"
    # Progress is bookkeeping: the dataset's history holds the upload and the report, nothing per tick.
    assert dataset.history.count() == 2

    body = api(engineer).get(f"/api/v1/datasets/{sha}/").json()
    assert body["check"] == {"status": "done", "progress": 100, "url": body["check"]["url"]}
    assert body["report"]["examples"] == 12


def test_it_deletes_the_file_after_the_check(api, engineer, engine, eager_celery, settings):

    sha = upload(api(engineer), jsonl()).json()["sha256"]
    check = DatasetCheck.objects.get()
    dataset_check_task(check.pk)

    assert not (settings.DATASET_STORAGE / f"{sha}.jsonl").exists()
    assert list(settings.DATASET_STORAGE.iterdir()) == []
    assert Dataset.objects.get().file_path == ""


def test_it_keeps_the_file_when_told(api, engineer, engine, settings):
    settings.DATASET_KEEP_FILES = True
    sha = upload(api(engineer), jsonl()).json()["sha256"]
    dataset_check_task(DatasetCheck.objects.get().pk)

    path = settings.DATASET_STORAGE / f"{sha}.jsonl"
    assert path.read_bytes() == jsonl()
    assert Dataset.objects.get().file_path == str(path)


def test_a_second_delivery_does_nothing(api, engineer, engine):
    upload(api(engineer), jsonl())
    check = DatasetCheck.objects.get()
    dataset_check_task(check.pk)
    assert dataset_check_task(check.pk) is None
    assert len(engine) == 1


def test_a_golden_set_keeps_its_fingerprint_and_no_raw_text(api, engineer, engine, settings):
    content = jsonl(tag=SECRET_PROMPT)
    sha = upload(api(engineer), content, kind="golden").json()["sha256"]
    dataset_check_task(DatasetCheck.objects.get().pk)

    golden = Dataset.objects.get(sha256=sha)
    assert golden.fingerprint == {"items": 12, "hashes": ["0f" * 8]}
    stored = str(golden.fingerprint) + str(golden.report) + str(list(golden.history.values()))
    assert SECRET_PROMPT not in stored
    assert not (settings.DATASET_STORAGE / f"{sha}.jsonl").exists()


def test_the_leakage_check_gets_named_and_cited_goldens(api, engineer, engine):
    from registry.models import EvaluationResult, ModelVersion, RegisteredModel

    cited = upload(api(engineer), jsonl(tag="cited"), kind="golden").json()["sha256"]
    named = upload(api(engineer), jsonl(tag="named"), kind="golden").json()["sha256"]
    for check in DatasetCheck.objects.all():
        dataset_check_task(check.pk)
    training = jsonl(tag="train")
    import hashlib

    training_sha = hashlib.sha256(training).hexdigest()
    model = RegisteredModel.objects.create(name="support-bot", base_model="gpt-4.1-mini", created_by=engineer)
    version = ModelVersion.objects.create(
        model=model,
        version="1",
        base_model="gpt-4.1-mini",
        training_file_sha256=training_sha,
        changelog="First.",
        created_by=engineer,
    )
    EvaluationResult.objects.create(
        version=version, suite="s", golden_set_sha256=cited, metrics={}, ran_by=engineer, ran_at=version.created_at
    )
    engine.clear()

    upload(api(engineer), training, golden=[named])
    dataset_check_task(DatasetCheck.objects.get(dataset__sha256=training_sha).pk)

    assert sorted(g["sha256"] for g in engine[0]["goldens"]) == sorted([cited, named])
    assert DatasetCheck.objects.get(dataset__sha256=training_sha).goldens == sorted([cited, named])


def test_an_engine_failure_fails_the_check_and_keeps_the_reason(api, engineer, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("cannot read this")

    monkeypatch.setattr(services, "check_file", broken)
    upload(api(engineer), jsonl())
    dataset_check_task(DatasetCheck.objects.get().pk)

    check = DatasetCheck.objects.get()
    assert check.status == CheckStatus.FAILED
    assert "cannot read this" in check.error
    assert Dataset.objects.get().report is None
