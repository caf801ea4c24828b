"""Brute-force protection for API authentication: an address that keeps sending bad tokens is locked out.

Counters live in the shared cache (settings.CACHES), so every web process sees the
same count. A locked-out address gets 429 with Retry-After for every bad token
(core.authentication), so guessing stops being answered at all.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.models import SecurityEvent
from core.security import security_event_record


# An unreadable address (no REMOTE_ADDR, a broken forwarded one) is one bucket of its own.
def _failures_key(ip: str | None) -> str:
    return f"fineprint:api-auth-failures:{ip or 'unknown'}"


def _lockout_key(ip: str | None) -> str:
    return f"fineprint:api-auth-lockout:{ip or 'unknown'}"


def api_auth_lockout_remaining(*, ip: str | None) -> int | None:
    """Seconds until `ip` may try again, or None if it is not locked out."""
    until = cache.get(_lockout_key(ip))
    if until is None:
        return None
    remaining = math.ceil(until - timezone.now().timestamp())
    return remaining if remaining > 0 else None


def api_auth_failure_record(*, ip: str | None, reason: str) -> int | None:
    """Count one failed authentication; the one that reaches the limit locks the address out.

    The seconds the lockout lasts if this failure reached the limit, else None.
    """
    window = settings.API_AUTH_FAILURE_WINDOW_SECONDS
    key = _failures_key(ip)
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        failures = 1
    if failures < settings.API_AUTH_FAILURE_LIMIT:
        return None
    lockout = settings.API_AUTH_LOCKOUT_SECONDS
    until = timezone.now().timestamp() + lockout
    cache.delete(key)
    # add, not set: of concurrent requests crossing the limit, one locks and records it.
    if cache.add(_lockout_key(ip), until, timeout=lockout):
        security_event_record(
            kind=SecurityEvent.Kind.API_AUTH_LOCKOUT,
            ip_address=ip,
            detail=(
                f"{failures} failed API authentications within {window} s (last: {reason}); locked out for {lockout} s."
            ),
        )
    return lockout
