from __future__ import annotations

import getpass
import socket
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.audit import Source, audit_source
from core.errors import ApplicationError
from core.services import token_issue


class Command(BaseCommand):
    help = (
        "Issue an API token to a user and print it (shown only this once). For operators with shell "
        "access: the only way a service account gets a token. Who ran it is recorded on the token."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="Who will use the token.")
        parser.add_argument("--name", default="command line", help="What the token is for.")
        parser.add_argument(
            "--days", type=int, help="Expire after this many days (default and most: API_TOKEN_TTL_DAYS)."
        )
        parser.add_argument(
            "--operator",
            help="Your own Fineprint username, recorded as the issuer (four eyes then keeps you from "
            "deciding a promotion requested with this token). Default: the operating-system login only.",
        )

    def handle(self, *args, username: str, name: str, days: int | None, operator: str | None, **options):
        User = get_user_model()
        user = self._user(User, username)
        issuer = self._user(User, operator) if operator else None
        via = f"manage.py issue_token, run by {getpass.getuser()}@{socket.gethostname()}"
        if issuer is not None:
            via += f" as {issuer.username}"
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        with audit_source(Source.COMMAND):
            try:
                issued = token_issue(
                    user=user,
                    name=name,
                    issued_by=issuer,
                    via=via,
                    operator=True,
                    expires_at=expires_at,
                    reason="Issued with manage.py issue_token",
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(issued.secret)
        self.stderr.write(f"Expires on {issued.token.expires_at:%Y-%m-%d %H:%M} UTC.")

    @staticmethod
    def _user(User, username: str):
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
