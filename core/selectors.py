"""Reads on core records."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotFound
from core.models import ApiToken
from core.roles import Role, has_role


def token_list(*, actor, username: str | None = None) -> QuerySet[ApiToken]:
    """The tokens `actor` may see: their own; compliance staff see everyone's (optionally one user's)."""
    tokens = ApiToken.objects.select_related("user", "created_by")
    if not has_role(actor, Role.COMPLIANCE):
        return tokens.filter(user=actor)
    return tokens.filter(user__username=username) if username else tokens


def token_get(*, actor, token_id: int) -> ApiToken:
    """One token `actor` may see; another person's is 404 to anyone but compliance, as if it did not exist."""
    token = token_list(actor=actor).filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such token.")
    return token


def token_state(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= timezone.now() else "active"
