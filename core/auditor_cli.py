"""The auditor's check of an export, in the standard library only.

An export's `verify.py` is core/auditkit.py followed by this file, with the import
of core.auditkit below taken out (core.audit_export.verify_script): what the auditor
runs is the arithmetic that wrote the chain, not a copy of it. In the repository,
`python -m core.auditor_cli EXPORT` runs the same check.

    python3 verify.py EXPORT.zip|EXPORT_DIR [--key-file FILE] [--old-key-file FILE ...]

Without a key (none given, no AUDIT_CHAIN_KEY in the environment) it checks the
export as received: every file against the manifest's SHA-256, the links' numbering,
the CSV against the JSON Lines. The chain's hashes and every signature are HMACs
under the chain key, so only with the key does it check that the rows are the ones
Fineprint wrote. Exit status: 0 passed, 1 a check failed (the first failure is named),
2 the command was wrong (no such file, unreadable key).

Python 3.10 or later; nothing outside the standard library.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import zipfile
import zlib
from pathlib import Path

from core.auditkit import (
    GENESIS,
    canonical,
    checkpoint_document,
    key_id,
    link_hash,
    same,
    sign,
)  # verify.py: core/auditkit.py is above

FORMAT = "fineprint-audit-export-v1"
MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.sig"
CHECKPOINT_KIND = "fineprint-audit-checkpoint"
CSV_FIXED_COLUMNS = ["seq", "table", "history_id", "chain_hash"]


class Failure(Exception):
    """A check that did not pass: its message names what and where."""


class UsageError(Exception):
    """The command was wrong: a missing export, an unreadable key file."""


# --- What the exporter and the checker share ---------------------------------------------


def jsonl_line(line: dict) -> bytes:
    """One history row as a line of JSON Lines: {"seq", "table", "history_id", "row", "chain_hash"}."""
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def csv_cell(value) -> str:
    """A value as a CSV cell: text as it is, empty for null, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def csv_header(line: dict) -> list[str]:
    """The fixed columns, then the row's; a row column named like a fixed one (an m2m history row's
    `history_id`, the history row it belongs to) is headed `row.<name>`."""
    return [*CSV_FIXED_COLUMNS, *(f"row.{name}" if name in CSV_FIXED_COLUMNS else name for name in line["row"])]


def csv_values(line: dict) -> list[str]:
    return [csv_cell(line[name]) for name in CSV_FIXED_COLUMNS] + [csv_cell(v) for v in line["row"].values()]


