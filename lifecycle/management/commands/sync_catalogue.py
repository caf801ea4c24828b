from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source
from lifecycle import services
from lifecycle.models import Provider


class Command(BaseCommand):
    help = "Sync the provider model catalogue now (shutdown dates from the provider's model list)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", default=Provider.OPENAI, choices=Provider.values)

    def handle(self, *args, provider, **options):
        with audit_source(Source.COMMAND):
            report = services.catalogue_sync(provider=provider)
        if not report.ok:
            raise CommandError(f"The {provider} catalogue was not synced (left as it was): {report.error}")
        self.stdout.write(f"{provider}: {report.listed} models listed, {report.created} new, {report.changed} changed.")
