"""The auditor's export: a ZIP whose own verify.py checks it with a bare Python, and fails on a one-byte change."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from core import auditkit, auditor_cli, chain
from core.audit import Source
from core.audit_export import audit_export_create, export_path, period_of_days, verify_script
from core.checkpoints import checkpoint_make
from core.errors import ValidationFailed
from core.models import AuditExport
from registry import services
from tests.conftest import model_payload
from tests.records import one_of_each

NEW_KEY = "rotated-audit-chain-key-for-the-export-tests-0123456789"


@pytest.fixture(autouse=True)
def _folders(settings, tmp_path):
    settings.AUDIT_EXPORT_DIR = tmp_path / "exports"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"


@pytest.fixture
def records(registered_model, engineer, compliance):
    """One record of each kind, a checkpoint in the middle of their history, then more history after it."""
    made = one_of_each(model=registered_model, engineer=engineer, compliance=compliance)
    checkpoint_make(actor=compliance)
    services.model_create(actor=engineer, **model_payload())
    return made


def around_today() -> tuple:
    return period_of_days(date.today() - timedelta(days=1), date.today() + timedelta(days=1))


def exported(actor, reason: str = "Annual audit, asked by Deloitte") -> AuditExport:
    period_from, period_to = around_today()
    return audit_export_create(actor=actor, period_from=period_from, period_to=period_to, reason=reason)


def unpack(export: AuditExport, folder: Path) -> Path:
    folder.mkdir()
    with zipfile.ZipFile(export_path(export)) as archive:
        archive.extractall(folder)
    return folder


def key_file(folder: Path, name: str, key: str) -> Path:
    path = folder / name
    path.write_text(key + "\n")
    return path


def verify(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """As an auditor runs it: no site-packages, no PYTHONPATH, nothing of Fineprint's but verify.py itself."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", ".", *args],
        cwd=folder,
        env=env or {},
        capture_output=True,
        text=True,
        timeout=60,
    )


def flip(path: Path, near: bytes) -> None:
    """Change one byte: the first letter or digit after `near`, to another of its kind."""
    data = bytearray(path.read_bytes())
    at = data.index(near) + len(near)
    while not chr(data[at]).isalnum():
        at += 1
    data[at] = (
        ord("b")
        if data[at] == ord("a")
        else ord("1")
        if data[at] == ord("0")
        else ord("a" if chr(data[at]).isalpha() else "0")
    )
    path.write_bytes(bytes(data))


