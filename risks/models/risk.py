"""Risks, their treatment actions and their acceptances."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator
from django.db import models
from django.utils import timezone

from core.audit import AuditedHistoricalRecords
from risks.scoring import Band, Impact, Likelihood, matrix


class Category(models.TextChoices):
    # What teams meet with fine-tuned models in operation.
    POLICY_VIOLATION = "policy_violation", "Policy violation"
    DATA_LEAK = "data_leak", "Data leak / privacy"
    DATA_DRIFT = "data_drift", "Data drift"
    MISCLASSIFICATION = "misclassification", "Misclassification"
    SAFETY_BREACH = "safety_breach", "Safety breach"
    HALLUCINATION = "hallucination", "Hallucination / confabulation"
    LATENCY_SPIKES = "latency_spikes", "Latency spikes"
    QUOTA_EXHAUSTION = "quota_exhaustion", "Quota exhaustion"
    COST_OVERRUN = "cost_overrun", "Cost overrun"
    # The NIST AI 600-1 generative-AI profile's twelve risks.
    NIST_CBRN = "nist_cbrn", "NIST: CBRN information or capabilities"
    NIST_CONFABULATION = "nist_confabulation", "NIST: Confabulation"
    NIST_DANGEROUS_CONTENT = "nist_dangerous_content", "NIST: Dangerous, violent or hateful content"
    NIST_DATA_PRIVACY = "nist_data_privacy", "NIST: Data privacy"
    NIST_ENVIRONMENTAL = "nist_environmental", "NIST: Environmental impacts"
    NIST_HARMFUL_BIAS = "nist_harmful_bias", "NIST: Harmful bias and homogenization"
    NIST_HUMAN_AI_CONFIGURATION = "nist_human_ai_configuration", "NIST: Human-AI configuration"
    NIST_INFORMATION_INTEGRITY = "nist_information_integrity", "NIST: Information integrity"
    NIST_INFORMATION_SECURITY = "nist_information_security", "NIST: Information security"
    NIST_INTELLECTUAL_PROPERTY = "nist_intellectual_property", "NIST: Intellectual property"
    NIST_OBSCENE_CONTENT = "nist_obscene_content", "NIST: Obscene, degrading or abusive content"
    NIST_VALUE_CHAIN = "nist_value_chain", "NIST: Value chain and component integration"


class Treatment(models.TextChoices):
    MITIGATE = "mitigate", "Mitigate"
    ACCEPT = "accept", "Accept"
    TRANSFER = "transfer", "Transfer"
    AVOID = "avoid", "Avoid"


class RiskStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    IN_TREATMENT = "in_treatment", "In treatment"
    ACCEPTED = "accepted", "Accepted"
    CLOSED = "closed", "Closed"


SCALE_FIELDS = ("inherent_likelihood", "inherent_impact", "residual_likelihood", "residual_impact")


def _scale_check(field: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__gte": 1, f"{field}__lte": 5}), name=f"risk_{field}_1_5"
    )


class Risk(models.Model):
    """One risk: cause -> event -> consequence, scored before (inherent) and after (residual) its controls."""

    reference = models.CharField(max_length=16, unique=True, editable=False)
    title = models.CharField(max_length=200)
    statement = models.TextField(
        validators=[MinLengthValidator(1)], help_text="Cause -> event -> consequence, in one or two sentences."
    )
    category = models.CharField(max_length=40, choices=Category.choices)
    # "models" in the API; named so it does not shadow django.db.models in this class.
    registered_models = models.ManyToManyField("registry.RegisteredModel", blank=True, related_name="risks")
    model_versions = models.ManyToManyField("registry.ModelVersion", blank=True, related_name="risks")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    inherent_likelihood = models.PositiveSmallIntegerField(choices=Likelihood.choices)
    inherent_impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    residual_likelihood = models.PositiveSmallIntegerField(choices=Likelihood.choices)
    residual_impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    # Computed from the scales with the matrix version below, on every save.
    inherent_score = models.PositiveSmallIntegerField(editable=False)
    inherent_band = models.CharField(max_length=10, choices=Band.choices, editable=False)
    residual_score = models.PositiveSmallIntegerField(editable=False)
    residual_band = models.CharField(max_length=10, choices=Band.choices, editable=False)
    matrix_version = models.CharField(max_length=20, editable=False)
    treatment = models.CharField(max_length=10, choices=Treatment.choices, default=Treatment.MITIGATE)
    mitigation = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=RiskStatus.choices, default=RiskStatus.OPEN)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    next_review_at = models.DateTimeField()
    # A key risk indicator fired: one of the risk's controls failed its latest check.
    breached = models.BooleanField(default=False)
    breached_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistoricalRecords(m2m_fields=[registered_models, model_versions])

    SCALE_FIELDS = SCALE_FIELDS

    class Meta:
        ordering = ["-residual_score", "reference"]
        constraints = [
            *[_scale_check(field) for field in SCALE_FIELDS],
            models.CheckConstraint(
                condition=models.Q(inherent_score=models.F("inherent_likelihood") * models.F("inherent_impact")),
                name="risk_inherent_score_product",
            ),
            models.CheckConstraint(
                condition=models.Q(residual_score=models.F("residual_likelihood") * models.F("residual_impact")),
                name="risk_residual_score_product",
            ),
            models.CheckConstraint(condition=models.Q(status__in=RiskStatus.values), name="risk_status_valid"),
            models.CheckConstraint(condition=models.Q(category__in=Category.values), name="risk_category_valid"),
            models.CheckConstraint(condition=models.Q(treatment__in=Treatment.values), name="risk_treatment_valid"),
        ]
        indexes = [
            # The register filtered by band (admin filter, ?residual_band=, the report's counts).
            models.Index(fields=["residual_band", "status"], name="risk_residual_band"),
            # Overdue reviews: open risks whose next review is past.
            models.Index(fields=["next_review_at"], name="risk_next_review", condition=~models.Q(status="closed")),
            # The heat map: counts per cell.
            models.Index(fields=["residual_likelihood", "residual_impact"], name="risk_residual_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def save(self, *args, **kwargs) -> None:
        self.rescore()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        scales_ok = all(getattr(self, f) in range(1, 6) for f in self.SCALE_FIELDS)
        for field in self.SCALE_FIELDS:
            if getattr(self, field) not in range(1, 6):
                errors[field] = "1 to 5."
        if scales_ok:
            self.rescore()
            if self.residual_likelihood > self.inherent_likelihood:
                errors["residual_likelihood"] = (
                    "Controls do not make a risk more likely: at most the inherent likelihood."
                )
            if self.residual_impact > self.inherent_impact:
                errors["residual_impact"] = "Controls do not make a risk worse: at most the inherent impact."
        if not self.statement.strip():
            errors["statement"] = "State the risk: cause -> event -> consequence."
        if self.delegate_id and self.delegate_id == self.owner_id:
            errors["delegate"] = "The delegate is someone other than the owner."
        if errors:
            raise ValidationError(errors)

    def rescore(self) -> None:
        scoring = matrix(self.matrix_version or None)
        self.matrix_version = scoring.version
        self.inherent_score = scoring.score(self.inherent_likelihood, self.inherent_impact)
        self.inherent_band = scoring.band(self.inherent_likelihood, self.inherent_impact)
        self.residual_score = scoring.score(self.residual_likelihood, self.residual_impact)
        self.residual_band = scoring.band(self.residual_likelihood, self.residual_impact)

    @property
    def overdue(self) -> bool:
        return (
            self.status != RiskStatus.CLOSED
            and self.next_review_at is not None
            and self.next_review_at < timezone.now()
        )

    @property
    def over_appetite(self) -> bool:
        return self.status != RiskStatus.CLOSED and matrix(self.matrix_version).over_appetite(self.residual_band)


class ActionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


ACTION_FINISHED = (ActionStatus.DONE, ActionStatus.CANCELLED)


class TreatmentAction(models.Model):
    """A step of a risk's treatment plan, with an owner and a due date."""

    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="actions")
    action = models.TextField(validators=[MinLengthValidator(1)])
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    status = models.CharField(max_length=20, choices=ActionStatus.choices, default=ActionStatus.PLANNED)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ActionStatus.values), name="action_status_valid"),
        ]
        indexes = [
            # Overdue actions: unfinished ones by due date.
            models.Index(fields=["due_on"], name="action_due", condition=~models.Q(status__in=ACTION_FINISHED)),
        ]

    def __str__(self) -> str:
        return f"{self.risk.reference}: {self.action[:60]}"

    @property
    def overdue(self) -> bool:
        return self.status not in ACTION_FINISHED and self.due_on < timezone.localdate()


class AcceptanceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class Acceptance(models.Model):
    """A decision to live with a risk at its residual score, by someone with the authority, until a date."""

    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="acceptances")
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    authority = models.CharField(max_length=100, help_text="The role under which it was accepted.")
    rationale = models.TextField(validators=[MinLengthValidator(1)])
    conditions = models.TextField(blank=True)
    accepted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # What was accepted: the residual assessment at that moment.
    residual_score = models.PositiveSmallIntegerField()
    residual_band = models.CharField(max_length=10, choices=Band.choices)
    status = models.CharField(max_length=10, choices=AcceptanceStatus.choices, default=AcceptanceStatus.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-accepted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["risk"], condition=models.Q(status="active"), name="acceptance_one_active_per_risk"
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("accepted_at")), name="acceptance_expires_later"
            ),
            # The database refuses what the service refuses: no Critical residual risk is accepted.
            models.CheckConstraint(condition=~models.Q(residual_band=Band.CRITICAL), name="acceptance_not_critical"),
        ]
        indexes = [
            # The expiry task: active acceptances by expiry.
            models.Index(fields=["expires_at"], name="acceptance_active_expiry", condition=models.Q(status="active")),
        ]

    def __str__(self) -> str:
        return f"{self.risk.reference} accepted by {self.accepted_by} until {self.expires_at:%Y-%m-%d}"
