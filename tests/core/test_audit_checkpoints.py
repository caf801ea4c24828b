"""Signed checkpoints of the audit chain: written outside the database, never overwritten, read back by the verifier."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from core import verifier
from core.audit_runs import latest_verified_checkpoint, verification_run
from core.chain import chained_models
from core.checkpoints import CheckpointExists, CheckpointNotWritten, checkpoint_dict, checkpoint_make, checkpoints_load
from core.demo import demo_clock
from core.fake_s3 import FakeS3, serve
from core.models import AuditCheckpoint, AuditVerification, ChainHead
from core.tasks import audit_checkpoint_make_task
from registry import services
from tests.conftest import make_user, model_payload

INSTANT = datetime(2026, 11, 30, 16, 0, 10, 123456, tzinfo=UTC)
BUCKET = "fineprint-audit"


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path) -> Path:
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_CHECKPOINT_S3_BUCKET = ""
    return settings.AUDIT_CHECKPOINT_DIR


@pytest.fixture
def fake_s3(settings, monkeypatch):
    """A fake S3-compatible server on loopback with one empty bucket, and the settings pointed at it."""
    state = FakeS3()
    state.buckets[BUCKET] = {}
    server, thread = serve(state)
    for name, value in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
    ]:
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AUDIT_CHECKPOINT_S3_BUCKET = BUCKET
    settings.AUDIT_CHECKPOINT_S3_PREFIX = "fineprint/checkpoints/"
    settings.AUDIT_CHECKPOINT_S3_ENDPOINT_URL = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def history_rows() -> int:
    return sum(model._base_manager.count() for model in chained_models())


def signature_of(content: dict, key: str) -> str:
    """The signature recomputed from the file's fields, the way an auditor's script would."""
    signed = {k: v for k, v in content.items() if k != "signature"}
    document = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(key.encode(), b"fineprint-audit-signature-v1\n" + document, hashlib.sha256).hexdigest()


def test_it_writes_a_signed_checkpoint_of_the_chain_head(settings, registered_model):
    checkpoint = checkpoint_make()

    head = ChainHead.objects.get()
    content = json.loads(Path(checkpoint.location).read_text(encoding="utf-8"))
    assert set(content) == {"kind", "seq", "row_hash", "key_id", "rows", "made_at", "signature"}
    assert content["kind"] == "fineprint-audit-checkpoint"
    assert content["seq"] == head.seq == history_rows() > 0
    assert content["rows"] == history_rows()
    assert content["row_hash"] == head.row_hash
    assert content["made_at"] == checkpoint.made_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert content["signature"] == signature_of(content, settings.AUDIT_CHAIN_KEY)
    assert Path(checkpoint.location).name == f"checkpoint-{head.seq:012d}-{checkpoint.made_at:%Y%m%dT%H%M%S%fZ}.json"
    assert checkpoint_dict(checkpoint) == content


def test_checkpoints_load_back_in_link_order_and_pass_the_verifier(registered_model, engineer):
    first = checkpoint_make()
    services.model_create(actor=engineer, **model_payload())
    second = checkpoint_make()

    loaded = checkpoints_load()

    assert [c["seq"] for c in loaded] == [first.seq, second.seq] and first.seq < second.seq
    assert [c["location"] for c in loaded] == [first.location, second.location]
    result = verifier.walk(checkpoints=loaded)
    assert result.ok, result.first_break
    assert result.checkpoints_checked == 2


def test_a_checkpoint_file_is_never_overwritten(checkpoint_dir, registered_model):
    with demo_clock(INSTANT) as clock:
        clock.at(INSTANT)
        first = checkpoint_make()
        written = Path(first.location).read_bytes()
        clock.at(INSTANT)  # the same instant and the same head: the same file name
        with pytest.raises(CheckpointExists, match="never overwritten"):
            checkpoint_make()

    assert Path(first.location).read_bytes() == written
    assert AuditCheckpoint.objects.count() == 1
    assert len(list(checkpoint_dir.iterdir())) == 1


def test_a_file_that_is_not_a_checkpoint_is_reported_as_a_bad_signature(checkpoint_dir, registered_model):
    checkpoint_make()
    (checkpoint_dir / "checkpoint-000000000007-20261130T160010123456Z.json").write_bytes(b"\xff{not json")

    loaded = checkpoints_load()
    run = verification_run()

    assert len(loaded) == 2
    assert any(c["seq"] == 7 and "signature" not in c for c in loaded)
    assert not run.ok
    assert "checkpoint at link 7 has a bad signature" in run.problem


def test_the_daily_task_makes_a_checkpoint_as_the_service_account(settings, registered_model):
    checkpoint = AuditCheckpoint.objects.get(pk=audit_checkpoint_make_task())

    assert checkpoint.made_by.username == settings.FINEPRINT_SERVICE_USERNAME
    assert Path(checkpoint.location).is_file()


# --- The S3 copy -------------------------------------------------------------------------


def test_it_writes_the_checkpoint_to_the_bucket_too(fake_s3, settings, registered_model):
    checkpoint = checkpoint_make()

    path, url = checkpoint.location.split("; ")
    key = f"fineprint/checkpoints/{Path(path).name}"
    assert url == f"s3://{BUCKET}/{key}"
    assert fake_s3.objects(BUCKET) == {key: Path(path).read_bytes()}
    # And boto3 reads it back from the same server, as an auditor's tooling would.
    client = boto3.client("s3", endpoint_url=settings.AUDIT_CHECKPOINT_S3_ENDPOINT_URL)
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(body)["signature"] == checkpoint.signature


def test_the_bucket_refuses_to_overwrite_a_checkpoint_and_the_file_stays(
    fake_s3, settings, checkpoint_dir, registered_model
):
    seq = ChainHead.objects.get().seq
    # The name the next checkpoint takes (the demo clock ticks a millisecond before each reading).
    made_at = INSTANT + timedelta(milliseconds=1)
    key = f"fineprint/checkpoints/checkpoint-{seq:012d}-{made_at:%Y%m%dT%H%M%S%fZ}.json"
    older = b'{"an": "older checkpoint under the same name"}'
    boto3.client("s3", endpoint_url=settings.AUDIT_CHECKPOINT_S3_ENDPOINT_URL).put_object(
        Bucket=BUCKET, Key=key, Body=older
    )

    with demo_clock(INSTANT) as clock:
        clock.at(INSTANT)
        with pytest.raises(CheckpointExists, match=f"s3://{BUCKET}/{key} exists already"):
            checkpoint_make()

    assert fake_s3.objects(BUCKET) == {key: older}
    local = checkpoint_dir / key.rsplit("/", 1)[1]
    assert json.loads(local.read_text())["seq"] == seq  # the file outside the database stays, for the verifier
    assert not AuditCheckpoint.objects.exists()


def test_a_missing_bucket_is_a_clear_error(fake_s3, settings, registered_model):
    settings.AUDIT_CHECKPOINT_S3_BUCKET = "no-such-bucket"

    with pytest.raises(CheckpointNotWritten, match=r"s3://no-such-bucket/.* was not written: NoSuchBucket"):
        checkpoint_make()


# --- Which checkpoint a passed run vouches for ------------------------------------------------


def test_the_latest_verified_checkpoint_is_one_a_later_passed_run_reached(registered_model, engineer):
    assert latest_verified_checkpoint() is None
    checked = checkpoint_make()
    verification_run()
    services.model_create(actor=engineer, **model_payload())
    checkpoint_make()  # made after the last run: no run has compared it with the chain yet

    assert latest_verified_checkpoint() == checked


def test_a_failed_run_vouches_for_nothing(registered_model):
    checkpoint_make()
    AuditVerification.objects.create(
        scope=AuditVerification.Scope.FULL,
        started_at=datetime.now(tz=UTC),
        finished_at=datetime.now(tz=UTC),
        last_seq=10**9,
        ok=False,
    )

    assert latest_verified_checkpoint() is None


# --- The admin ---------------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_compliance_makes_a_checkpoint_from_the_list(compliance, registered_model):
    page = logged_in(compliance).get("/admin/core/auditcheckpoint/").content.decode()
    assert "Make a checkpoint now" in page

    response = logged_in(compliance).post("/admin/core/auditcheckpoint/make/", follow=True)

    checkpoint = AuditCheckpoint.objects.get()
    html = response.content.decode()
    assert checkpoint.made_by == compliance
    assert f"Checkpoint at link {checkpoint.seq} written to {checkpoint.location}" in html
    assert checkpoint.key_id in html
    detail = logged_in(compliance).get(f"/admin/core/auditcheckpoint/{checkpoint.pk}/change/").content.decode()
    assert checkpoint.signature in detail


def test_only_those_who_may_add_checkpoints_make_one(compliance, registered_model):
    viewer = make_user("vic-viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_auditcheckpoint"))

    page = logged_in(viewer).get("/admin/core/auditcheckpoint/")
    refused = logged_in(viewer).post("/admin/core/auditcheckpoint/make/")

    assert page.status_code == 200 and "Make a checkpoint now" not in page.content.decode()
    assert refused.status_code == 403
    assert not AuditCheckpoint.objects.exists()


def test_the_runs_list_says_passed_or_failed_in_words(compliance, registered_model):
    verification_run()
    (Path(checkpoint_make().location)).write_text("{}")
    verification_run()

    html = logged_in(compliance).get("/admin/core/auditverification/").content.decode()

    assert "Passed" in html and "Failed" in html
    assert "has a bad signature" in html
