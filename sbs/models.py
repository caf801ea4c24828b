"""Side-by-side runs: a version's verdicts against a baseline on a golden set version, and what they add up to.

A run is written once, with its verdicts, its per-item results and the evaluation it creates, in
one transaction (sbs.services). Its figures are computed from the verdicts (sbs.stats), never typed.
Verdicts and item results are immutable rows: the run's history row records who posted them, when
and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.audit import AuditedHistoricalRecords
from datasets.models import Dataset, GoldenItem, Immutable
from registry.models import EvaluationResult, ModelVersion


class Outcome(models.TextChoices):
    WIN = "win", "Win"
    TIE = "tie", "Tie"
    LOSS = "loss", "Loss"


class SbsRun(models.Model):
    """One side-by-side comparison of a version against a baseline on a golden set version."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="sbs_runs")
    golden = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="sbs_runs")
    suite = models.CharField(max_length=100, default="sbs")
    # As given: a version label of the same model, or a base model's name.
    baseline = models.CharField(max_length=200)
    baseline_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    judge = models.CharField(max_length=200, help_text='"human", or the judging model\'s name.')
    # sbs.stats.run_figures() of the verdicts; the columns below repeat its headline for lists.
    figures = models.JSONField()
    comparisons = models.PositiveIntegerField(help_text="Items rated (n).")
    verdict_count = models.PositiveIntegerField()
    win_rate = models.FloatField()
    win_rate_lower = models.FloatField()
    win_rate_upper = models.FloatField()
    evaluation = models.OneToOneField(
        EvaluationResult, null=True, blank=True, on_delete=models.PROTECT, related_name="sbs_run"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    ran_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-ran_at", "-id"]
        verbose_name = "side-by-side run"
        indexes = [
            # A version's runs, newest first (the API's list and the version page).
            models.Index(fields=["version", "-ran_at", "-id"], name="sbs_run_version_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(win_rate__gte=0, win_rate__lte=1)
                & models.Q(win_rate_lower__gte=0, win_rate_lower__lte=models.F("win_rate"))
                & models.Q(win_rate_upper__lte=1, win_rate_upper__gte=models.F("win_rate")),
                name="sbs_run_rates_in_order",
            ),
            models.CheckConstraint(condition=models.Q(comparisons__gte=1), name="sbs_run_has_comparisons"),
        ]

    def __str__(self) -> str:
        return f"SBS run {self.pk} of {self.version} vs {self.baseline}"


class SbsVerdict(Immutable):
    """One rater's verdict on one item: the candidate's answer against the baseline's."""

    run = models.ForeignKey(SbsRun, on_delete=models.PROTECT, related_name="verdicts")
    item = models.ForeignKey(GoldenItem, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    judge = models.CharField(max_length=200)
    rater = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "item", "judge", "rater"]
        constraints = [
            models.UniqueConstraint(fields=["run", "item", "judge", "rater"], name="sbs_verdict_one_per_rater"),
            models.CheckConstraint(condition=models.Q(outcome__in=Outcome.values), name="sbs_verdict_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} by {self.judge}{':' + self.rater if self.rater else ''}"


class SbsRunItem(Immutable):
    """An item's result in a run: the mean of its verdicts and the outcome it makes (sbs.stats)."""

    run = models.ForeignKey(SbsRun, on_delete=models.PROTECT, related_name="items")
    item = models.ForeignKey(GoldenItem, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    score = models.FloatField()
    verdicts = models.PositiveIntegerField()
    human_rated = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "item"]
        constraints = [
            models.UniqueConstraint(fields=["run", "item"], name="sbs_run_item_unique"),
            models.CheckConstraint(condition=models.Q(outcome__in=Outcome.values), name="sbs_run_item_outcome"),
        ]
        indexes = [
            # GET .../sbs-runs/{id}/items/?outcome=loss (paged by item): the items a version lost.
            models.Index(fields=["run", "outcome", "item"], name="sbs_run_item_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.outcome}"
