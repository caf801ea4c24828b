"""The auditor's export: a period's history as a ZIP that checks itself (docs/audit.md).

The period picks history rows by when they were written (an m2m history row: when
its parent history row was). A chain can only be verified without gaps, so the
export holds every link from the first of those rows to the last, whatever its
date: rows of other tables or written by a transaction that straddled the period's
edge come along, and the manifest says so.

The ZIP holds, per history table, the rows as JSON Lines (the very values each hash
covers, `chain.row_values`) and as CSV; the checkpoints that fall in the range; a
manifest with the SHA-256 of every other file, signed with the chain key; a README;
and `verify.py`, assembled here from core/auditkit.py and core/auditor_cli.py, so
the auditor runs the arithmetic that wrote the chain, with nothing but Python.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from core import auditkit, auditor_cli, chain
from core.audit import audited_save
from core.checkpoints import checkpoints_load
from core.errors import ValidationFailed
from core.models import AuditExport

SELECTION = (
    "Every history row written in the period (an m2m history row: when its parent history row was) and, "
    "because a hash chain verifies only without gaps, every other row whose link lies between the first "
    "and the last of those: links first_seq to last_seq, all of them."
)


def period_of_days(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of `first` to the end of `last` (the instant after it), in the configured time zone."""
    if last < first:
        raise ValidationFailed(
            f"The period ends ({last}) before it starts ({first}).",
            fields={"period_to": ["On or after the first day."]},
        )
    zone = ZoneInfo(settings.TIME_ZONE)
    return (
        dt.datetime.combine(first, dt.time.min, zone),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, zone),
    )


def audit_export_create(*, actor, period_from: dt.datetime, period_to: dt.datetime, reason: str) -> AuditExport:
    """Export the history of [period_from, period_to) to a ZIP under AUDIT_EXPORT_DIR, and record who took it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why you export: the reason is recorded with your name.", fields={"reason": ["Required."]}
        )
    period_from, period_to = (_aware(period_from), _aware(period_to))
    if period_to <= period_from:
        raise ValidationFailed(
            "The period ends before it starts.", fields={"period_to": ["After the start of the period."]}
        )
    first_seq, last_seq, in_period = _seq_range(period_from, period_to)
    if not in_period:
        raise ValidationFailed(f"No history was written in {_label(period_from, period_to)}: nothing to export.")

    generated_at = timezone.now()
    files, manifest = _contents(actor, period_from, period_to, first_seq, last_seq, in_period, generated_at)
    name = (
        f"fineprint-audit-{_local(period_from):%Y%m%d}-{_last_day(period_to):%Y%m%d}-"
        f"{generated_at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}.zip"
    )
    path = _write_zip(name, files, generated_at)
    export = AuditExport(
        period_from=period_from,
        period_to=period_to,
        first_seq=first_seq,
        last_seq=last_seq,
        rows=manifest["rows"],
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        size=path.stat().st_size,
        file_name=name,
        requested_by=actor,
    )
    try:
        audited_save(export, actor=actor, reason=reason)
    except BaseException:
        path.unlink(missing_ok=True)  # an export nobody recorded is not kept
        raise
    return export


def export_path(export: AuditExport) -> Path | None:
    """Where the export's ZIP is kept, or None if it is not there (any more)."""
    folder = Path(settings.AUDIT_EXPORT_DIR).resolve()
    path = (folder / export.file_name).resolve()
    if not export.file_name or path.parent != folder or not path.is_file():
        return None
    return path


def verify_script() -> bytes:
    """verify.py: core/auditkit.py, then core/auditor_cli.py without its import of core.auditkit."""
    kit = Path(auditkit.__file__).read_text(encoding="utf-8")
    cli = Path(auditor_cli.__file__).read_text(encoding="utf-8")
    for statement in (r"from __future__ import annotations", r"from core\.auditkit import (?:\([^)]*\)|[^\n(]*)"):
        cli, found = re.subn(rf"^{statement}[^\n]*\n", "", cli, flags=re.MULTILINE)
        if found != 1:
            raise RuntimeError(f"core/auditor_cli.py must have exactly one {statement!r} statement")
    script = (
        "#!/usr/bin/env python3\n"
        "# verify.py: checks a Fineprint audit export (see README.txt). Python 3.10+, standard library only.\n"
        "# Made of two files of Fineprint, unchanged but for one import: core/auditkit.py (the chain's\n"
        "# arithmetic, which wrote the chain) and core/auditor_cli.py (the checks and the command line).\n"
        f"{kit.rstrip()}\n\n\n# {'-' * 30} core/auditor_cli.py {'-' * 30}\n\n{cli}"
    )
    compile(script, "verify.py", "exec")
    return script.encode("utf-8")


# --- What goes in ------------------------------------------------------------------------------