def resign(folder: Path, key: str) -> None:
    """What an insider holding the key does after editing a file: fix its SHA-256 and sign the manifest again."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name]["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    data = json.dumps(manifest, indent=2).encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "manifest.sig").write_text(auditkit.sign(key.encode(), data))


def test_it_verifies_with_its_own_verify_py_and_a_bare_python(records, compliance, settings, tmp_path):
    export = exported(compliance)
    folder = unpack(export, tmp_path / "unpacked")

    result = verify(folder, env={"AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: the export is complete and every link of the chain verifies" in result.stdout
    assert "OK    1 checkpoint signature\n" in result.stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    in_range = sum(
        m._base_manager.filter(chain_seq__range=(export.first_seq, export.last_seq)).count()
        for m in chain.chained_models()
    )
    assert export.rows == manifest["rows"] == in_range == export.last_seq - export.first_seq + 1
    assert export.sha256 == hashlib.sha256(export_path(export).read_bytes()).hexdigest()
    assert manifest["link_before"] == {"seq": 0, "hash": auditkit.GENESIS, "key_id": ""}  # the chain's start
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.txt",
        "checkpoints",
        "history",
        "manifest.json",
        "manifest.sig",
        "verify.py",
    ]


def test_each_row_is_the_document_its_hash_covers(records, compliance, tmp_path):
    folder = unpack(exported(compliance), tmp_path / "unpacked")
    table = "registry_historicalregisteredmodel"

    line = json.loads((folder / f"history/{table}.jsonl").read_text().splitlines()[0])
    model = next(m for m in chain.chained_models() if m._meta.db_table == table)
    stored = model._base_manager.get(pk=line["history_id"])

    assert chain.instance_document(stored) == auditkit.canonical({"table": table, "row": line["row"]})
    assert line["chain_hash"] == stored.chain_hash and line["seq"] == stored.chain_seq
    header = (folder / f"history/{table}.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["seq", "table", "history_id", "chain_hash"] and "history_change_reason" in header
    m2m = (folder / "history/core_historicaluser_groups.csv").read_text().splitlines()[0].split(",")
    assert m2m[:4] == header[:4] and "row.history_id" in m2m  # the history row it belongs to, not its own id


@pytest.mark.parametrize(
    ("name", "near", "named"),
    [
        (
            "history/registry_historicalregisteredmodel.jsonl",
            b'"purpose":"',
            "registry_historicalregisteredmodel.jsonl",
        ),
        ("history/registry_historicalregisteredmodel.csv", b"Answers", "registry_historicalregisteredmodel.csv"),
        ("checkpoints", b'"rows": ', "checkpoints/checkpoint-"),
        ("manifest.json", b'"generated_by": "', "manifest.sig: the manifest's signature does not match"),
    ],
)
def test_a_one_byte_change_fails_and_is_named(records, compliance, settings, tmp_path, name, near, named):
    folder = unpack(exported(compliance), tmp_path / "unpacked")
    target = folder / name
    flip(next(target.iterdir()) if target.is_dir() else target, near)

    result = verify(folder, env={"AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY})

    assert result.returncode == 1
    assert "FAILED: " in result.stdout and named in result.stdout


def test_a_changed_row_with_a_resigned_manifest_fails_at_its_link(records, compliance, settings, tmp_path):
    # An insider with the key fixes the manifest, but cannot make the row's hash fit without rewriting every later one.
    export = exported(compliance)
    folder = unpack(export, tmp_path / "unpacked")
    jsonl = folder / "history/registry_historicalregisteredmodel.jsonl"
    flip(jsonl, b'"purpose":"')
    line = json.loads(jsonl.read_text().splitlines()[0])
    csv_path = folder / "history/registry_historicalregisteredmodel.csv"
    csv_path.write_bytes(
        auditor_cli.csv_file(
            [json.loads(raw) for raw in jsonl.read_text().splitlines()],
            csv_path.read_text().splitlines()[0].split(","),
        )
    )
    resign(folder, settings.AUDIT_CHAIN_KEY)

    result = verify(folder, env={"AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY})

    assert result.returncode == 1
    assert f"FAILED: link {line['seq']} (registry_historicalregisteredmodel row {line['history_id']})" in result.stdout
    assert "its hash does not match the row" in result.stdout


def test_a_csv_that_says_otherwise_than_its_jsonl_fails(records, compliance, settings, tmp_path):
    folder = unpack(exported(compliance), tmp_path / "unpacked")
    flip(folder / "history/registry_historicalregisteredmodel.csv", b"Answers")
    resign(folder, settings.AUDIT_CHAIN_KEY)

    result = verify(folder, env={"AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY})

    assert result.returncode == 1
    assert "registry_historicalregisteredmodel.csv line 2 differs from link" in result.stdout


def test_without_the_key_it_checks_the_manifest_only_and_says_so(records, compliance, tmp_path):
    folder = unpack(exported(compliance), tmp_path / "unpacked")

    result = verify(folder)

    assert result.returncode == 0
    assert "PASSED (manifest only)" in result.stdout and "the chain was NOT checked" in result.stdout
    flip(folder / "history/registry_historicalregisteredmodel.jsonl", b'"purpose":"')
    assert verify(folder).returncode == 1  # the manifest's SHA-256 still catches a change made after export


def test_it_reads_the_zip_itself_and_names_a_damaged_one(records, compliance, settings, tmp_path):
    export = exported(compliance)
    folder = tmp_path / "auditor"
    folder.mkdir()
    zipped = folder / "export.zip"
    zipped.write_bytes(export_path(export).read_bytes())
    (folder / "verify.py").write_bytes(zipfile.ZipFile(zipped).read("verify.py"))
    env = {"AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY}

    run = [sys.executable, "-I", "-S", "verify.py", "export.zip"]
    assert subprocess.run(run, cwd=folder, env=env, capture_output=True, timeout=60).returncode == 0
    data = bytearray(zipped.read_bytes())
    data[len(data) // 3] ^= 0x01
    zipped.write_bytes(bytes(data))
    damaged = subprocess.run(run, cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert damaged.returncode == 1 and "FAILED: " in damaged.stdout and "Traceback" not in damaged.stderr


def test_a_period_across_a_key_rotation_verifies_with_both_keys(records, compliance, engineer, settings, tmp_path):
    old_key = settings.AUDIT_CHAIN_KEY
    settings.AUDIT_CHAIN_KEY, settings.AUDIT_CHAIN_OLD_KEYS = NEW_KEY, [old_key]
    services.model_create(actor=engineer, **model_payload())
    folder = unpack(exported(compliance), tmp_path / "unpacked")
    keys = tmp_path / "keys"
    keys.mkdir()
    new, old = key_file(keys, "new.txt", NEW_KEY), key_file(keys, "old.txt", old_key)

    both = verify(folder, "--key-file", str(new), "--old-key-file", str(old))
    new_only = verify(folder, "--key-file", str(new))

    assert both.returncode == 0, both.stdout + both.stderr
    assert f"key {auditkit.key_id(NEW_KEY.encode())} from link" in both.stdout
    assert set(json.loads((folder / "manifest.json").read_text())["key_ids"]) == {
        auditkit.key_id(NEW_KEY.encode()),
        auditkit.key_id(old_key.encode()),
    }
    assert new_only.returncode == 1
    assert f"is under key '{auditkit.key_id(old_key.encode())}', which was not given" in new_only.stdout


def test_the_export_is_recorded_in_history_with_who_and_why(records, compliance):
    export = exported(compliance, reason="Annual audit, asked by Deloitte")

    row = export.history.get()
    assert row.history_user == compliance
    assert row.history_change_reason == "Annual audit, asked by Deloitte"
    assert (row.first_seq, row.last_seq, row.sha256) == (export.first_seq, export.last_seq, export.sha256)


def test_verify_py_is_auditkit_itself_with_nothing_from_fineprint(db):
    script = verify_script().decode()

    assert Path(auditkit.__file__).read_text().rstrip() in script
    assert "from core" not in script and "import django" not in script


def test_it_refuses_a_period_that_ends_before_it_starts_or_holds_nothing(records, compliance):
    with pytest.raises(ValidationFailed, match="ends"):
        period_of_days(date(2026, 3, 2), date(2026, 3, 1))
    first, last = period_of_days(date(2001, 1, 1), date(2001, 1, 31))
    with pytest.raises(ValidationFailed, match="nothing to export"):
        audit_export_create(actor=compliance, period_from=first, period_to=last, reason="Audit")
    with pytest.raises(ValidationFailed, match="reason"):
        audit_export_create(actor=compliance, period_from=first, period_to=last, reason=" ")
    assert not AuditExport.objects.exists()


# --- The command ---------------------------------------------------------------------------------


def test_the_command_writes_the_zip_as_the_service_account(records, settings, tmp_path):
    out = tmp_path / "out.zip"
    today = date.today()

    call_command("audit_export", "--from", str(today - timedelta(1)), "--to", str(today), str(out))

    export = AuditExport.objects.get()
    row = export.history.get()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == export.sha256
    assert row.history_user.username == settings.FINEPRINT_SERVICE_USERNAME
    assert row.history_source == Source.COMMAND
    assert "manage.py audit_export, run by" in row.history_change_reason


def test_the_command_records_the_user_given(records, compliance, tmp_path):
    today = str(date.today())

    call_command("audit_export", "--from", today, "--to", today, "--user", compliance.username, str(tmp_path / "a.zip"))

    assert AuditExport.objects.get().history.get().history_user == compliance


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-03-02", "--to", "2026-03-01"], "ends (2026-03-01) before it starts (2026-03-02)"),
        (["--from", "2026-02-30", "--to", "2026-03-01"], "'2026-02-30' is not a date (YYYY-MM-DD)"),
        (["--from", "yesterday", "--to", "2026-03-01"], "'yesterday' is not a date"),
        (["--from", "2026-03-01", "--to", "2026-03-01", "--user", "nobody"], "No user named 'nobody'"),
    ],
)
def test_the_command_says_what_is_wrong(records, tmp_path, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("audit_export", *args, str(tmp_path / "out.zip"))
    assert not AuditExport.objects.exists()


def test_the_command_never_overwrites_a_file(records, tmp_path):
    out = tmp_path / "out.zip"
    out.write_bytes(b"the auditor's earlier export")

    with pytest.raises(CommandError, match="exists"):
        call_command("audit_export", "--from", str(date.today()), "--to", str(date.today()), str(out))
    assert out.read_bytes() == b"the auditor's earlier export"


# --- The admin ------------------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_engineer(engineer):
    engineer.is_staff = True
    engineer.save()
    return engineer


def test_compliance_exports_a_period_in_the_admin_and_downloads_it(records, compliance):
    client = logged_in(compliance)
    today = date.today()

    listing = client.get("/admin/core/auditexport/").content.decode()
    form = client.get("/admin/core/auditexport/export/")
    done = client.post(
        "/admin/core/auditexport/export/",
        {"first_day": str(today - timedelta(1)), "last_day": str(today), "reason": "Regulator's request"},
        follow=True,
    )

    assert "Export a period" in listing and form.status_code == 200
    export = AuditExport.objects.get()
    row = export.history.get()
    assert (row.history_user, row.history_change_reason, row.history_source) == (
        compliance,
        "Regulator's request",
        Source.ADMIN,
    )
    assert "Download the ZIP" in done.content.decode() and export.sha256 in done.content.decode()
    download = client.get(f"/admin/core/auditexport/{export.pk}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == export.sha256
    assert "verify.py" in zipfile.ZipFile(io.BytesIO(body)).namelist()


def test_the_admin_form_says_what_is_wrong(records, compliance):
    response = logged_in(compliance).post(
        "/admin/core/auditexport/export/", {"first_day": "2026-03-02", "last_day": "2026-03-01", "reason": "Audit"}
    )
    empty = logged_in(compliance).post(
        "/admin/core/auditexport/export/", {"first_day": "2001-01-01", "last_day": "2001-01-31", "reason": "Audit"}
    )

    assert response.status_code == 200 and "The last day is before the first." in response.content.decode()
    assert empty.status_code == 200 and "nothing to export" in empty.content.decode()
    assert not AuditExport.objects.exists()


def test_engineers_can_neither_export_nor_download(records, compliance, staff_engineer):
    export = exported(compliance)
    client = logged_in(staff_engineer)

    assert client.get("/admin/core/auditexport/export/").status_code == 403
    assert (
        client.post(
            "/admin/core/auditexport/export/", {"first_day": "2026-03-01", "last_day": "2026-03-01", "reason": "x"}
        ).status_code
        == 403
    )
    assert client.get(f"/admin/core/auditexport/{export.pk}/download/").status_code == 403
    assert AuditExport.objects.count() == 1
