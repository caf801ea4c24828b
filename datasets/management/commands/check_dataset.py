"""`manage.py check_dataset FILE --base-model M [--golden G ...] [--kind training]`: the pre-check
for a pipeline without a server or a database. Prints the report JSON; exit status 1 when it has
blocking findings, 2 when the command itself is misused."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from datasets.checks import UnknownBaseModel, check_file, golden_fingerprint
from datasets.checks.report import KINDS


class Command(BaseCommand):
    help = "Check a JSONL fine-tuning dataset and print its report; exit 1 on blocking findings."
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--base-model", required=True)
        parser.add_argument("--kind", choices=KINDS, default="training")
        parser.add_argument("--golden", action="append", default=[], help="a golden-set JSONL file (repeatable)")
        parser.add_argument("--usd-per-1m", type=float, help="training price per million tokens, for the cost forecast")

    def handle(self, *args, **options):
        try:
            goldens = [golden_fingerprint(path) for path in options["golden"]]
            price = None
            if options["usd_per_1m"] is not None:
                price = {
                    "provider": "openai",
                    "base_model": options["base_model"],
                    "usd_per_1m_training_tokens": options["usd_per_1m"],
                    "effective_from": None,
                }
            report = check_file(
                options["file"], kind=options["kind"], base_model=options["base_model"], goldens=goldens, price=price
            )
        except (OSError, UnknownBaseModel, ValueError) as error:
            raise CommandError(str(error), returncode=2) from error
        self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
        if report["blocking"]:
            sys.exit(1)