def _seq_range(period_from: dt.datetime, period_to: dt.datetime) -> tuple[int | None, int | None, int]:
    firsts, lasts, count = [], [], 0
    for model in chain.chained_models():
        when = chain.written_at_field(model)
        found = model._base_manager.filter(
            **{f"{when}__gte": period_from, f"{when}__lt": period_to}, chain_seq__isnull=False
        ).aggregate(first=Min("chain_seq"), last=Max("chain_seq"), n=Count("pk"))
        if found["n"]:
            firsts.append(found["first"])
            lasts.append(found["last"])
            count += found["n"]
    return (min(firsts), max(lasts), count) if count else (None, None, 0)


def _lines(model, first_seq: int, last_seq: int) -> list[dict]:
    names = [f.attname for f in chain.document_fields(model)]
    table = model._meta.db_table
    rows = (
        model._base_manager.filter(chain_seq__gte=first_seq, chain_seq__lte=last_seq)
        .order_by("chain_seq")
        .values_list("chain_seq", "pk", *names, "chain_hash")
    )
    return [
        {
            "seq": values[0],
            "table": table,
            "history_id": values[1],
            "row": chain.row_values(model, values[2:-1]),
            "chain_hash": values[-1],
        }
        for values in rows.iterator(chunk_size=5000)
    ]


def _link_before(first_seq: int) -> dict:
    if first_seq <= 1:
        return {"seq": 0, "hash": auditkit.GENESIS, "key_id": ""}
    for model in chain.chained_models():
        found = model._base_manager.filter(chain_seq=first_seq - 1).values_list("chain_hash", "chain_key").first()
        if found:
            return {"seq": first_seq - 1, "hash": found[0], "key_id": found[1]}
    raise ValidationFailed(f"Link {first_seq - 1} of the audit chain is missing: run the verifier before exporting.")


def _checkpoints(first_seq: int, last_seq: int) -> list[dict]:
    """The checkpoint files (the authoritative copies) whose link is in the range, by seq."""
    return [c for c in checkpoints_load() if isinstance(c.get("seq"), int) and first_seq <= c["seq"] <= last_seq]


def _checkpoint_file(checkpoint: dict) -> str:
    """Its own file name (core.checkpoints names each by its link and time)."""
    if checkpoint.get("location"):
        return f"checkpoints/{Path(checkpoint['location']).name}"
    made = str(checkpoint.get("made_at", "")).replace("-", "").replace(":", "")
    return f"checkpoints/checkpoint-{checkpoint['seq']:012d}-{made}.json"


def _contents(actor, period_from, period_to, first_seq, last_seq, in_period, generated_at) -> tuple[dict, dict]:
    files: dict[str, bytes] = {}
    tables: dict[str, dict] = {}
    key_ids: set[str] = set()
    total = 0
    for model in chain.chained_models():
        lines = _lines(model, first_seq, last_seq)
        if not lines:
            continue
        table = model._meta.db_table
        columns = auditor_cli.csv_header(lines[0])
        files[f"history/{table}.jsonl"] = b"".join(auditor_cli.jsonl_line(line) for line in lines)
        files[f"history/{table}.csv"] = auditor_cli.csv_file(lines, columns)
        tables[table] = {
            "rows": len(lines),
            "jsonl": f"history/{table}.jsonl",
            "csv": f"history/{table}.csv",
            "columns": columns,
        }
        key_ids.update(line["row"]["chain_key"] for line in lines)
        total += len(lines)
    checkpoint_files = []
    for checkpoint in _checkpoints(first_seq, last_seq):
        name = _checkpoint_file(checkpoint)
        content = {k: v for k, v in checkpoint.items() if k != "location"}
        files[name] = (json.dumps(content, indent=2, sort_keys=True) + "\n").encode("utf-8")  # as the file is
        checkpoint_files.append(name)
    files["verify.py"] = verify_script()
    files["README.txt"] = _readme(period_from, period_to, generated_at, actor, first_seq, last_seq, total)

    ring = chain.keyring()
    manifest = {
        "format": auditor_cli.FORMAT,
        "period": {
            "from": period_from.isoformat(),
            "to": period_to.isoformat(),
            "to_is": "exclusive",
            "time_zone": settings.TIME_ZONE,
        },
        "generated_at": generated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "generated_by": actor.get_username(),
        "selection": SELECTION,
        "rows_in_period": in_period,
        "rows": total,
        "first_seq": first_seq,
        "last_seq": last_seq,
        "link_before": _link_before(first_seq),
        "tables": tables,
        "key_ids": sorted(key_ids),
        "checkpoints": checkpoint_files,
        "signed_with": ring.current_id,
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        },
    }
    manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    files[auditor_cli.MANIFEST] = manifest_bytes
    files[auditor_cli.MANIFEST_SIGNATURE] = auditkit.sign(ring.current, manifest_bytes).encode("ascii") + b"\n"
    return files, manifest