def csv_file(lines: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(csv_values(line) for line in lines)
    return out.getvalue().encode("utf-8")


# --- Reading an export --------------------------------------------------------------------


def read_export(path: Path) -> dict[str, bytes]:
    """Every file of an export, by its name inside it, from the ZIP or from the folder it was unpacked to."""
    if path.is_dir():
        return {
            item.relative_to(path).as_posix(): item.read_bytes() for item in sorted(path.rglob("*")) if item.is_file()
        }
    if not path.is_file():
        raise UsageError(f"{path}: no such file or folder")
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            for name in names:
                if names.count(name) > 1:
                    raise Failure(f"{name} appears more than once in the ZIP")
            files = {}
            for name in names:
                try:
                    files[name] = archive.read(name)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                    raise Failure(f"{name} is damaged in the ZIP ({exc})") from None
            return files
    except zipfile.BadZipFile as exc:
        raise Failure(f"{path} is not a readable ZIP file ({exc})") from None


def _json(files: dict[str, bytes], name: str, what: str):
    if name not in files:
        raise Failure(f"{name} is missing ({what})")
    try:
        return json.loads(files[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Failure(f"{name} is not valid JSON ({exc})") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- The checks -----------------------------------------------------------------------------


class Check:
    """One export's checks, in order; each raises Failure at the first problem."""

    def __init__(self, files: dict[str, bytes], keys: dict[str, bytes], say=print):
        self.files = files
        self.keys = keys
        self.say = say
        self.manifest: dict = {}
        self.lines: list[dict] = []  # every row, in seq order
        self.checkpoints: list[tuple[str, dict]] = []

    def run(self) -> bool:
        """True when the chain was checked too (a key was given), False for the manifest and numbering only."""
        self.check_manifest_files()
        self.check_rows()
        self.check_csv()
        self.check_checkpoints_match_rows()
        if not self.keys:
            return False
        self.check_manifest_signature()
        self.check_chain()
        self.check_checkpoint_signatures()
        return True

    def check_manifest_files(self) -> None:
        manifest = _json(self.files, MANIFEST, "the export's table of contents")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise Failure(f"{MANIFEST} is not a manifest of the format {FORMAT}")
        listed = manifest.get("files")
        if not isinstance(listed, dict) or not listed:
            raise Failure(f"{MANIFEST} lists no files")
        for name, entry in sorted(listed.items()):
            if name not in self.files:
                raise Failure(f"{name} is listed in the manifest but missing from the export")
            found = _sha256(self.files[name])
            expected = entry.get("sha256", "") if isinstance(entry, dict) else ""
            if found != expected:
                raise Failure(f"{name}: its SHA-256 differs from the manifest's (expected {expected}, found {found})")
        _manifest_shape(manifest)
        self.manifest = manifest
        self.say(f"OK    {_count(len(listed), 'file')} match the SHA-256 in {MANIFEST}")
        others = sorted(set(self.files) - set(listed) - {MANIFEST, MANIFEST_SIGNATURE})
        if others:
            self.say(f"NOTE  not in the manifest, ignored: {', '.join(others)}")

    def check_rows(self) -> None:
        tables = self.manifest.get("tables") or {}
        lines = []
        for table, entry in sorted(tables.items()):
            name = entry["jsonl"]
            count = 0
            for number, raw in enumerate(self.files[name].decode("utf-8").splitlines(), start=1):
                where = f"{name} line {number}"
                try:
                    line = json.loads(raw)
                except ValueError as exc:
                    raise Failure(f"{where} is not valid JSON ({exc})") from None
                _row_shape(line, where)
                if line["table"] != table:
                    raise Failure(f"{where}: a row of {line['table']} in the file of {table}")
                if line["row"].get("chain_seq") != line["seq"]:
                    raise Failure(
                        f"{where}: seq {line['seq']} but the row's chain_seq is {line['row'].get('chain_seq')}"
                    )
                lines.append(line)
                count += 1
            if count != entry.get("rows"):
                raise Failure(f"{name} holds {count} rows, the manifest says {entry.get('rows')}")
        lines.sort(key=lambda line: line["seq"])
        first, last = self.manifest.get("first_seq"), self.manifest.get("last_seq")
        expected = first
        for line in lines:
            if line["seq"] < expected:
                raise Failure(f"link {line['seq']} appears more than once ({line['table']} row {line['history_id']})")
            if line["seq"] > expected:
                raise Failure(f"link {expected} is missing (the next is {line['seq']}, {line['table']})")
            expected += 1
        if expected - 1 != last:
            raise Failure(f"the rows end at link {expected - 1}, the manifest says {last}")
        if len(lines) != self.manifest.get("rows"):
            raise Failure(f"{len(lines)} rows in the export, the manifest says {self.manifest.get('rows')}")
        self.lines = lines
        self.say(
            f"OK    {_count(len(lines), 'row')} in {_count(len(tables), 'table')}, "
            f"links {first} to {last}, none missing or doubled"
        )

    def check_csv(self) -> None:
        by_table: dict[str, list[dict]] = {}
        for line in self.lines:
            by_table.setdefault(line["table"], []).append(line)
        for table, entry in sorted((self.manifest.get("tables") or {}).items()):
            lines = sorted(by_table.get(table, []), key=lambda line: line["seq"])
            name = entry["csv"]
            try:
                rows = list(csv.reader(io.StringIO(self.files[name].decode("utf-8"), newline="")))
            except (UnicodeDecodeError, csv.Error) as exc:
                raise Failure(f"{name} is not readable CSV ({exc})") from None
            columns = entry.get("columns") or []
            if not rows or rows[0] != columns:
                raise Failure(f"{name}: its header differs from the manifest's columns")
            for number, (found, line) in enumerate(zip(rows[1:], lines, strict=False), start=2):
                if found != csv_values(line):
                    raise Failure(f"{name} line {number} differs from link {line['seq']} in {entry['jsonl']}")
            if len(rows) - 1 != len(lines):
                raise Failure(f"{name} holds {len(rows) - 1} rows, {entry['jsonl']} {len(lines)}")
        self.say("OK    each CSV holds the same rows as its JSON Lines file")

    def check_checkpoints_match_rows(self) -> None:
        by_seq = {line["seq"]: line for line in self.lines}
        for name in self.manifest.get("checkpoints") or []:
            checkpoint = _json(self.files, name, "a checkpoint")
            if not isinstance(checkpoint, dict) or checkpoint.get("kind") != CHECKPOINT_KIND:
                raise Failure(f"{name} is not a checkpoint")
            line = by_seq.get(checkpoint.get("seq"))
            if line is None:
                raise Failure(f"{name} records link {checkpoint.get('seq')}, which is not in the export")
            if not isinstance(checkpoint.get("row_hash"), str) or not same(checkpoint["row_hash"], line["chain_hash"]):
                raise Failure(
                    f"{name} recorded another hash for link {line['seq']} ({line['table']} row {line['history_id']}): "
                    f"checkpoint {checkpoint.get('row_hash')}, row {line['chain_hash']}"
                )
            self.checkpoints.append((name, checkpoint))
        if self.checkpoints:
            self.say(f"OK    {_count(len(self.checkpoints), 'checkpoint')} recorded the hash their link has")

    def _key(self, kid, what: str) -> bytes:
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            given = ", ".join(sorted(self.keys)) or "none"
            raise Failure(
                f"{what} is under key {kid!r}, which was not given (keys given: {given}); "
                "pass older keys with --old-key-file"
            )
        return key

    def check_manifest_signature(self) -> None:
        signed_with = self.manifest.get("signed_with")
        key = self._key(signed_with, MANIFEST)
        signature = self.files.get(MANIFEST_SIGNATURE, b"").decode("ascii", "replace").strip()
        if not same(sign(key, self.files[MANIFEST]), signature):
            raise Failure(f"{MANIFEST_SIGNATURE}: the manifest's signature does not match (key {signed_with})")
        self.say(f"OK    the manifest's signature (key {signed_with})")

    def check_chain(self) -> None:
        before = self.manifest.get("link_before") or {}
        prev_hash, prev_key = before.get("hash"), before.get("key_id")
        if not isinstance(prev_hash, str) or not isinstance(prev_key, str):
            raise Failure(f"{MANIFEST}: no link before the first row")
        if self.manifest.get("first_seq") == 1 and (prev_hash != GENESIS or prev_key != ""):
            raise Failure(f"{MANIFEST}: the chain's first link must follow the genesis hash")
        segments = []
        for line in self.lines:
            row, table, seq = line["row"], line["table"], line["seq"]
            where = f"link {seq} ({table} row {line['history_id']})"
            key = self._key(row.get("chain_key"), where)
            expected = link_hash(key, prev_key, prev_hash, canonical({"table": table, "row": row}))
            if not same(expected, line["chain_hash"]):
                raise Failure(
                    f"{where}: its hash does not match the row (expected {expected}, found {line['chain_hash']})"
                )
            if row["chain_key"] != prev_key:
                segments.append(f"key {row['chain_key']} from link {seq}")
            prev_hash, prev_key = line["chain_hash"], row["chain_key"]
        used = sorted({line["row"]["chain_key"] for line in self.lines})
        if used != sorted(self.manifest.get("key_ids") or []):
            raise Failure(f"{MANIFEST}: key ids {self.manifest.get('key_ids')}, the rows use {used}")
        self.say(f"OK    every link's hash, from link {self.manifest.get('first_seq')} ({'; '.join(segments)})")

    def check_checkpoint_signatures(self) -> None:
        for name, checkpoint in self.checkpoints:
            key = self._key(checkpoint.get("key_id"), name)
            if not same(sign(key, checkpoint_document(checkpoint)), str(checkpoint.get("signature", ""))):
                raise Failure(f"{name}: the checkpoint's signature does not match")
        if self.checkpoints:
            self.say(f"OK    {_count(len(self.checkpoints), 'checkpoint signature')}")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _manifest_shape(manifest: dict) -> None:
    for name in ("first_seq", "last_seq", "rows"):
        if not isinstance(manifest.get(name), int) or isinstance(manifest.get(name), bool):
            raise Failure(f"{MANIFEST}: {name} is missing or not a number")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise Failure(f"{MANIFEST} lists no tables")
    for table, entry in tables.items():
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry[k] in manifest["files"] for k in ("jsonl", "csv")
        ):
            raise Failure(f"{MANIFEST}: the files of {table} are not among its files")
    checkpoints = manifest.get("checkpoints", [])
    if not isinstance(checkpoints, list) or not all(
        isinstance(name, str) and name in manifest["files"] for name in checkpoints
    ):
        raise Failure(f"{MANIFEST}: its checkpoints are not among its files")


def _row_shape(line, where: str) -> None:
    if not isinstance(line, dict):
        raise Failure(f"{where} is not a row")
    for name, kind in (("seq", int), ("table", str), ("history_id", int), ("row", dict), ("chain_hash", str)):
        if not isinstance(line.get(name), kind) or isinstance(line.get(name), bool):
            raise Failure(f"{where}: {name} is missing or not a{'n' if kind is int else ''} {kind.__name__}")


# --- The command line ---------------------------------------------------------------------------


def _read_key(path: str) -> bytes:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the key file {path} ({exc})") from None
    if not text:
        raise UsageError(f"the key file {path} is empty")
    return text.encode("utf-8")


def keys_given(key_files: list[str], old_key_files: list[str], environ) -> dict[str, bytes]:
    """The keys by their ids: from the files given, else AUDIT_CHAIN_KEY and AUDIT_CHAIN_OLD_KEYS (comma-separated)."""
    keys = [_read_key(path) for path in (*key_files, *old_key_files)]
    if not key_files and environ.get("AUDIT_CHAIN_KEY", "").strip():
        keys.append(environ["AUDIT_CHAIN_KEY"].strip().encode("utf-8"))
    if not old_key_files:
        keys += [k.strip().encode("utf-8") for k in environ.get("AUDIT_CHAIN_OLD_KEYS", "").split(",") if k.strip()]
    return {key_id(key): key for key in keys}


def main(argv: list[str] | None = None, environ=None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify.py",
        description="Check a Fineprint audit export: its files against the manifest and, given the chain key, "
        "every link of the chain, the manifest's signature and the checkpoints.",
    )
    parser.add_argument("export", help="the export's ZIP file, or the folder it was unpacked to")
    parser.add_argument(
        "--key-file",
        action="append",
        default=[],
        help="a file holding the chain key (else the environment variable AUDIT_CHAIN_KEY)",
    )
    parser.add_argument(
        "--old-key-file",
        action="append",
        default=[],
        help="a file holding an older key, for rows written before a rotation; repeat for each "
        "(else AUDIT_CHAIN_OLD_KEYS, comma-separated)",
    )
    args = parser.parse_args(argv)
    try:
        keys = keys_given(args.key_file, args.old_key_file, os.environ if environ is None else environ)
        files = read_export(Path(args.export))
    except UsageError as exc:
        print(f"verify.py: {exc}", file=sys.stderr)
        return 2
    except Failure as exc:
        print(f"FAILED: {exc}")
        return 1
    try:
        chain_checked = Check(files, keys).run()
    except Failure as exc:
        print(f"FAILED: {exc}")
        return 1
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a shape no check foresaw: still a failure
        print(f"FAILED: the export is malformed ({type(exc).__name__}: {exc})")
        return 1
    if chain_checked:
        print("PASSED: the export is complete and every link of the chain verifies under the keys given.")
    else:
        print(
            "PASSED (manifest only). WARNING: no key was given, so the chain was NOT checked: neither the rows' "
            "hashes nor the manifest's and checkpoints' signatures. This shows only that the files match the "
            "manifest as received; anyone could have rewritten both. Give the chain key (--key-file or "
            "AUDIT_CHAIN_KEY) to check that the rows are the ones Fineprint wrote."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
