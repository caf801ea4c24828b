"""Writes on the catalogue: the provider sync, and compliance's manual corrections.

Every provider is listed through its module (`providers.registry.provider_api`); a provider
that is not configured is skipped and logged, never an error. The sync asks the provider for
its whole list first and writes nothing if that fails: a provider outage leaves the catalogue
as it was. Then, in one transaction, each entry is saved only when a value really changed (one
history row, by the service account, with a reason that names the change), so a second sync in
a row writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from django.db import transaction
from django.utils import timezone

from core.audit import audited_save, service_user
from core.errors import PermissionDenied, ValidationFailed
from core.roles import Role, has_role
from lifecycle.models import (
    CatalogueSync,
    ModelKind,
    Provider,
    ProviderModel,
    ValueSource,
    base_of,
    fine_tuned_shutdown,
    is_fine_tuned,
    state_on,
)
from lifecycle.selectors import today as lifecycle_today
from providers.base import ProviderError, ProviderNotConfigured
from providers.registry import provider_api

logger = logging.getLogger(__name__)

# The values a sync or a correction may change; anything else on an entry is bookkeeping.
TRACKED = (
    "kind",
    "base_model_id",
    "state",
    "shutdown_date",
    "shutdown_date_source",
    "provider_shutdown_date",
    "training_retires_on",
    "replacement",
    "replacement_source",
    "listed",
)

_PROVIDER_NAMES = dict(Provider.choices)


@dataclass
class SyncReport:
    provider: str
    ok: bool = False
    listed: int = 0
    created: int = 0
    changed: int = 0
    calls: int = 0
    error: str = ""
    # Not configured: the setting that is missing (nothing was called, nothing written or logged as a run).
    skipped: str = ""
    notes: list[str] = field(default_factory=list)


def _date(value: date | None) -> str:
    return value.isoformat() if value else "none announced"


def _entry_new(provider: str, model_id: str) -> ProviderModel:
    fine_tuned = is_fine_tuned(model_id)
    return ProviderModel(
        provider=provider,
        model_id=model_id,
        kind=ModelKind.FINE_TUNED if fine_tuned else ModelKind.BASE,
        base_model_id=base_of(model_id) if fine_tuned else "",
    )


def _own_date(entry: ProviderModel, base: ProviderModel | None) -> date | None:
    """The provider's date for this model, unless Azure's two-phase rule sets an Azure fine-tune's.

    Azure lists a fine-tuned model with an inference date that is its base model's, while its
    published policy (docs/lifecycle.md, "Azure fine-tuned models") retires a fine-tune's
    deployments a year after the base stops training. Where the base's training retirement is
    announced, the rule's date is in force and the listed one is kept beside it
    (`provider_shutdown_date`); compliance can still set a date by hand.
    """
    if entry.kind == ModelKind.FINE_TUNED and base is not None:
        _, source = fine_tuned_shutdown(
            provider=entry.provider,
            base_model_id=base.model_id,
            base_shutdown=base.shutdown_date,
            base_training_retires_on=base.training_retires_on,
        )
        if source == ValueSource.AZURE_FINE_TUNED:
            return None
    return entry.provider_shutdown_date


def _settle(entry: ProviderModel, *, base: ProviderModel | None, on: date) -> None:
    """Derive the date in force and the state from the provider's date, a manual value, or the base model."""
    if entry.shutdown_date_source != ValueSource.MANUAL:
        own = _own_date(entry, base)
        if own is not None:
            entry.shutdown_date, entry.shutdown_date_source = own, ValueSource.PROVIDER
        elif entry.kind == ModelKind.FINE_TUNED and base is not None:
            # With its base model (OpenAI), or a year after the base stops training (Azure's newer models).
            derived, source = fine_tuned_shutdown(
                provider=entry.provider,
                base_model_id=base.model_id,
                base_shutdown=base.shutdown_date,
                base_training_retires_on=base.training_retires_on,
            )
            entry.shutdown_date, entry.shutdown_date_source = derived, source if derived else ValueSource.PROVIDER
        else:
            entry.shutdown_date, entry.shutdown_date_source = None, ValueSource.PROVIDER
    entry.state = state_on(entry.shutdown_date, on)


