from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.db.models.fields.json import KeyTransform

from core.audit import AuditedHistoricalRecords
from core.validation import SHA256_PATTERN, sha256_validator
from lifecycle.models import Provider

VERSION_LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"
MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}\Z"
version_label_validator = RegexValidator(
    VERSION_LABEL_PATTERN,
    "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
)
model_name_validator = RegexValidator(
    MODEL_NAME_PATTERN, "Use lowercase letters, digits and '-', starting with a letter or digit."
)


class RiskTier(models.TextChoices):
    UNCLASSIFIED = "unclassified", "Unclassified"
    MINIMAL = "minimal", "Minimal"
    LIMITED = "limited", "Limited"
    HIGH = "high", "High"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    TRAINING = "training", "Training"
    FAILED = "failed", "Training failed"
    CANCELLED = "cancelled", "Training cancelled"
    EVALUATING = "evaluating", "Evaluating"
    APPROVED = "approved", "Approved"
    CANARY = "canary", "Canary"
    PRODUCTION = "production", "Production"
    ROLLED_BACK = "rolled_back", "Rolled back"
    RETIRED = "retired", "Retired"


class JobStatus(models.TextChoices):
    """The provider's fine-tuning job statuses (OpenAI's names)."""

    VALIDATING_FILES = "validating_files", "Validating files"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ServingState(models.TextChoices):
    """A serving deployment's state, where the provider needs one (Azure); blank for OpenAI."""

    CREATING = "creating", "Creating"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # Never created, or deleted by the provider (Azure deletes one unused for 15 days).
    MISSING = "missing", "Missing"


# The deployment states the sync keeps asking about: the others change only when someone deploys again.
SERVING_LIVE = (ServingState.CREATING, ServingState.SUCCEEDED)

JOB_TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
# Statuses only move forward: a lower rank than the one recorded is a stale answer.
JOB_RANK = {
    "": 0,
    "validating_files": 1,
    "queued": 2,
    "running": 3,
    "paused": 3,
    "succeeded": 4,
    "failed": 4,
    "cancelled": 4,
}


