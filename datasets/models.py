"""Datasets, their checks, the training price table, the check policy and Compliance's overrides.

A dataset is the SHA-256 of its bytes, computed by Fineprint while the upload streams; the same
bytes uploaded again are the same dataset. What is kept by default is the check's report and,
for a golden set, its fingerprints (never raw text); the file itself only with DATASET_KEEP_FILES.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.audit import AuditedHistoricalRecords
from core.validation import SHA256_PATTERN, sha256_validator
from datasets.golden import golden_set_name_validator
from lifecycle.models import Provider


class DatasetKind(models.TextChoices):
    TRAINING = "training", "Training"
    VALIDATION = "validation", "Validation"
    GOLDEN = "golden", "Golden set"


class CheckStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# A check in one of these states is still to finish: a second request joins it instead of queueing another.
OPEN_CHECK_STATUSES = (CheckStatus.QUEUED, CheckStatus.RUNNING)


class GoldenSet(models.Model):
    """A named, living golden set: its versions are golden datasets (one file's bytes each), numbered 1, 2, ..."""

    name = models.CharField(max_length=100, unique=True, validators=[golden_set_name_validator])
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Dataset(models.Model):
    """One file's bytes, what it is for, and its latest pre-check report.

    A golden dataset may be a version of a named golden set (`golden_set`, `golden_version`): then
    its items are recorded (GoldenItem) with their intents, and its counts kept here.
    """

    sha256 = models.CharField(max_length=64, unique=True, validators=[sha256_validator])
    kind = models.CharField(max_length=20, choices=DatasetKind.choices)
    base_model = models.CharField(max_length=200, help_text="The base model it is checked for, e.g. gpt-4.1-mini.")
    size_bytes = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Only with DATASET_KEEP_FILES: the stored copy under DATASET_STORAGE (empty once deleted).
    file_path = models.CharField(max_length=500, blank=True)
    # Golden sets: datasets.checks.golden_fingerprint(), hashes and MinHash signatures, no raw text.
    fingerprint = models.JSONField(null=True, blank=True)
    # The latest finished check: the report as datasets.checks.check_file() returned it.
    report = models.JSONField(null=True, blank=True)
    blocking = models.PositiveIntegerField(null=True, blank=True, help_text="Blocking findings in the latest report.")
    warnings = models.PositiveIntegerField(null=True, blank=True, help_text="Warnings in the latest report.")
    checked_at = models.DateTimeField(null=True, blank=True)
    policy_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The check policy the latest report applied (0: the built-in default)."
    )
    # Golden sets: which named set and version these bytes are, with their item and per-intent counts.
    golden_set = models.ForeignKey(GoldenSet, null=True, blank=True, on_delete=models.PROTECT, related_name="versions")
    golden_version = models.PositiveIntegerField(null=True, blank=True)
    item_count = models.PositiveIntegerField(null=True, blank=True)
    intent_counts = models.JSONField(null=True, blank=True, help_text="Intent -> number of items tagged with it.")

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(sha256__regex=SHA256_PATTERN), name="dataset_sha256"),
            models.CheckConstraint(condition=models.Q(kind__in=DatasetKind.values), name="dataset_kind"),
            models.UniqueConstraint(fields=["golden_set", "golden_version"], name="dataset_golden_version_unique"),
            # A version of a golden set is a golden dataset with a number, and only then has one.
            models.CheckConstraint(
                condition=models.Q(golden_set__isnull=True, golden_version__isnull=True)
                | models.Q(golden_set__isnull=False, golden_version__gte=1, kind=DatasetKind.GOLDEN),
                name="dataset_golden_version_of_golden",
            ),
        ]
        indexes = [
            # The API's list filtered by kind and base model, newest first (its cursor pages on -id; the
            # unfiltered list walks the primary key).
            models.Index(fields=["kind", "base_model", "-id"], name="dataset_kind_base_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sha256[:12]}"

    @property
    def is_checked(self) -> bool:
        return self.report is not None


class Immutable(models.Model):
    """Rows written once, with their parent's history row, and never changed: saving again or deleting refuses.

    (QuerySet.update and delete would bypass this; no code path uses them on these rows.)
    """

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are immutable once written.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are immutable once written.")


class GoldenItem(Immutable):
    """One item of a golden set version, as uploaded: its id, intents, prompt hash and (if kept) its text."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="golden_items")
    item_id = models.CharField(max_length=200)
    position = models.PositiveIntegerField(help_text="Its line's order in the file (0-based, blank lines skipped).")
    intents = models.JSONField(help_text="The item's intent tags, as uploaded (sorted, unique).")
    # "|billing|returns|": the tags joined, so a list filters by intent with LIKE on every database.
    intent_tags = models.CharField(max_length=2000)
    # datasets.checks.text.text_hash of the normalised user turns: the same hash the fingerprint keeps.
    prompt_hash = models.CharField(max_length=64)
    # Only with GOLDEN_KEEP_TEXT: the item's turns ([{"role", "content"}]) and its reference answer.
    messages = models.JSONField(null=True, blank=True)
    reference = models.TextField(blank=True)

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "item_id"], name="golden_item_unique_id"),
        ]

    def __str__(self) -> str:
        return self.item_id


class DatasetCheck(models.Model):
    """One run of the check on a dataset: bookkeeping, so ticking progress writes no history.

    The outcome (report, counts) is written to the dataset, which keeps history; this row says
    where the run is, with which golden sets, and why it failed if it did.
    """

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="checks")
    status = models.CharField(max_length=20, choices=CheckStatus.choices, default=CheckStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100.")
    # The golden sets the leakage check compares against (sha256 of golden datasets), sorted.
    goldens = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=CheckStatus.values), name="dataset_check_status"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="dataset_check_progress_range"),
        ]
        indexes = [
            # A dataset's latest check (its status and progress on the API and the admin page).
            models.Index(fields=["dataset", "-created_at", "-id"], name="dataset_check_latest"),
        ]

    def __str__(self) -> str:
        return f"Check of {self.dataset} ({self.status}, {self.progress}%)"


class PriceRow(models.Model):
    """The price of training on a base model, from a date: data, not code.

    The cost forecast uses the row with the latest `effective_from` on or before the check's
    day whose `base_model` is the longest prefix of the dataset's base model (so "gpt-4.1-mini"
    prices "gpt-4.1-mini-2025-04-14"). Compliance edits rows in the admin, with a reason.
    """

    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.OPENAI)
    base_model = models.CharField(max_length=200)
    usd_per_million_training_tokens = models.DecimalField(max_digits=10, decimal_places=4)
    effective_from = models.DateField()
    source = models.CharField(max_length=500, blank=True, help_text="Where the price was published.")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["provider", "base_model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "base_model", "effective_from"], name="price_row_unique_effective"
            ),
            models.CheckConstraint(condition=models.Q(provider__in=Provider.values), name="price_row_provider"),
            models.CheckConstraint(
                condition=models.Q(usd_per_million_training_tokens__gte=0), name="price_row_usd_not_negative"
            ),
        ]
        indexes = [
            # The price in force for a provider's base model on a day (latest effective_from first).
            models.Index(fields=["provider", "base_model", "-effective_from"], name="price_row_in_force"),
        ]

    def __str__(self) -> str:
        return f"{self.base_model} ${self.usd_per_million_training_tokens}/1M from {self.effective_from}"


class CheckPolicy(models.Model):
    """The severities the check gives each finding code. Rows are never edited: a change is a new version.

    With no row, the check applies datasets.checks.default_policy() (reported as version 0).
    """

    version = models.PositiveIntegerField(unique=True)
    rules = models.JSONField(help_text="The policy as datasets.checks.default_policy() shapes it (severities, ...).")
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-version"]
        constraints = [models.CheckConstraint(condition=models.Q(version__gte=1), name="check_policy_version_positive")]
        verbose_name_plural = "check policies"

    def __str__(self) -> str:
        return f"Check policy v{self.version}"


class DatasetOverride(models.Model):
    """Compliance lets a launch proceed on a dataset whose check has blocking findings, and says why."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="overrides")
    justification = models.TextField()
    # What was overridden: the blocking count and the report's check time when Compliance decided.
    blocking_at_override = models.PositiveIntegerField(default=0)
    report_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Whether a dataset has an override (the launch check), latest first.
            models.Index(fields=["dataset", "-created_at"], name="dataset_override_latest"),
        ]

    def __str__(self) -> str:
        return f"Override of {self.dataset}"