def _snapshot(entry: ProviderModel) -> dict:
    return {name: getattr(entry, name) for name in TRACKED}


_AZURE_RULE = "stops serving a year after training retires on its base model"


def _listed_reason(entry: ProviderModel, provider_name: str) -> str:
    reason = f"Listed by {provider_name}: shutdown {_date(entry.shutdown_date)}"
    if entry.shutdown_date_source == ValueSource.AZURE_FINE_TUNED:
        reason += f" ({_AZURE_RULE} {entry.base_model_id})"
    elif entry.shutdown_date_source == ValueSource.BASE_MODEL:
        reason += f" (with its base model {entry.base_model_id})"
    if entry.training_retires_on:
        reason += f"; training retires {_date(entry.training_retires_on)}"
    return reason


def _describe(entry: ProviderModel, before: dict | None, provider_name: str) -> str:
    if before is None:
        return _listed_reason(entry, provider_name)
    parts = []
    if entry.provider_shutdown_date != before["provider_shutdown_date"]:
        said = f"{provider_name} now says shutdown {_date(entry.provider_shutdown_date)}"
        if entry.shutdown_date_source == ValueSource.MANUAL and entry.shutdown_date != entry.provider_shutdown_date:
            who = entry.manual_by.get_username() if entry.manual_by_id else "compliance"
            said += f"; the manual date {_date(entry.shutdown_date)} (set by {who}) stays in force"
        parts.append(said)
    if entry.training_retires_on != before["training_retires_on"]:
        parts.append(f"{provider_name} now says training retires {_date(entry.training_retires_on)}")
    if entry.shutdown_date != before["shutdown_date"] and entry.shutdown_date_source == ValueSource.BASE_MODEL:
        parts.append(f"shuts down with its base model {entry.base_model_id}: {_date(entry.shutdown_date)}")
    elif entry.shutdown_date != before["shutdown_date"] and entry.shutdown_date_source == ValueSource.AZURE_FINE_TUNED:
        parts.append(f"{_AZURE_RULE} {entry.base_model_id}: {_date(entry.shutdown_date)}")
    elif entry.shutdown_date != before["shutdown_date"] and "now says shutdown" not in " ".join(parts):
        parts.append(f"shutdown {_date(before['shutdown_date'])} -> {_date(entry.shutdown_date)}")
    if entry.state != before["state"]:
        parts.append(f"state {before['state']} -> {entry.state}")
    if entry.listed != before["listed"]:
        parts.append(f"{'listed again' if entry.listed else 'no longer listed'} by {provider_name}")
    described = "; ".join(parts)
    return described[:1].upper() + described[1:] if described else "Catalogue values updated"


def _save_if_changed(entry: ProviderModel, before: dict | None, *, actor, reason: str) -> bool:
    if before is not None and _snapshot(entry) == before:
        return False
    audited_save(entry, actor=actor, reason=reason[:2000])
    return True


