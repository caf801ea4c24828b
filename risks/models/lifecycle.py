"""The runway risks Fineprint opens by itself, and the notices it owes their owners.

A live deployment whose base model shuts down soon is a risk to its registered
model. `RunwayRisk` is how the register finds that risk again on the next tick:
one open link per registered model (the database refuses a second), to the risk,
its treatment action and the stage it was last scored at. `RunwayNotice` is the
outbox of the emails owed to the model's owners, one row per stage and person,
written in the same transaction as the change that owes it (risks.lifecycle).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.audit import AuditedHistoricalRecords


class RunwayStage(models.TextChoices):
    """How close the shutdown is; each stage has its residual score (risks.lifecycle.STAGES)."""

    WARNING = "warning", "Within the warning window (LIFECYCLE_WARN_DAYS)"
    NEAR = "near", "30 days or fewer"
    IMMINENT = "imminent", "7 days or fewer"
    SHUT_DOWN = "shut_down", "Shut down"


class RunwayRisk(models.Model):
    """The link between a registered model and the runway risk opened for it."""

    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.PROTECT, related_name="runway_risks")
    risk = models.OneToOneField("risks.Risk", on_delete=models.PROTECT, related_name="runway")
    action = models.OneToOneField(
        "risks.TreatmentAction", null=True, blank=True, on_delete=models.PROTECT, related_name="runway"
    )
    # The soonest shutdown among the model's live deployments, as the risk's title states it.
    base_model = models.CharField(max_length=200)
    shutdown_date = models.DateField()
    # The affected deployments as the statement names them ("production v4, canary v5"). Title,
    # statement and versions are rewritten only when these facts change, so an edit by hand stays.
    deployments = models.CharField(max_length=500)
    stage = models.CharField(max_length=20, choices=RunwayStage.choices)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open runway risk per model: a second worker's tick cannot open another.
            models.UniqueConstraint(
                fields=["model"], condition=models.Q(closed_at__isnull=True), name="runway_risk_one_open_per_model"
            ),
            models.CheckConstraint(condition=models.Q(stage__in=RunwayStage.values), name="runway_risk_stage_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.base_model} shuts down {self.shutdown_date:%Y-%m-%d}"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"


class RunwayNotice(models.Model):
    """One email owed to one owner for one stage of a runway risk: written once, sent at least once.

    An outbox and its log, not a governed record: the risk's history says why it
    was owed. Claimed with a conditional update (so kept out of history, whose
    rows such an update would skip), which is what keeps two workers from both
    sending it.
    """

    runway_risk = models.ForeignKey(RunwayRisk, on_delete=models.PROTECT, related_name="notices")
    stage = models.CharField(max_length=20, choices=RunwayStage.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The message as it stood when the stage was reached: a late send still tells what was true then.
    email = models.EmailField()
    subject = models.CharField(max_length=250)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Once per stage and person, whatever the number of ticks or workers.
            models.UniqueConstraint(fields=["runway_risk", "stage", "recipient"], name="runway_notice_once"),
            models.CheckConstraint(condition=models.Q(stage__in=RunwayStage.values), name="runway_notice_stage_valid"),
            models.CheckConstraint(
                condition=models.Q(status__in=NoticeStatus.values), name="runway_notice_status_valid"
            ),
        ]
        indexes = [
            # The sender: notices not sent yet, oldest first.
            models.Index(fields=["created_at"], name="runway_notice_unsent", condition=~models.Q(status="sent")),
        ]

    def __str__(self) -> str:
        return f"{self.runway_risk.model} {self.stage} -> {self.email} ({self.status})"
