"""The admin login lockout (django-axes): whose address a request is, the page a locked-out
person sees, and the security event that records each lockout.

Axes counts wrong passwords per username and address (settings: AXES_*); this module is the
glue axes calls through AXES_CLIENT_IP_CALLABLE, AXES_LOCKOUT_CALLABLE and its
`user_locked_out` signal. Connected in CoreConfig.ready().
"""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.helpers import get_cool_off, get_failure_limit
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib import admin
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.addresses import client_ip_address  # noqa: F401  (AXES_CLIENT_IP_CALLABLE)
from core.models import SecurityEvent
from core.security import security_event_record


def _retry_at(request: HttpRequest) -> tuple[datetime, timedelta]:
    cool_off = get_cool_off(request)
    # Axes counts from the last attempt, and this one has just been made.
    return request.axes_attempt_time + cool_off, cool_off


def lockout_response(request: HttpRequest, original_response=None, credentials: dict | None = None) -> HttpResponse:
    """The admin-styled page a locked-out login gets, with 429 and Retry-After (AXES_LOCKOUT_CALLABLE)."""
    retry_at, cool_off = _retry_at(request)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "retry_at": retry_at,
        "cool_off_minutes": int(cool_off.total_seconds() // 60),
        "failure_limit": get_failure_limit(request, credentials),
    }
    response = render(request, "axes/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


@receiver(user_locked_out, dispatch_uid="fineprint_admin_lockout_record")
def admin_lockout_record(sender, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs) -> None:
    """Record a lockout as a security event, once per lockout rather than once per refused attempt.

    Axes signals again on every attempt made while locked out (each one restarts the wait), so a
    lockout already recorded for this username and address within the cool-off is not recorded
    again: a persistent attacker shows as one event per cool-off period, not one per request.
    """
    retry_at, cool_off = _retry_at(request)
    recent = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.ADMIN_LOCKOUT,
        username=(username or "")[:150],
        ip_address=ip_address or None,
        occurred_at__gte=timezone.now() - cool_off,
    )
    if recent.exists():
        return
    failures = getattr(request, "axes_failures_since_start", None) or get_failure_limit(request, None)
    local_retry = timezone.localtime(retry_at)
    security_event_record(
        kind=SecurityEvent.Kind.ADMIN_LOCKOUT,
        ip_address=ip_address,
        username=username or "",
        detail=(
            f"{failures} failed admin sign-ins for this username from this address within "
            f"{int(cool_off.total_seconds() // 60)} minutes; refused until {local_retry:%Y-%m-%d %H:%M %Z} "
            f"or later if the attempts go on."
        ),
    )