def catalogue_sync(*, provider: str = Provider.OPENAI, on: date | None = None) -> SyncReport:
    """List the provider's models and bring the catalogue up to date; nothing is written if listing fails.

    A provider that is not configured is skipped: logged, reported (`skipped` names the missing
    setting), and neither an error nor a failed run in the sync log.
    """
    on = on or lifecycle_today()
    report = SyncReport(provider=provider)
    provider_name = _PROVIDER_NAMES.get(provider, provider)
    try:
        api = provider_api(provider)
    except ProviderNotConfigured as exc:
        report.skipped = exc.setting
        logger.info("catalogue sync of %s skipped: %s is not set", provider, exc.setting)
        return report
    log = CatalogueSync(provider=provider, started_at=timezone.now())
    try:
        report.calls += 1
        listed = api.models_list()
    except ProviderError as exc:
        report.error = exc.message
        logger.warning("catalogue sync of %s failed; the catalogue is left as it was: %s", provider, exc.message)
        log.error, log.calls, log.finished_at = exc.message, report.calls, timezone.now()
        log.save()
        return report
    report.listed = len(listed)
    actor = service_user()
    now = timezone.now()
    with transaction.atomic():
        entries = {e.model_id: e for e in ProviderModel.objects.select_for_update().filter(provider=provider)}
        seen = {info.id: info for info in listed}
        ids = set(entries) | set(seen)
        # Base models first: a fine-tuned model's date derives from the dates its base model ends up with.
        for model_id in sorted(ids, key=lambda m: (is_fine_tuned(m), m)):
            entry = entries.get(model_id)
            before = _snapshot(entry) if entry is not None else None
            if entry is None:
                entry = entries[model_id] = _entry_new(provider, model_id)
            info = seen.get(model_id)
            entry.listed = info is not None
            if info is not None:
                entry.provider_shutdown_date = info.shutdown_date
                entry.training_retires_on = info.training_retires_on
            base = entries.get(entry.base_model_id) if entry.kind == ModelKind.FINE_TUNED else None
            _settle(entry, base=base, on=on)
            if _save_if_changed(entry, before, actor=actor, reason=_describe(entry, before, provider_name)):
                report.created += before is None
                report.changed += before is not None
        # Bookkeeping, not a change: kept out of history (ProviderModel.history excludes it).
        ProviderModel.objects.filter(provider=provider, model_id__in=list(seen)).update(last_synced_at=now)
        log.ok, log.calls, log.listed = True, report.calls, report.listed
        log.changed, log.finished_at = report.created + report.changed, timezone.now()
        log.save()
    report.ok = True
    return report


def catalogues_sync(*, on: date | None = None) -> list[SyncReport]:
    """The daily sync: every provider in turn, one list call each; one provider's outage leaves the others whole."""
    return [catalogue_sync(provider=provider, on=on) for provider in Provider.values]


def _require_compliance(actor) -> None:
    if not has_role(actor, Role.COMPLIANCE):
        raise PermissionDenied("Only compliance staff may correct the provider catalogue.")


_UNSET = object()


def catalogue_entry_correct(
    *,
    entry: ProviderModel,
    actor,
    reason: str,
    shutdown_date: date | object | None = _UNSET,
    replacement: str | object = _UNSET,
    use_provider_date: bool = False,
    on: date | None = None,
) -> ProviderModel:
    """Compliance sets a date or a replacement by hand (or hands the date back to the provider), with a reason."""
    _require_compliance(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A reason is required.", fields={"reason": ["Say why the value is corrected."]})
    on = on or lifecycle_today()
    with transaction.atomic():
        entry = ProviderModel.objects.select_for_update().get(pk=entry.pk)
        before = _snapshot(entry)
        if use_provider_date:
            entry.shutdown_date_source = ValueSource.PROVIDER
        elif shutdown_date is not _UNSET:
            entry.shutdown_date, entry.shutdown_date_source = shutdown_date, ValueSource.MANUAL
        if replacement is not _UNSET:
            replacement = (replacement or "").strip()
            entry.replacement = replacement
            entry.replacement_source = ValueSource.MANUAL if replacement else ""
        base = None
        if entry.kind == ModelKind.FINE_TUNED:
            base = ProviderModel.objects.filter(provider=entry.provider, model_id=entry.base_model_id).first()
        _settle(entry, base=base, on=on)
        if _snapshot(entry) == before:
            return entry
        entry.manual_by, entry.manual_reason = actor, reason
        audited_save(entry, actor=actor, reason=reason)
        _children_settle(entry, on=on, actor=service_user())
    return entry


def _children_settle(base: ProviderModel, *, on: date, actor) -> None:
    """Fine-tuned models that inherit their base model's date follow a change of it."""
    if base.kind != ModelKind.BASE:
        return
    children = ProviderModel.objects.select_for_update().filter(provider=base.provider, base_model_id=base.model_id)
    for child in children:
        before = _snapshot(child)
        _settle(child, base=base, on=on)
        _save_if_changed(
            child,
            before,
            actor=actor,
            reason=(
                f"{_AZURE_RULE.capitalize()} {base.model_id}: {_date(child.shutdown_date)}"
                if child.shutdown_date_source == ValueSource.AZURE_FINE_TUNED
                else f"Shuts down with its base model {base.model_id}: {_date(child.shutdown_date)}"
            ),
        )
