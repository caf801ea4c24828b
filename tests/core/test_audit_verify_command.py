"""manage.py audit_verify: names the first broken link and exits 1; starts from a checkpoint with --since."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from core import chain, verifier
from core.checkpoints import checkpoint_make
from core.models import AuditVerification, ChainHead
from registry import services
from risks.models import Risk
from tests.conftest import model_payload
from tests.records import one_of_each


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path) -> Path:
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_CHECKPOINT_S3_BUCKET = ""
    return settings.AUDIT_CHECKPOINT_DIR


@pytest.fixture
def records(registered_model, engineer, compliance):
    return one_of_each(model=registered_model, engineer=engineer, compliance=compliance)


def history_rows() -> int:
    return sum(model._base_manager.count() for model in chain.chained_models())


def verify(*args) -> str:
    out = StringIO()
    call_command("audit_verify", *args, stdout=out)
    return out.getvalue()


def verify_fails(*args) -> str:
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", *args, stdout=out)
    assert failure.value.returncode == 1
    return out.getvalue()


def tamper(history_row, **columns) -> None:
    """Change a history row behind the application's back, as a superuser with the triggers off would."""
    table = history_row._meta.db_table
    assignments = ", ".join(f'"{name}" = %s' for name in columns)
    sql = f'UPDATE "{table}" SET {assignments} WHERE history_id = %s'  # noqa: S608 - names from the model
    with chain.history_rewrite(), connection.cursor() as cursor:
        cursor.execute(sql, [*columns.values(), history_row.pk])


def test_it_passes_on_an_untouched_database(records):
    checkpoint_make()

    out = verify()

    run = AuditVerification.objects.get()
    rows = history_rows()
    assert run.ok and run.scope == "full" and run.rows_checked == rows and run.last_seq == rows
    assert f"Checked {rows} rows in " in out and "rows/s" in out
    assert f"intact up to link {rows}" in out


def test_a_tampered_row_is_named_with_its_table_row_and_hashes(records):
    row = records.risk.history.earliest()
    stored_hash = row.chain_hash
    tamper(row, title="A milder title")

    out = verify_fails()

    run = AuditVerification.objects.get()
    table = Risk.history.model._meta.db_table
    assert not run.ok
    assert (run.break_table, run.break_row_id, run.break_seq) == (table, row.pk, row.chain_seq)
    assert run.last_seq == run.rows_checked == row.chain_seq - 1  # the links before it are intact
    assert run.break_object_id == str(records.risk.pk)
    assert run.found_hash == stored_hash and re.fullmatch("[0-9a-f]{64}", run.expected_hash)
    assert run.expected_hash != stored_hash
    assert "BROKEN: hash does not match the row" in out
    assert f"Table: {table}" in out
    assert f"Row id: {row.pk}" in out
    assert f"Object: {records.risk.pk}" in out
    assert f"Link (seq): {row.chain_seq}" in out
    assert f"Expected hash: {run.expected_hash}" in out
    assert f"Found hash: {stored_hash}" in out


def test_since_a_checkpoint_it_checks_only_the_later_rows(records, engineer):
    verify()  # a passed run that the checkpoint below then stands on
    checkpoint = checkpoint_make()
    verify()
    before = history_rows()
    services.model_create(actor=engineer, **model_payload())
    added = history_rows() - before
    # A row before the checkpoint is changed: a run since the checkpoint does not look at it ...
    tamper(records.risk.history.earliest(), title="A milder title")

    for given in ["", str(checkpoint.pk), Path(checkpoint.location).name, checkpoint.location]:
        out = verify("--since", given) if given else verify("--since")
        run = AuditVerification.objects.latest("id")
        assert run.ok and run.scope == "since" and run.since == checkpoint, given
        assert run.rows_checked == added > 0
        assert f"Checked {added} rows after checkpoint {checkpoint.pk} (link {checkpoint.seq})" in out

    # ... and the full run does.
    assert "hash does not match the row" in verify_fails()


def test_since_a_checkpoint_a_later_tampered_row_fails(records, engineer):
    verify()
    checkpoint_make()
    verify()
    model = services.model_create(actor=engineer, **model_payload())
    row = model.history.get()
    tamper(row, purpose="Something else")

    out = verify_fails("--since")

    run = AuditVerification.objects.latest("id")
    assert run.scope == "since" and run.break_row_id == row.pk
    assert f"Row id: {row.pk}" in out


def test_a_checkpoint_whose_file_was_edited_fails_verification(records):
    checkpoint = checkpoint_make()
    path = Path(checkpoint.location)
    content = json.loads(path.read_text())
    content["rows"] -= 1
    path.write_text(json.dumps(content))

    out = verify_fails()

    assert f"BROKEN: checkpoint at link {checkpoint.seq} has a bad signature" in out


def test_rows_deleted_from_the_tail_with_the_head_rolled_back_are_found_by_the_checkpoint(records):
    checkpoint = checkpoint_make()
    keep = checkpoint.seq - 5
    kept = next(
        row
        for model in chain.chained_models()
        for row in model._base_manager.filter(chain_seq=keep).values("chain_hash", "chain_key")
    )
    with chain.history_rewrite(), connection.cursor() as cursor:
        for model in chain.chained_models():
            cursor.execute(f'DELETE FROM "{model._meta.db_table}" WHERE chain_seq > %s', [keep])  # noqa: S608
        cursor.execute(
            "UPDATE core_chainhead SET seq = %s, row_hash = %s, key_id = %s WHERE id = %s",
            [keep, kept["chain_hash"], kept["chain_key"], chain.HEAD_ID],
        )
    assert ChainHead.objects.get().seq == keep == history_rows()
    assert verifier.walk().ok  # rows and head agree: only the checkpoint outside remembers more

    out = verify_fails()

    assert f"the chain ends at link {keep}, but a checkpoint made" in out
    assert f"recorded link {checkpoint.seq} (rows deleted from the tail)" in out


def test_since_a_checkpoint_whose_link_was_deleted_fails(records):
    verify()
    checkpoint = checkpoint_make()
    verify()
    with chain.history_rewrite(), connection.cursor() as cursor:
        for model in chain.chained_models():
            cursor.execute(f'DELETE FROM "{model._meta.db_table}" WHERE chain_seq >= %s', [checkpoint.seq])  # noqa: S608

    out = verify_fails("--since", str(checkpoint.pk))

    assert f"link {checkpoint.seq}, where the walk starts" in out and "is missing (deleted)" in out


def test_an_unknown_checkpoint_is_refused(records):
    with pytest.raises(CommandError, match="No checkpoint with id 999999"):
        call_command("audit_verify", "--since", "999999", stdout=StringIO())
    with pytest.raises(CommandError, match=r"No checkpoint file nowhere\.json"):
        call_command("audit_verify", "--since", "nowhere.json", stdout=StringIO())
    assert not AuditVerification.objects.exists()


def test_audit_checkpoint_prints_where_it_wrote(records):
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)

    head = ChainHead.objects.get()
    written = out.getvalue()
    assert f"at link {head.seq}" in written
    path = re.search(r"Written to (\S+)", written).group(1)
    assert json.loads(Path(path).read_text())["row_hash"] == head.row_hash
