"""The audit chain's arithmetic, in the standard library only.

Fineprint links every history row into one keyed hash chain (see docs/audit.md):

    row_hash = HMAC-SHA256(key, "fineprint-audit-v1\\n" + prev_key_id + "\\n" + prev_hash + "\\n" + document)

where `document` is the canonical JSON of the row (`canonical`) and `prev_key_id`
and `prev_hash` are the previous link's key id and hash (the first link of all
follows `GENESIS` with an empty key id). A row whose key id differs from the
previous row's starts a new segment: its MAC names the old key's id.

This module imports nothing from Fineprint or Django: the application computes
links with it, and an auditor's export ships it (with a command line) as
`verify.py`, so what the auditor runs is the code that wrote the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json

GENESIS = "0" * 64
VERSION = b"fineprint-audit-v1"


def key_id(key: bytes) -> str:
    """A key's public name: 16 hex digits of an HMAC of a fixed label (it reveals nothing of the key)."""
    return hmac.new(key, b"fineprint-audit-key-id", hashlib.sha256).hexdigest()[:16]


def _numbers(value):
    """Numbers as JSON numbers with one spelling: an integral float is written as an integer."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity have no JSON form")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return {str(k): _numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers(v) for v in value]
    raise TypeError(f"no canonical JSON form for {type(value).__name__}")


def canonical(value) -> bytes:
    """Canonical JSON (after RFC 8785): keys sorted, no whitespace, UTF-8, numbers as `_numbers` spells them."""
    return json.dumps(
        _numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def link_hash(key: bytes, prev_key_id: str, prev_hash: str, document: bytes) -> str:
    message = b"\n".join([VERSION, prev_key_id.encode("ascii"), prev_hash.encode("ascii"), document])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, document: bytes) -> str:
    """The signature of a checkpoint or a manifest: an HMAC-SHA256 under the chain key, with its own label."""
    return hmac.new(key, b"fineprint-audit-signature-v1\n" + document, hashlib.sha256).hexdigest()


def checkpoint_document(checkpoint: dict) -> bytes:
    """What a checkpoint's signature covers: every field but the signature and where it was written."""
    return canonical({k: v for k, v in checkpoint.items() if k not in ("signature", "location")})


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))
