from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source
from lifecycle import services
from lifecycle.models import Provider


class Command(BaseCommand):
    help = "Sync the provider model catalogue now (shutdown dates from the provider's model list)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider", choices=Provider.values, help="Only this provider (default: every configured provider)."
        )

    def handle(self, *args, provider, **options):
        with audit_source(Source.COMMAND):
            reports = [services.catalogue_sync(provider=provider)] if provider else services.catalogues_sync()
        failed = []
        for report in reports:
            if report.skipped:
                self.stdout.write(f"{report.provider}: not configured ({report.skipped} is not set), skipped.")
            elif report.ok:
                self.stdout.write(
                    f"{report.provider}: {report.listed} models listed, {report.created} new, {report.changed} changed."
                )
            else:
                failed.append(f"{report.provider}: {report.error}")
        if failed:
            raise CommandError(f"The catalogue was not synced (left as it was) for {'; '.join(failed)}")
