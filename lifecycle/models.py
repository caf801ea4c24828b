"""The provider model catalogue: every model a provider serves, with its shutdown date.

One row per provider model id, base models and fine-tuned models alike (OpenAI's
`ft:BASE:org:suffix:id`, Azure's `BASE.ft-<hex>`). The provider's own answer (its model
list) fills it; compliance may correct a
date or name a replacement with a reason, and a later sync never silently
overwrites that manual value: it keeps what the provider says beside it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.conf import settings
from django.db import models

from core.audit import AuditedHistoricalRecords


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    AZURE = "azure", "Azure OpenAI"


class ModelKind(models.TextChoices):
    BASE = "base", "Base model"
    FINE_TUNED = "fine_tuned", "Fine-tuned model"


class LifecycleState(models.TextChoices):
    ACTIVE = "active", "Active"
    DEPRECATED = "deprecated", "Deprecated (shutdown announced)"
    SHUTDOWN = "shutdown", "Shut down"


class ValueSource(models.TextChoices):
    PROVIDER = "provider", "Provider"
    MANUAL = "manual", "Manual"
    BASE_MODEL = "base_model", "Inherited from the base model"
    AZURE_FINE_TUNED = "azure_fine_tuned", "A year after its base model's training retirement (Azure)"


FINE_TUNED_PREFIX = "ft:"
# Azure names a fine-tuned model after its base: `gpt-4.1-mini-2025-04-14.ft-<hex>[-suffix]`.
_AZURE_FINE_TUNED = re.compile(r"^(?P<base>[^:]+?)\.ft-[0-9A-Za-z]+")

# Azure fine-tuned models retire in two phases (docs/lifecycle.md, "Azure fine-tuned models"):
# training follows the base model's training retirement, and for fine-tunes made generally
# available since gpt-4o-2024-08-06, deployment (serving) retires a year after that. The older
# fine-tunable families below keep the base model's schedule.
AZURE_SERVING_AFTER_TRAINING_DAYS = 365
AZURE_LEGACY_FINE_TUNING = ("gpt-35-turbo", "gpt-3.5-turbo", "gpt-4-", "babbage-002", "davinci-002")


def state_on(shutdown_date: date | None, today: date) -> str:
    """A model's state on `today`: shut down from its shutdown date on, deprecated before it."""
    if shutdown_date is None:
        return LifecycleState.ACTIVE
    return LifecycleState.SHUTDOWN if shutdown_date <= today else LifecycleState.DEPRECATED


def is_fine_tuned(model_id: str) -> bool:
    """Whether the id names a fine-tuned model, in OpenAI's or Azure's naming."""
    return model_id.startswith(FINE_TUNED_PREFIX) or _AZURE_FINE_TUNED.match(model_id) is not None


def base_of(model_id: str) -> str:
    """The base model of a fine-tuned model id (`ft:BASE:org:suffix:id`, `BASE.ft-<hex>`); the id itself otherwise."""
    if model_id.startswith(FINE_TUNED_PREFIX):
        return model_id.split(":")[1]
    azure = _AZURE_FINE_TUNED.match(model_id)
    return azure.group("base") if azure else model_id


def _a_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day + timedelta(days=AZURE_SERVING_AFTER_TRAINING_DAYS)


def fine_tuned_shutdown(
    *, provider: str, base_model_id: str, base_shutdown: date | None, base_training_retires_on: date | None
) -> tuple[date | None, str]:
    """When a fine-tuned model with no date of its own stops serving, and the rule that says so.

    OpenAI, and Azure's older fine-tunable families: with its base model. Azure's newer ones
    (since gpt-4o-2024-08-06): a year after the base model stops accepting fine-tuning jobs;
    where Azure has announced no training retirement, the base model's own date is the safe bound.
    """
    two_phase = provider == Provider.AZURE and not base_model_id.startswith(AZURE_LEGACY_FINE_TUNING)
    if two_phase and base_training_retires_on is not None:
        return _a_year_after(base_training_retires_on), ValueSource.AZURE_FINE_TUNED
    return base_shutdown, ValueSource.BASE_MODEL


class ProviderModel(models.Model):
    """One model a provider serves (or served), as the catalogue knows it."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    model_id = models.CharField(max_length=200, help_text="The provider's id, e.g. gpt-4.1-mini-2025-04-14.")
    kind = models.CharField(max_length=20, choices=ModelKind.choices)
    base_model_id = models.CharField(max_length=200, blank=True, help_text="Fine-tuned models: the base model.")
    state = models.CharField(max_length=20, choices=LifecycleState.choices, default=LifecycleState.ACTIVE)
    # The date in force, and where it came from.
    shutdown_date = models.DateField(null=True, blank=True)
    shutdown_date_source = models.CharField(max_length=20, choices=ValueSource.choices, default=ValueSource.PROVIDER)
    # What the provider said on its last sync, kept even where a manual value is in force.
    provider_shutdown_date = models.DateField(null=True, blank=True)
    # The day the provider stops accepting fine-tuning jobs on it, where it says so (Azure's
    # deprecation.fine_tune): an Azure fine-tune's serving date is derived from its base's.
    training_retires_on = models.DateField(null=True, blank=True)
    replacement = models.CharField(max_length=200, blank=True, help_text="The recommended replacement model.")
    replacement_source = models.CharField(max_length=20, choices=ValueSource.choices, blank=True)
    # The last manual correction: who and why (history keeps every earlier one).
    manual_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    manual_reason = models.TextField(blank=True)
    listed = models.BooleanField(default=True, help_text="Whether the provider's last listing included it.")
    # Bookkeeping: written by every successful sync, kept out of history (it is not a change).
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords(excluded_fields=["last_synced_at"])

    class Meta:
        ordering = ["provider", "model_id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_id"], name="provider_model_unique_id"),
            models.CheckConstraint(condition=models.Q(state__in=LifecycleState.values), name="provider_model_state"),
            models.CheckConstraint(condition=models.Q(kind__in=ModelKind.values), name="provider_model_kind"),
            models.CheckConstraint(
                condition=models.Q(shutdown_date_source__in=ValueSource.values),
                name="provider_model_shutdown_date_source",
            ),
        ]
        indexes = [
            # Runway lookups: the fine-tuned models of a base model (a date change reaches them all).
            models.Index(fields=["provider", "base_model_id"], name="provider_model_base"),
        ]

    def __str__(self) -> str:
        return self.model_id

    @property
    def disagrees(self) -> bool:
        """A manual date is in force and the provider says something else."""
        return self.shutdown_date_source == ValueSource.MANUAL and self.provider_shutdown_date != self.shutdown_date


class CatalogueSync(models.Model):
    """One run of the catalogue sync: an operational log, not a governed record."""

    provider = models.CharField(max_length=20, choices=Provider.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    calls = models.PositiveIntegerField(default=0)
    listed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # "When was the catalogue last synced?": the newest successful run per provider.
            models.Index(fields=["provider", "-started_at"], name="catalogue_sync_latest"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} sync at {self.started_at:%Y-%m-%d %H:%M}"
