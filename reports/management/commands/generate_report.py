"""`python manage.py generate_report 2026-10`: build that month's report now (a new revision if one exists)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.audit import Source, audit_source, service_user
from core.errors import ApplicationError
from reports import services
from reports.models import Delivery, DeliveryStatus, ReportRevision, Trigger
from reports.periods import Period


class Command(BaseCommand):
    help = "Generate the report of a month (YYYY-MM) synchronously; print its id and SHA-256."

    def add_arguments(self, parser):
        parser.add_argument("period", nargs="?", help="YYYY-MM; last month when omitted")
        parser.add_argument("--as", dest="username", help="Record it as done by this user (default: the service user)")
        parser.add_argument("--send", action="store_true", help="Also email it to the recipients now, in this process")
        parser.add_argument(
            "--if-missing", action="store_true", help="Do nothing if the month already has a report (make run)"
        )

    def handle(self, *args, period: str | None, username: str | None, send: bool, if_missing: bool, **options):
        try:
            target = Period.parse(period) if period else Period.previous_month()
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        if if_missing and ReportRevision.objects.filter(report__period=target.first_day).exists():
            self.stdout.write(f"The report of {target} exists already; nothing to do.")
            return
        with audit_source(Source.COMMAND):
            actor = self._actor(username)
            generated = services.report_generate(period=target, actor=actor, trigger=Trigger.COMMAND)
            revision = generated.revision
            self.stdout.write(
                f"Report {target} revision {revision.number}: id {revision.pk}, {revision.pages} pages, "
                f"built in {revision.build_seconds:.2f} s + rendered in {revision.render_seconds:.2f} s"
            )
            self.stdout.write(f"PDF SHA-256:  {revision.pdf_sha256}")
            self.stdout.write(f"data SHA-256: {revision.data_sha256}")
            self.stdout.write(f"file: {revision.pdf.path}")
            if send:
                services.deliveries_create(revision=revision, actor=actor)
                for delivery in revision.deliveries.filter(status=DeliveryStatus.PENDING):
                    sent = services.delivery_send(delivery_id=delivery.pk, actor=actor, final_attempt=True)
                    self.stdout.write(f"sent to {sent.email}: {sent.status}")
                if not Delivery.objects.filter(revision=revision).exists():
                    self.stdout.write("No recipient: nobody in the Executives group has an email address.")

    def _actor(self, username: str | None):
        if not username:
            return service_user()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user '{username}'.")
        return user
