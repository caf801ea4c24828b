"""Writes on core records: API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.audit import mark_change
from core.errors import Conflict, ValidationFailed
from core.models import ApiToken

TOKEN_PREFIX = "fp_"  # noqa: S105  (a marker, not a secret)


def token_digest(secret: str) -> str:
    # The secret has 256 bits of entropy, so a plain SHA-256 cannot be brute-forced
    # and keeps each request's lookup cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


@transaction.atomic
def token_issue(*, user, name: str, actor, expires_at=None, reason: str = "") -> IssuedToken:
    if not user.is_active:
        raise ValidationFailed("Cannot issue a token to an inactive user.", fields={"user": ["User is inactive."]})
    if not name.strip():
        raise ValidationFailed("A token needs a name.", fields={"name": ["This field may not be blank."]})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name.strip(),
        prefix=secret[:10],
        digest=token_digest(secret),
        created_by=actor,
        expires_at=expires_at,
    )
    token.full_clean()
    mark_change(token, actor=actor, reason=reason or f"Token '{token.name}' issued to {user}")
    token.save()
    return IssuedToken(token=token, secret=secret)


@transaction.atomic
def token_revoke(*, token: ApiToken, actor, reason: str) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = timezone.now()
    mark_change(token, actor=actor, reason=reason)
    token.save()
    return token
