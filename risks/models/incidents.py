"""Incidents: what went wrong with a model version, the examples, the fix, and the reporting clock.

An incident without a version is about Fineprint itself: today only the audit trail, when the
verifier finds a broken link (risks.incidents.audit_chain_incident_open). People always name a
version; only the system reports one without.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MinLengthValidator
from django.db import models

from core.audit import AuditedHistoricalRecords


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class SeriousKind(models.TextChoices):
    """The kinds of serious incident and their reporting deadlines, after the EU AI Act (Art. 73)."""

    INFRASTRUCTURE = "infrastructure", "Widespread infringement or serious disruption of critical infrastructure"
    DEATH = "death", "Death of a person"
    OTHER = "other", "Other serious incident (health, fundamental rights, property or environment)"


# Days from becoming aware to the deadline for reporting to the authority.
REPORTING_DAYS = {SeriousKind.INFRASTRUCTURE: 2, SeriousKind.DEATH: 10, SeriousKind.OTHER: 15}


# What an incident without a version is about, wherever it is shown.
AUDIT_TRAIL_SUBJECT = "Fineprint audit trail"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    MITIGATED = "mitigated", "Mitigated"
    CLOSED = "closed", "Closed"


class Incident(models.Model):
    """Something a model version did that harmed or could have harmed someone."""

    reference = models.CharField(max_length=16, unique=True, editable=False)
    title = models.CharField(max_length=200)
    version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="incidents",
        help_text="The version it concerns. Empty: Fineprint's audit trail (reported by the system only).",
    )
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()
    aware_at = models.DateTimeField(help_text="When the organisation became aware: the reporting clock starts here.")
    description = models.TextField(validators=[MinLengthValidator(1)])
    impact = models.TextField(blank=True)
    affected_stakeholders = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    serious = models.BooleanField(default=False)
    serious_kind = models.CharField(max_length=20, choices=SeriousKind.choices, blank=True)
    reporting_deadline = models.DateTimeField(null=True, blank=True, editable=False)
    reported_to_authority_at = models.DateTimeField(null=True, blank=True)
    # The SHA-256 of the version's record when the serious incident froze it (registry.releases.version_record_sha256).
    frozen_record_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    root_cause = models.TextField(blank=True)
    fix = models.TextField(blank=True)
    guard_examples = models.TextField(
        blank=True, help_text="The guard examples added to the training data afterwards, and where."
    )
    guard_version = models.ForeignKey(
        "registry.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The version trained with the guard examples.",
    )
    status = models.CharField(max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    risks = models.ManyToManyField("risks.Risk", blank=True, related_name="incidents")
    evaluations = models.ManyToManyField(
        "registry.EvaluationResult", blank=True, related_name="+", help_text="Evaluation results attached as evidence."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistoricalRecords(m2m_fields=[risks, evaluations])

    class Meta:
        ordering = ["-aware_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(aware_at__gte=models.F("occurred_at")), name="incident_aware_after"
            ),
            models.CheckConstraint(
                condition=models.Q(serious=False, serious_kind="")
                | models.Q(serious=True) & ~models.Q(serious_kind=""),
                name="incident_serious_has_kind",
            ),
            # A serious incident freezes its version as evidence; one about the audit trail has none to freeze.
            models.CheckConstraint(
                condition=models.Q(serious=False) | models.Q(version__isnull=False), name="incident_serious_has_version"
            ),
            models.CheckConstraint(condition=models.Q(status__in=IncidentStatus.values), name="incident_status_valid"),
            models.CheckConstraint(condition=models.Q(severity__in=Severity.values), name="incident_severity_valid"),
        ]
        indexes = [
            # The freeze check: open serious incidents of a version.
            models.Index(
                fields=["version"],
                name="incident_serious_open",
                condition=models.Q(serious=True) & ~models.Q(status="closed"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def save(self, *args, **kwargs) -> None:
        self.reporting_deadline = (
            self.aware_at + timedelta(days=REPORTING_DAYS[self.serious_kind])
            if self.serious and self.serious_kind in REPORTING_DAYS and self.aware_at
            else None
        )
        super().save(*args, **kwargs)

    @property
    def about_audit_trail(self) -> bool:
        return self.version_id is None

    @property
    def subject(self) -> str:
        """What it is about, in words: the version, or the audit trail."""
        return AUDIT_TRAIL_SUBJECT if self.version_id is None else str(self.version)


class IncidentExample(models.Model):
    """One failure as it happened: the prompt, the bad answer, what it should have said. Redacted on save."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="examples")
    prompt = models.TextField(validators=[MinLengthValidator(1)])
    bad_answer = models.TextField(validators=[MinLengthValidator(1)])
    expected_answer = models.TextField(blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.incident.reference} example {self.pk}"