class RegisteredModel(models.Model):
    """A fine-tuned model product, e.g. the support assistant; it has many versions."""

    name = models.CharField(max_length=63, unique=True, validators=[model_name_validator])
    display_name = models.CharField(max_length=200)
    purpose = models.TextField(validators=[MinLengthValidator(1)])
    permitted_uses = models.TextField(blank=True)
    out_of_scope_uses = models.TextField(blank=True)
    business_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    technical_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    base_model = models.CharField(max_length=100, help_text="New versions train on it, e.g. gpt-4.1-mini-2025-04-14.")
    # Superseded by the provider catalogue (lifecycle): no longer set; kept so history reads as it was.
    base_model_retires_on = models.DateField(null=True, blank=True, editable=False)
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OPENAI)
    risk_tier = models.CharField(max_length=20, choices=RiskTier.choices, default=RiskTier.UNCLASSIFIED)
    is_retired = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = AuditedHistoricalRecords()

    # Only compliance may set these (service rule, see registry.services). Moving a model to
    # another provider changes where its next versions train (and who processes its data).
    GOVERNANCE_FIELDS = frozenset({"business_owner", "technical_owner", "risk_tier", "is_retired", "provider"})

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(risk_tier__in=RiskTier.values), name="registered_model_risk_tier_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One trained version of a registered model: what it was trained on and how it fared."""

    # No index of its own: model_version_unique_label and version_model_newest both lead with it.
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="versions", db_index=False)
    version = models.CharField(max_length=64, validators=[version_label_validator])
    # What it was (or will be) trained on: the model's base model when it was registered, unless given.
    base_model = models.CharField(max_length=100)
    # Who trains it: the model's provider when the version was registered. A model that moves to
    # another provider later leaves its earlier versions where they were trained.
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OPENAI)
    # Dataset search matches either hash exactly: indexed in Meta, not by `db_index`, which on PostgreSQL
    # adds a second index for LIKE 'prefix%' that no query here makes.
    training_file_sha256 = models.CharField(max_length=64, validators=[sha256_validator])
    validation_file_sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_validator])
    training_file_id = models.CharField(max_length=100, blank=True, help_text="The provider's file id.")
    validation_file_id = models.CharField(max_length=100, blank=True)
    changelog = models.TextField(help_text="What changed in the data, and the behaviour shift expected.")
    # Unique in Meta, not by `unique=True`, which on PostgreSQL adds a second index for LIKE 'prefix%'.
    # NULL, not "", when there is no job: versions without one do not collide under that constraint.
    provider_job_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    fine_tuned_model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # The fine-tune job, as the provider last reported it (registry.fine_tuning keeps it in sync).
    job_status = models.CharField(max_length=20, choices=JobStatus.choices, blank=True)
    trained_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    job_error_code = models.CharField(max_length=100, blank=True)
    job_error_message = models.TextField(blank=True)
    job_finished_at = models.DateTimeField(null=True, blank=True)
    result_files = models.JSONField(default=list, blank=True)
    # Where the provider needs a deployment before a fine-tuned model serves (Azure): its name and
    # state, as last reported (registry.fine_tuning keeps the state in sync). Blank for OpenAI.
    serving_deployment = models.CharField(max_length=64, blank=True)
    serving_deployment_state = models.CharField(max_length=20, choices=ServingState.choices, blank=True)
    # Set while a serious incident holds this version's record as evidence: its record
    # is not changed until compliance closes the incident (see registry.services.version_hold_set).
    evidence_hold = models.CharField(max_length=300, blank=True)

    # Its history is read by version (id), by model (as_of) and by date: those stay indexed; the
    # job id and the creator, which no history query looks up, do not (docs/benchmarks.md).
    history = AuditedHistoricalRecords(no_db_index=["provider_job_id", "created_by"])

    # The fine-tune job as the provider reports it (kept by registry.fine_tuning, never typed in).
    JOB_FIELDS = (
        "job_status",
        "trained_tokens",
        "hyperparameters",
        "seed",
        "job_error_code",
        "job_error_message",
        "job_finished_at",
        "result_files",
    )
    # What identifies what was trained: fixed at registration.
    IDENTITY_FIELDS = (
        "model_id",
        "version",
        "base_model",
        "provider",
        "training_file_sha256",
        "validation_file_sha256",
        "provider_job_id",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="model_version_unique_label"),
            models.UniqueConstraint(fields=["provider_job_id"], name="model_version_unique_job"),
            models.CheckConstraint(
                condition=models.Q(status__in=VersionStatus.values), name="model_version_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(training_file_sha256__regex=SHA256_PATTERN), name="model_version_training_sha256"
            ),
            models.CheckConstraint(
                condition=models.Q(validation_file_sha256="") | models.Q(validation_file_sha256__regex=SHA256_PATTERN),
                name="model_version_validation_sha256",
            ),
            models.CheckConstraint(condition=~models.Q(changelog=""), name="model_version_changelog_required"),
            models.CheckConstraint(
                condition=models.Q(provider__in=Provider.values), name="model_version_provider_valid"
            ),
            # A deployment has a name and a known state, or neither.
            models.CheckConstraint(
                condition=models.Q(serving_deployment="", serving_deployment_state="")
                | (~models.Q(serving_deployment="") & models.Q(serving_deployment_state__in=ServingState.values)),
                name="model_version_serving_deployment_state",
            ),
        ]
        indexes = [
            # GET /models/{name}/versions/: one model's versions, newest first.
            models.Index(fields=["model", "-id"], name="version_model_newest"),
            # GET /versions/?status=...: newest first within a status.
            models.Index(fields=["status", "-id"], name="version_status_newest"),
            # GET /versions/?created_after=...
            models.Index(fields=["created_at"], name="version_created_at"),
            # Dataset search, and a data file's versions: exact hashes.
            models.Index(fields=["training_file_sha256"], name="version_training_sha256"),
            models.Index(fields=["validation_file_sha256"], name="version_validation_sha256"),
            # The sync tick: versions whose job is still in flight.
            models.Index(
                fields=["job_status"],
                name="version_job_in_flight",
                condition=models.Q(provider_job_id__isnull=False) & ~models.Q(job_status__in=JOB_TERMINAL),
            ),
            # The sync tick: deployments whose state can still change.
            models.Index(
                fields=["provider"],
                name="version_serving_live",
                condition=models.Q(serving_deployment_state__in=SERVING_LIVE),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id and self.model.name}:{self.version}"

    def save(self, *args, **kwargs) -> None:
        # Last line of defence: whatever the caller, what was trained stays as registered.
        changed = self.changed_identity_fields()
        if changed:
            raise ValidationError({f: "Fixed at registration; register a new version instead." for f in changed})
        super().save(*args, **kwargs)
        self.remember_identity()

    def clean(self) -> None:
        if not self.changelog.strip():
            raise ValidationError({"changelog": "Describe what changed in the data and the behaviour expected."})
        changed = self.changed_identity_fields()
        if changed:
            raise ValidationError({f: "Fixed at registration; register a new version instead." for f in changed})

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.remember_identity()
        return instance

    def remember_identity(self) -> None:
        self._loaded_identity = {f: getattr(self, f) for f in self.IDENTITY_FIELDS if f in self.__dict__}

    def changed_identity_fields(self) -> list[str]:
        loaded = getattr(self, "_loaded_identity", None)
        if self._state.adding or loaded is None:
            return []
        changed = [
            f
            for f, v in loaded.items()
            if getattr(self, f) != v
            # A job launched for a version registered without one is recorded once.
            and not (f == "provider_job_id" and v is None)
        ]
        return ["model" if f == "model_id" else f for f in changed]

    def refuse_if_held(self) -> None:
        """Raise Conflict while a serious incident holds this version's record as evidence."""
        if self.evidence_hold:
            from core.errors import Conflict

            raise Conflict(
                f"Version '{self.version}' is frozen as evidence: {self.evidence_hold}. "
                "Its record cannot change until compliance closes the incident.",
                extra={"evidence_hold": self.evidence_hold},
            )


class EvaluationResult(models.Model):
    """One evaluation run of a version: a suite on a hashed golden set, with metrics."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="evaluations")
    suite = models.CharField(max_length=100)
    golden_set_sha256 = models.CharField(max_length=64, validators=[sha256_validator])
    # As given by the client: a version label of the same model, or the base model.
    baseline = models.CharField(max_length=100, blank=True)
    baseline_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    metrics = models.JSONField(help_text="Metric name -> value, e.g. win_rate, refusal_rate, p95_latency_ms.")
    per_intent = models.JSONField(default=dict, blank=True, help_text="Intent tag -> win rate.")
    # Set only when a side-by-side run created this evaluation: sbs.stats.run_figures() of its verdicts
    # (n, wins, ties, losses, Wilson bounds, per intent, agreement). None: the numbers were typed in.
    evidence = models.JSONField(null=True, blank=True, editable=False)
    ran_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ran_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    # Its history is read by version: the runner and the baseline, which no history query looks up, are not indexed.
    history = AuditedHistoricalRecords(no_db_index=["ran_by", "baseline_version"])

    class Meta:
        ordering = ["-ran_at", "-id"]
        indexes = [
            # GET /versions/?win_rate__gte=... and ?refusal_rate__lte=...: the gate metrics. The version
            # follows the metric, so a search for one value reads its page in the version's order from the
            # index, a page's worth of entries whatever the table's size (docs/benchmarks.md).
            models.Index(KeyTransform("win_rate", "metrics"), "version", name="evaluation_win_rate"),
            models.Index(KeyTransform("refusal_rate", "metrics"), "version", name="evaluation_refusal_rate"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(golden_set_sha256__regex=SHA256_PATTERN), name="evaluation_golden_set_sha256"
            ),
            # Rates are shares; the service checks every metric, the database the main ones.
            *[
                models.CheckConstraint(
                    condition=models.Q(**{f"metrics__{m}__isnull": True})
                    | models.Q(**{f"metrics__{m}__gte": 0, f"metrics__{m}__lte": 1}),
                    name=f"evaluation_{m}_in_unit_range",
                )
                for m in ("win_rate", "refusal_rate", "golden_score")
            ],
        ]

    def __str__(self) -> str:
        return f"{self.suite} on {self.version}"


class Checkpoint(models.Model):
    """A checkpoint of a version's fine-tune job, with its training metrics."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="checkpoints")
    provider_checkpoint_id = models.CharField(max_length=100, unique=True)
    step_number = models.PositiveIntegerField()
    fine_tuned_model_checkpoint = models.CharField(max_length=300, blank=True)
    metrics = models.JSONField(default=dict, help_text="train_loss, valid_loss, mean token accuracy...")
    created_at = models.DateTimeField()

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-step_number"]
        constraints = [
            models.UniqueConstraint(fields=["version", "step_number"], name="checkpoint_unique_step"),
        ]

    def __str__(self) -> str:
        return f"{self.version} step {self.step_number}"


class GatePolicy(models.Model):
    """A model's release gate: rules over evaluation metrics. Rows are never edited: a change is a new version."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="gate_policies")
    version = models.PositiveIntegerField()
    rules = models.JSONField(help_text='e.g. [{"metric": "win_rate", "min": 0.55}]; see registry.gates.')
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["model", "-version"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="gate_policy_unique_version")]
        verbose_name_plural = "gate policies"

    def __str__(self) -> str:
        return f"{self.model} gate policy v{self.version}"


class Environment(models.TextChoices):
    CANARY = "canary", "Canary"
    PRODUCTION = "production", "Production"


class PromotionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Promotion(models.Model):
    """An engineer's request to put a version in canary or production, and compliance's decision on it."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="promotions")
    target = models.CharField(max_length=20, choices=Environment.choices)
    traffic_percent = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Canary only: 1-50.")
    justification = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The API token each side acted with (empty: the admin, with a session). Four eyes looks at
    # who issued the request's token too, so nobody approves what they could have requested.
    requested_with_token = models.ForeignKey(
        "core.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    # The deployment the requester saw in the target environment: approving after it changed is refused.
    replaces = models.ForeignKey("Deployment", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=PromotionStatus.choices, default=PromotionStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_with_token = models.ForeignKey(
        "core.ApiToken", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    signature_meaning = models.CharField(max_length=200, blank=True, help_text='e.g. "approved for production"')
    gate_passed = models.BooleanField(null=True, blank=True)
    gate_result = models.JSONField(default=dict, blank=True)
    policy_version = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the default policy.")
    override_justification = models.TextField(blank=True)
    record_sha256 = models.CharField(max_length=64, blank=True, help_text="The version's record when approved.")

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(target="canary", traffic_percent__gte=1, traffic_percent__lte=50)
                    | models.Q(target="production", traffic_percent__isnull=True)
                ),
                name="promotion_traffic_fits_target",
            ),
            # One open request per version and environment.
            models.UniqueConstraint(
                fields=["version", "target"], condition=models.Q(status="pending"), name="promotion_one_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} -> {self.target} ({self.status})"

    @property
    def overridden(self) -> bool:
        return bool(self.override_justification)


class Deployment(models.Model):
    """A version serving an environment of its model, from started_at until ended_at."""

    class Kind(models.TextChoices):
        PROMOTION = "promotion", "Promotion"
        ROLLBACK = "rollback", "Rollback"

    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="deployments")
    environment = models.CharField(max_length=20, choices=Environment.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    traffic_percent = models.PositiveSmallIntegerField(default=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROMOTION)
    promotion = models.ForeignKey(Promotion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One version serves an environment at a time: the database has the last word on races.
            models.UniqueConstraint(
                fields=["model", "environment"], condition=models.Q(ended_at__isnull=True), name="deployment_one_live"
            ),
        ]
        indexes = [
            # GET /models/{name}/deployments/?at=...: the deployments of a model around an instant.
            models.Index(fields=["model", "environment", "started_at"], name="deployment_timeline"),
        ]

    def __str__(self) -> str:
        return f"{self.version} in {self.environment} from {self.started_at:%Y-%m-%d %H:%M}"
