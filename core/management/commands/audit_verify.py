from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source
from core.audit_runs import verification_run
from core.models import AuditCheckpoint, AuditVerification

LATEST = "latest"


class Command(BaseCommand):
    help = (
        "Verify the audit chain: recompute every history row's link and check it against the head and the "
        "signed checkpoints. Prints the first broken link and exits with status 1 if there is one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            nargs="?",
            const=LATEST,
            metavar="CHECKPOINT",
            help="Check only the links after a checkpoint: its file (path or name) or its id. Alone: the latest "
            "checkpoint a passed run has checked (a full run if there is none).",
        )

    def handle(self, *args, since: str | None, **options):
        with audit_source(Source.COMMAND):
            if since is None:
                run = verification_run(scope=AuditVerification.Scope.FULL)
            else:
                checkpoint = None if since == LATEST else self._checkpoint(since)
                run = verification_run(scope=AuditVerification.Scope.SINCE, since=checkpoint)
        seconds = max((run.finished_at - run.started_at).total_seconds(), 1e-6)
        start = f" after checkpoint {run.since.pk} (link {run.since.seq})" if run.since else ""
        self.stdout.write(
            f"Checked {run.rows_checked} rows{start} in {seconds:.2f} s ({run.rows_checked / seconds:,.0f} rows/s)."
        )
        if run.ok:
            self.stdout.write(f"The audit chain is intact up to link {run.last_seq}.")
            return
        self.stdout.write(f"BROKEN: {run.problem}")
        for label, value in [
            ("Table", run.break_table),
            ("Row id", run.break_row_id),
            ("Object", run.break_object_id),
            ("Link (seq)", run.break_seq),
            ("Expected hash", run.expected_hash),
            ("Found hash", run.found_hash),
        ]:
            if value not in ("", None):
                self.stdout.write(f"  {label}: {value}")
        raise CommandError(f"The audit chain is broken (verification {run.pk}).")

    @staticmethod
    def _checkpoint(given: str) -> AuditCheckpoint:
        """A checkpoint by id, or by its file: a path, or a name in AUDIT_CHECKPOINT_DIR."""
        if given.isdigit():
            found = AuditCheckpoint.objects.filter(pk=int(given)).first()
            if found is None:
                raise CommandError(f"No checkpoint with id {given}.")
            return found
        path = Path(given)
        if not path.is_file():
            path = Path(settings.AUDIT_CHECKPOINT_DIR) / given
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CommandError(f"No checkpoint file {given} (nor in {settings.AUDIT_CHECKPOINT_DIR}).") from None
        except (UnicodeDecodeError, ValueError):
            raise CommandError(f"{path} is not a checkpoint (not JSON).") from None
        if not isinstance(content, dict):
            raise CommandError(f"{path} is not a checkpoint.")
        found = AuditCheckpoint.objects.filter(seq=content.get("seq"), signature=content.get("signature", "")).first()
        if found is None:
            raise CommandError(f"{path} matches no recorded checkpoint (same link and signature).")
        return found
