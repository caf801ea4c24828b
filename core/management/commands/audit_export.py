"""manage.py audit_export --from YYYY-MM-DD --to YYYY-MM-DD OUT.zip: an auditor's export from the shell."""

from __future__ import annotations

import argparse
import getpass
import shutil
import socket
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source, service_user
from core.audit_export import audit_export_create, export_path, period_of_days
from core.errors import ApplicationError


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Export the audit history of a period (both days included) as a ZIP an auditor checks with its own "
        "verify.py. A copy is kept under AUDIT_EXPORT_DIR and the export is recorded in the history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", type=_day, required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", type=_day, required=True, help="Last day (included), YYYY-MM-DD.")
        parser.add_argument("out", help="The ZIP file to write (it must not exist).")
        parser.add_argument("--reason", default="Auditor export", help="Why: recorded in the history.")
        parser.add_argument(
            "--user",
            help="Your Fineprint username, recorded as who exported. Default: the service account "
            "(the operating-system login is recorded in the reason either way).",
        )

    def handle(self, *args, first: date, last: date, out: str, reason: str, user: str | None, **options):
        target = Path(out)
        if target.exists():
            raise CommandError(f"{target} exists: choose another name (an export never overwrites a file).")
        if not target.parent.is_dir():
            raise CommandError(f"{target.parent} is not a folder.")
        actor = self._user(user) if user else service_user()
        why = f"{reason} (manage.py audit_export, run by {getpass.getuser()}@{socket.gethostname()})"
        with audit_source(Source.COMMAND):
            try:
                period_from, period_to = period_of_days(first, last)
                export = audit_export_create(actor=actor, period_from=period_from, period_to=period_to, reason=why)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
        with export_path(export).open("rb") as source, target.open("xb") as copy:
            shutil.copyfileobj(source, copy)
        self.stdout.write(str(target))
        self.stderr.write(
            f"{export.rows} history rows (links {export.first_seq} to {export.last_seq}) from {first} to {last}; "
            f"SHA-256 {export.sha256}. Check it with: python3 verify.py {target.name} --key-file KEY"
        )

    @staticmethod
    def _user(username: str):
        User = get_user_model()
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
