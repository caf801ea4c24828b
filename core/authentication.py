from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core import auth_cache
from core.addresses import client_ip_address
from core.models import ApiToken
from core.services import token_digest, token_mark_used
from core.throttling import api_auth_failure_record, api_auth_lockout_remaining


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`, checked against the stored digest.

    Every failure counts against the client's address; an address over the limit is
    answered 429 with Retry-After to every bad token until its lockout ends
    (core.throttling). A valid token is never refused for its address: a 256-bit
    secret cannot be guessed, and a colleague's broken pipeline behind the same NAT
    must not lock everyone out. So the lockout costs a request nothing until it fails.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        try:
            token = self._check(header)
        except exceptions.AuthenticationFailed as exc:
            ip = client_ip_address(request)
            # A locked-out address gets 429 uncounted; otherwise this failure counts and may start the lockout.
            remaining = api_auth_lockout_remaining(ip=ip) or api_auth_failure_record(ip=ip, reason=str(exc.detail))
            if remaining is not None:
                raise exceptions.Throttled(
                    wait=remaining, detail="Too many failed authentications from your address; try again later."
                ) from None
            raise
        used = token.last_used_at
        token_mark_used(token=token)
        if token.last_used_at != used:
            auth_cache.last_used_note(token.digest, token.last_used_at)
        return token.user, token

    def _check(self, header: list[bytes]) -> ApiToken:
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        # Cached per process; one query to learn nothing changed since (core.auth_cache).
        token = auth_cache.token_find(token_digest(secret))
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("Token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive.")
        return token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token you issued yourself (admin > API tokens, or POST /api/v1/tokens/), "
            "or one an operator issued with `manage.py issue_token`.",
        }
