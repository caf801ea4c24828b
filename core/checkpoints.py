"""Signed checkpoints of the audit chain, written outside the database (docs/audit.md).

A checkpoint states "the chain's last link was `seq`, with hash `row_hash`", signed
with the chain key. It is written as a file in AUDIT_CHECKPOINT_DIR and, when
AUDIT_CHECKPOINT_S3_BUCKET is set, as an object in that bucket; neither is ever
overwritten. Someone who can rewrite the database (rows and head together) cannot
reach those copies, so the verifier, walking with them, still sees that links a
checkpoint recorded are gone or different. The AuditCheckpoint row is only the
index of what was written where; the files are what the verifier reads.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from core import auditkit, chain, verifier
from core.errors import ApplicationError, Conflict
from core.models import AuditCheckpoint, ChainHead

KIND = "fineprint-audit-checkpoint"
FILE_GLOB = "checkpoint-*.json"


class CheckpointNotWritten(ApplicationError):
    """The bucket refused or could not be reached; the local file, if written, stays."""

    status_code = 503
    code = "checkpoint_not_written"


class CheckpointExists(Conflict):
    """A checkpoint file or object of that name exists already: checkpoints are never overwritten."""

    code = "checkpoint_exists"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_dict(cp: AuditCheckpoint) -> dict:
    """A recorded checkpoint as its file holds it (what the signature covers, and the signature)."""
    return {
        "kind": KIND,
        "seq": cp.seq,
        "row_hash": cp.row_hash,
        "key_id": cp.key_id,
        "rows": cp.rows,
        "made_at": _timestamp(cp.made_at),
        "signature": cp.signature,
    }


def checkpoint_make(*, actor=None) -> AuditCheckpoint:
    """Sign the chain's head as it stands and write it outside the database, never over an older one.

    `key_id` names the key that signed: always the current key. The head's own key
    id (the key of the link at `seq`) differs from it only between a key rotation
    and the next history row; a walk that starts from a checkpoint takes the link's
    key id from the link itself (core.audit_runs), not from the checkpoint.

    The file is written first, then the S3 object: if the bucket refuses, the file
    stays (it is a valid checkpoint the verifier reads), no row is recorded, and
    CheckpointNotWritten (CheckpointExists for an object already there) says why.
    """
    head = ChainHead.objects.filter(pk=chain.HEAD_ID).first()
    seq, row_hash = (head.seq, head.row_hash) if head else (0, auditkit.GENESIS)
    ring = chain.keyring()
    made_at = timezone.now()
    document = {
        "kind": KIND,
        "seq": seq,
        "row_hash": row_hash,
        "key_id": ring.current_id,
        "rows": seq,  # one chain with no gaps from link 1: as many rows as links
        "made_at": _timestamp(made_at),
    }
    document["signature"] = auditkit.sign(ring.current, verifier.checkpoint_document(document))
    name = f"checkpoint-{seq:012d}-{made_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}.json"
    content = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")

    locations = [str(_file_write(Path(settings.AUDIT_CHECKPOINT_DIR), name, content))]
    if settings.AUDIT_CHECKPOINT_S3_BUCKET:
        locations.append(_object_write(name, content))

    checkpoint = AuditCheckpoint(
        seq=seq,
        row_hash=row_hash,
        key_id=ring.current_id,
        rows=seq,
        made_at=made_at,
        signature=document["signature"],
        location="; ".join(locations),
        made_by=actor,
    )
    checkpoint.full_clean()
    checkpoint.save()
    return checkpoint


def _file_write(directory: Path, name: str, content: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    created = False
    try:
        with open(path, "xb") as handle:  # exclusive create: an existing checkpoint is never replaced
            created = True
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise CheckpointExists(f"{path} exists already; a checkpoint is never overwritten.") from None
    except OSError:
        if created:
            path.unlink(missing_ok=True)  # our own half-written file, not an older checkpoint
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)  # the new name itself survives a crash
    finally:
        os.close(directory_fd)
    return path


def _object_write(name: str, content: bytes) -> str:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = settings.AUDIT_CHECKPOINT_S3_BUCKET, f"{settings.AUDIT_CHECKPOINT_S3_PREFIX}{name}"
    url = f"s3://{bucket}/{key}"
    client = boto3.client(
        "s3",
        endpoint_url=settings.AUDIT_CHECKPOINT_S3_ENDPOINT_URL,
        config=Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"}),
    )
    try:
        # A conditional write: S3 refuses (412) if the key exists, so nothing is overwritten.
        client.put_object(Bucket=bucket, Key=key, Body=content, ContentType="application/json", IfNoneMatch="*")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if (
            error.get("Code") == "PreconditionFailed"
            or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412
        ):
            raise CheckpointExists(f"{url} exists already; a checkpoint is never overwritten.") from None
        raise CheckpointNotWritten(
            f"{url} was not written: {error.get('Code', 'error')} {error.get('Message', '')}".strip()
        ) from exc
    except BotoCoreError as exc:
        raise CheckpointNotWritten(f"{url} was not written: {exc}") from exc
    return url


def checkpoints_load() -> list[dict]:
    """Every checkpoint file in AUDIT_CHECKPOINT_DIR, by seq, each with its `location` (the file).

    A file that is not a checkpoint's JSON is returned anyway, with no signature,
    so the verifier reports it as a bad signature instead of loading stopping here.
    """
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob(FILE_GLOB)):
        try:
            checkpoint = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            checkpoint = None
        if not isinstance(checkpoint, dict):
            checkpoint = {"kind": KIND, "seq": _seq_from_name(path.name), "file": path.name}
        found.append({**checkpoint, "location": str(path)})
    return sorted(found, key=lambda c: (c["seq"] if isinstance(c.get("seq"), int) else -1, c["location"]))


def _seq_from_name(name: str) -> int | None:
    parts = name.split("-")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
