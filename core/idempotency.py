"""Idempotency-Key: a retried POST returns the first answer instead of a duplicate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from core.errors import Conflict, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise Conflict(
            f"This {HEADER} was already used for a different request.",
            fields={HEADER: ["Reused with a different method, path or body."]},
        )
    return Response(record.response, status=record.status_code, headers={REPLAY_HEADER: "true"})


def _find(user, key: str) -> IdempotencyRecord | None:
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    return IdempotencyRecord.objects.filter(user=user, key=key, created_at__gte=timezone.now() - ttl).first()


def idempotent(request, perform: Callable[[], Response]) -> Response:
    """Run `perform` once per (user, Idempotency-Key); answer retries from the record.

    `perform` runs in the same transaction as the record, so a response is
    remembered exactly when its effects were committed. Two concurrent requests
    with one key: the second waits on the first's row, then replays its answer.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return perform()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationFailed(f"Invalid {HEADER}.", fields={HEADER: ["Use 1 to 255 printable characters."]})
    fingerprint = _fingerprint(request)
    existing = _find(request.user, key)
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            response = perform()
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.filter(user=request.user, key=key).delete()  # an expired one
                IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    response=response.data,
                )
            return response
    except (Conflict, IntegrityError):
        # A concurrent request with the same key may have won: answer as it did.
        existing = _find(request.user, key)
        if existing is not None:
            return _replay(existing, fingerprint)
        raise


def idempotency_records_purge() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
