"""Leases that expire: claim work with a conditional update, so two workers never both hold it."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import TaskLease


def lease_claim(name: str, *, seconds: float) -> str | None:
    """Claim `name` for `seconds`; the holder token, or None when someone else holds it."""
    now = timezone.now()
    holder = secrets.token_hex(8)
    expires = now + timedelta(seconds=seconds)
    try:
        with transaction.atomic():
            TaskLease.objects.get_or_create(name=name, defaults={"holder": "", "expires_at": now})
    except IntegrityError:
        pass  # created by a concurrent claimer a moment ago
    # TaskLease is bookkeeping, not a governed record: a conditional update is the claim.
    claimed = TaskLease.objects.filter(name=name, expires_at__lte=now).update(holder=holder, expires_at=expires)
    return holder if claimed else None


def lease_release(name: str, holder: str) -> None:
    TaskLease.objects.filter(name=name, holder=holder).update(holder="", expires_at=timezone.now())
