"""Records of what the brute-force defences did (admin lockouts, API authentication lockouts)."""

from __future__ import annotations

from core.audit import audited_save
from core.models import SecurityEvent


def security_event_record(*, kind: str, ip_address: str | None, username: str = "", detail: str = "") -> SecurityEvent:
    """Write one security event, with a history row like every governed record (the system is the actor)."""
    event = SecurityEvent(kind=kind, ip_address=ip_address or None, username=username[:150], detail=detail)
    event.full_clean()
    audited_save(event, actor=None, reason=f"{SecurityEvent.Kind(kind).label}: {detail}"[:2000])
    return event
