from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source
from core.errors import ApplicationError
from core.services import token_issue


class Command(BaseCommand):
    help = "Issue an API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="What the token is for.")

    def handle(self, *args, username: str, name: str, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        with audit_source(Source.COMMAND):
            try:
                issued = token_issue(user=user, name=name, actor=None, reason="Issued with manage.py issue_token")
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(issued.secret)
