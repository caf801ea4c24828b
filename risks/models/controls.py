"""Controls and their evidence: reviewed documents, and metric checks evaluated by a task."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinLengthValidator
from django.db import models

from core.audit import AuditedHistoricalRecords
from registry.models import SHA256_PATTERN, sha256_validator


class Control(models.Model):
    """A safeguard that reduces one or more risks; its evidence says whether it works."""

    reference = models.CharField(max_length=16, unique=True, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(validators=[MinLengthValidator(1)], help_text="What the control checks, and how.")
    risks = models.ManyToManyField("risks.Risk", blank=True, related_name="controls")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set by the metric-check task when a check fails, cleared when all pass again.
    breached = models.BooleanField(default=False)
    breached_since = models.DateTimeField(null=True, blank=True)
    breach_detail = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistoricalRecords(m2m_fields=[risks])

    class Meta:
        ordering = ["reference"]

    def __str__(self) -> str:
        return f"{self.reference} {self.name}"


class Verdict(models.TextChoices):
    EFFECTIVE = "effective", "Effective"
    PARTIALLY_EFFECTIVE = "partially_effective", "Partially effective"
    INEFFECTIVE = "ineffective", "Ineffective"


class DocumentEvidence(models.Model):
    """A document showing the control worked over a period, with the reviewer's verdict.

    Either a link or an uploaded file; an uploaded file's SHA-256 is computed on
    upload, a linked document's may be given so the copy reviewed can be proven.
    """

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="documents")
    title = models.CharField(max_length=200)
    url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to="evidence/%Y/%m/", blank=True)
    sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_validator])
    period_start = models.DateField()
    period_end = models.DateField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=20, choices=Verdict.choices)
    notes = models.TextField(blank=True)
    reviewed_at = models.DateTimeField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        verbose_name_plural = "document evidence"
        constraints = [
            models.CheckConstraint(condition=~models.Q(url="", file=""), name="document_evidence_link_or_file"),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")), name="document_evidence_period_order"
            ),
            models.CheckConstraint(
                condition=models.Q(sha256="") | models.Q(sha256__regex=SHA256_PATTERN), name="document_evidence_sha256"
            ),
            models.CheckConstraint(condition=models.Q(verdict__in=Verdict.values), name="document_evidence_verdict"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.period_start} to {self.period_end})"


class MetricCheck(models.Model):
    """Live evidence: a metric of the latest evaluation of each watched model's production version, within bounds."""

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="metric_checks")
    metric = models.CharField(max_length=100, help_text="e.g. refusal_rate, win_rate, p95_latency_ms")
    minimum = models.FloatField(null=True, blank=True, help_text="Fails below this value.")
    maximum = models.FloatField(null=True, blank=True, help_text="Fails above this value.")
    suite = models.CharField(max_length=100, blank=True, help_text="Only evaluations of this suite; any when blank.")
    watched_models = models.ManyToManyField("registry.RegisteredModel", related_name="metric_checks")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords(m2m_fields=[watched_models])

    class Meta:
        ordering = ["control", "metric", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(minimum__isnull=False) | models.Q(maximum__isnull=False),
                name="metric_check_has_a_bound",
            ),
            models.CheckConstraint(
                condition=models.Q(minimum__isnull=True)
                | models.Q(maximum__isnull=True)
                | models.Q(minimum__lte=models.F("maximum")),
                name="metric_check_bounds_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.describe_bounds()}"

    def describe_bounds(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"between {self.minimum:g} and {self.maximum:g}"
        if self.minimum is not None:
            return f"at least {self.minimum:g}"
        return f"at most {self.maximum:g}"


class Outcome(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    NO_DATA = "no_data", "No data"


class MetricCheckResult(models.Model):
    """What a metric check found for one watched model: recorded when the finding changes."""

    metric_check = models.ForeignKey(MetricCheck, on_delete=models.PROTECT, related_name="results")
    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evaluation = models.ForeignKey(
        "registry.EvaluationResult", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    value = models.FloatField(null=True, blank=True)
    detail = models.TextField()
    checked_at = models.DateTimeField()

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-checked_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=Outcome.values), name="metric_result_outcome"),
        ]
        indexes = [
            # The latest finding per (check, model): the task compares against it, pages show it.
            models.Index(fields=["metric_check", "model", "-checked_at"], name="metric_result_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_check}: {self.outcome} for {self.model}"
