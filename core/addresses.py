"""Whose address a request is: one reading for every defence that counts per address."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip_address(request: HttpRequest) -> str | None:
    """The address the request came from, as seen by the outermost of TRUSTED_PROXY_COUNT proxies.

    Each proxy appends the address it received the request from to X-Forwarded-For, so the one
    the first trusted proxy saw is TRUSTED_PROXY_COUNT entries from the right; anything further
    left was written by the client and proves nothing. Without proxies, the connection's address.
    """
    remote = _valid_address(request.META.get("REMOTE_ADDR", ""))
    count = settings.TRUSTED_PROXY_COUNT
    if not count:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < count:
        # Not through every proxy we were told of: the nearest one is all we can vouch for.
        return remote
    return _valid_address(forwarded[-count]) or remote
