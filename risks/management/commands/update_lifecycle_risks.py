from __future__ import annotations

from django.core.management.base import BaseCommand

from core.audit import Source, audit_source
from risks import lifecycle


class Command(BaseCommand):
    help = "Open, raise and close the runway risks of live deployments now (beat does it hourly)."

    def handle(self, *args, **options):
        with audit_source(Source.COMMAND):
            run = lifecycle.lifecycle_risks_update().as_dict()
        counts = {name: len(value) for name, value in run.items() if isinstance(value, list)}
        summary = ", ".join(f"{name} {count}" for name, count in counts.items())
        self.stdout.write(f"Runway risks on {run['on']}: {summary}; {run['notices_owed']} notices owed.")
