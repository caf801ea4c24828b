"""Monthly reports: one report per period, regenerated only as new revisions; deliveries per recipient."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.audit import AuditedHistoricalRecords
from registry.models import SHA256_PATTERN, sha256_validator


class Report(models.Model):
    """The report of one calendar month (in the configured time zone); its revisions hold the PDFs."""

    period = models.DateField(unique=True, help_text="The first day of the month reported on.")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-period"]

    def __str__(self) -> str:
        return f"Report {self.period:%Y-%m}"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule (Celery beat)"
    ADMIN = "admin", "Generate now (admin)"
    COMMAND = "command", "Command line"
    API = "api", "API"


def _pdf_path(revision: ReportRevision, filename: str) -> str:
    return (
        f"reports/{revision.report.period:%Y-%m}/fineprint-report-{revision.report.period:%Y-%m}-r{revision.number}.pdf"
    )


class ReportRevision(models.Model):
    """One generation of a report: the builder's data, its SHA-256, the PDF and its SHA-256. Never changed."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    # What asked for it, and a key that names that one request: a retried task or a
    # second beat with the same trigger finds the revision the first one made.
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    trigger_key = models.CharField(max_length=200, unique=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data = models.JSONField(help_text="What the builder gathered; the PDF is rendered from this alone.")
    data_sha256 = models.CharField(max_length=64, validators=[sha256_validator])
    pdf = models.FileField(upload_to=_pdf_path)
    pdf_sha256 = models.CharField(max_length=64, validators=[sha256_validator])
    pdf_bytes = models.PositiveIntegerField()
    pages = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    generated_at = models.DateTimeField()
    build_seconds = models.FloatField()
    render_seconds = models.FloatField()

    history = AuditedHistoricalRecords(excluded_fields=["data"])

    class Meta:
        ordering = ["-report__period", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="report_revision_unique_number"),
            models.CheckConstraint(condition=models.Q(pdf_sha256__regex=SHA256_PATTERN), name="report_pdf_sha256"),
            models.CheckConstraint(condition=models.Q(data_sha256__regex=SHA256_PATTERN), name="report_data_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.report} revision {self.number}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Failed, retrying"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """The report revision sent to one recipient, by email; retried with backoff when the send fails."""

    revision = models.ForeignKey(ReportRevision, on_delete=models.PROTECT, related_name="deliveries")
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["revision", "email"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["revision", "email"], name="delivery_unique_recipient"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.revision} to {self.email}: {self.status}"