def _write_zip(name: str, files: dict[str, bytes], generated_at: dt.datetime) -> Path:
    folder = Path(settings.AUDIT_EXPORT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    stamp = generated_at.astimezone(dt.UTC).timetuple()[:6]
    first = ["README.txt", "verify.py", auditor_cli.MANIFEST, auditor_cli.MANIFEST_SIGNATURE]
    order = first + sorted(set(files) - set(first))
    try:
        with path.open("xb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry in order:
                info = zipfile.ZipInfo(entry, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, files[entry])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _aware(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value, ZoneInfo(settings.TIME_ZONE)) if timezone.is_naive(value) else value


def _local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(ZoneInfo(settings.TIME_ZONE))


def _last_day(period_to: dt.datetime) -> dt.date:
    return (_local(period_to) - dt.timedelta(microseconds=1)).date()


def _label(period_from: dt.datetime, period_to: dt.datetime) -> str:
    return f"{_local(period_from):%Y-%m-%d %H:%M} to {_local(period_to):%Y-%m-%d %H:%M} ({settings.TIME_ZONE})"


def _readme(period_from, period_to, generated_at, actor, first_seq, last_seq, rows) -> bytes:
    return f"""Fineprint audit export
======================

Period:    {_label(period_from, period_to)}, the end excluded
Made:      {generated_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC by {actor.get_username()}
Contents:  {rows} history rows, links {first_seq} to {last_seq} of the audit chain

Fineprint keeps the history of every governed record (who changed what, when, from
where and why). Each history row is a link of one chain: its hash is an HMAC-SHA256,
under a secret key, of the row and of the link before it. Changing, removing,
inserting or reordering a row breaks every hash after it.

What each file is
-----------------
history/<table>.jsonl  One line per history row: "seq" (its place in the chain),
                       "table", "history_id" (the database's row id), "row" (the
                       values the hash covers, exactly) and "chain_hash".
history/<table>.csv    The same rows for a spreadsheet: one column per value, nested
                       values as JSON, null as an empty cell; a column of the
                       row named like one before it is headed row.<name> (an m2m
                       history row's history_id: the history row it belongs to).
                       Import it as text: a value that starts with = is data,
                       not a formula.
checkpoints/*.json     The signed checkpoints that fall in these links: the chain's
                       head as Fineprint recorded it, outside its database, at a time.
manifest.json          The period, who made the export and when, the first and last
                       link, the link just before the first (its hash is where the
                       chain resumes), rows per table, the key ids used, and the
                       SHA-256 of every other file.
manifest.sig           The manifest's signature (HMAC-SHA256 under the chain key).
verify.py              The check, in one file of standard-library Python.
README.txt             This file.

The period selects rows by when they were written; a chain verifies only without
gaps, so the export holds every link from the first such row to the last, including
rows of that stretch written just outside the period's edges.

How to check it
---------------
With Python 3.10 or later, nothing to install, no network:

    python3 verify.py EXPORT.zip              (or the folder you unpacked it to)
    python3 verify.py EXPORT.zip --key-file chain-key.txt
    python3 verify.py EXPORT.zip --key-file chain-key.txt --old-key-file older-key.txt

The key may also come from the environment variable AUDIT_CHAIN_KEY (older keys:
AUDIT_CHAIN_OLD_KEYS, comma-separated). Rows written before a key rotation need the
older key: verify.py names the key id it is missing. It prints what it checked and
exits 0 when everything passed, 1 at the first failure (which it names), 2 when the
command itself was wrong.

What it proves, and what it does not
------------------------------------
The chain uses a symmetric key (HMAC): the key that checks a hash can also make one.
The key is therefore not in this export; Fineprint's operators hand it to you
separately.

With the key, verify.py checks every row's hash in order from the link before the
first, that no link is missing or doubled, the manifest's signature, each
checkpoint's signature and that the row at each checkpoint has the hash the
checkpoint recorded. A pass shows the rows are the ones Fineprint wrote, unchanged
and complete between the first and the last link. It does not show that no rows
were cut from after the last link (compare with a later checkpoint or export), and
whoever holds the key could have made a consistent forgery: the checkpoints kept
outside Fineprint's database are what exposes that.

Without the key, verify.py checks only that the files match the manifest as you
received it (and that the rows are numbered without gaps): anyone could have
rewritten both, and it says so. Compare the ZIP's SHA-256 with the one Fineprint
recorded for this export.

verify.py is short and has no dependencies: read it, or compare it with
core/auditkit.py and core/auditor_cli.py of Fineprint's source, before you trust
its verdict.
""".encode()
