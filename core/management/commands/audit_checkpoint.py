from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source
from core.checkpoints import checkpoint_make
from core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Make a signed checkpoint of the audit chain's head now and write it outside the database "
        "(AUDIT_CHECKPOINT_DIR, and the S3 bucket if AUDIT_CHECKPOINT_S3_BUCKET is set), never over an older one."
    )

    def handle(self, *args, **options):
        with audit_source(Source.COMMAND):
            try:
                checkpoint = checkpoint_make(actor=None)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(f"Checkpoint {checkpoint.pk} at link {checkpoint.seq} ({checkpoint.rows} rows).")
        for location in checkpoint.location.split("; "):
            self.stdout.write(f"Written to {location}")
