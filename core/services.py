"""Writes on core records: API tokens.

A token is only ever issued to the person who will use it. People issue their
own (admin or API); an operator with shell access issues them with
`manage.py issue_token`, which records who ran it, and is the only way a
service account gets one. Nobody is ever shown a secret minted for someone else.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audited_save
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.models import ApiToken
from core.roles import Role, has_role, is_service_account

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "fp_"  # noqa: S105  (a marker, not a secret)


def token_digest(secret: str) -> str:
    # The secret has 256 bits of entropy, so a plain SHA-256 cannot be brute-forced
    # and keeps each request's lookup cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def _expiry(expires_at: datetime | None) -> datetime:
    now = timezone.now()
    latest = now + timedelta(days=settings.API_TOKEN_TTL_DAYS)
    if expires_at is None:
        return latest
    if expires_at <= now:
        raise ValidationFailed("A token must expire in the future.", fields={"expires_at": ["Must be in the future."]})
    if expires_at > latest:
        raise ValidationFailed(
            f"A token lives at most {settings.API_TOKEN_TTL_DAYS} days.",
            fields={"expires_at": [f"At most {settings.API_TOKEN_TTL_DAYS} days from now."]},
        )
    return expires_at


@transaction.atomic
def token_issue(
    *,
    user,
    name: str,
    issued_by,
    via: str,
    operator: bool = False,
    expires_at: datetime | None = None,
    reason: str = "",
) -> IssuedToken:
    """Issue a token to `user` and return its secret (shown once, never stored).

    From the admin or the API, `issued_by` is the person acting and must be `user`:
    nobody is handed a secret that lets them act as someone else. `operator=True` is an
    operator at the shell (`manage.py issue_token`): the one path for service accounts;
    `issued_by` is then the operator's own account if they named it (else None) and
    `via` says who ran the command.
    """
    if not operator and (issued_by is None or issued_by.pk != user.pk):
        raise PermissionDenied(
            "A token is issued only to the person who will use it.",
            fields={"user": ["You may issue tokens for yourself only."]},
        )
    if not operator and is_service_account(user):
        raise PermissionDenied("Tokens for service accounts are issued by an operator with manage.py issue_token.")
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
        created_by=issued_by,
        issued_via=via[:200],
        expires_at=_expiry(expires_at),
    )
    token.full_clean()
    audited_save(token, actor=issued_by, reason=reason or f"Token '{token.name}' issued to {user} ({via})")
    return IssuedToken(token=token, secret=secret)


def token_may_revoke(*, token: ApiToken, actor) -> bool:
    """Owners revoke their own tokens; compliance staff may revoke anyone's."""
    return token.user_id == actor.pk or has_role(actor, Role.COMPLIANCE)


@transaction.atomic
def token_revoke(*, token: ApiToken, actor, reason: str) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if actor is not None and not token_may_revoke(token=token, actor=actor):
        raise PermissionDenied("Only the token's owner or compliance staff may revoke it.")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why you revoke it."]})
    if token.revoked_at is not None:
        raise Conflict("This token is already revoked.")
    token.revoked_at = timezone.now()
    audited_save(token, actor=actor, reason=reason.strip())
    return token


LAST_USE_RESOLUTION = timedelta(hours=1)


def token_mark_used(*, token: ApiToken) -> None:
    """Record that a token was used, at most once an hour, so a request does not pay for a write.

    `last_used_at` is bookkeeping kept out of the token's history (like a lease), so the
    conditional update below leaves no history row to skip; the condition also makes
    concurrent requests write once.
    """
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USE_RESOLUTION:
        return
    stale = now - LAST_USE_RESOLUTION
    never_or_stale = Q(last_used_at=None) | Q(last_used_at__lt=stale)
    ApiToken.objects.filter(never_or_stale, pk=token.pk).update(last_used_at=now)  # untracked field, see above
    token.last_used_at = now


def token_expiry_notices_send() -> int:
    """Email each owner whose live token expires within API_TOKEN_EXPIRY_NOTICE_DAYS, once per token.

    The mail goes out before the token is marked, outside any transaction: a failed
    send leaves it unmarked for the next run; a crash between the two sends it twice,
    which is the better way to fail for a warning.
    """
    now = timezone.now()
    due = (
        ApiToken.objects.filter(
            revoked_at=None,
            expiry_notified_at=None,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=settings.API_TOKEN_EXPIRY_NOTICE_DAYS),
            user__is_active=True,
        )
        .exclude(user__email="")
        .select_related("user")
        .order_by("expires_at", "id")
    )
    sent = 0
    for token in due:
        try:
            _expiry_notice_send(token, days=max((token.expires_at - now).days, 0))
        except (OSError, smtplib.SMTPException):
            logger.exception("Could not email %s about token %s; the next run tries again.", token.user, token.prefix)
            continue
        token.expiry_notified_at = timezone.now()
        audited_save(token, actor=None, reason=f"Owner emailed: the token expires on {token.expires_at:%Y-%m-%d}")
        sent += 1
    return sent


def _expiry_notice_send(token: ApiToken, *, days: int) -> None:
    send_mail(
        subject=f"Your Fineprint API token '{token.name}' expires in {days} days",
        message=(
            f"Hello {token.user.get_full_name() or token.user.username},\n\n"
            f"your API token {token.prefix}... ('{token.name}') expires on {token.expires_at:%Y-%m-%d %H:%M} UTC.\n"
            "Issue a new one (admin > API tokens, or POST /api/v1/tokens/; an operator issues a service\n"
            "account's) and switch to it before then, then revoke the old one.\n"
        ),
        from_email=None,
        recipient_list=[token.user.email],
    )
