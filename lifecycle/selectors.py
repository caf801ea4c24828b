"""Reads of the catalogue: the runway of a model id, resolved through its base model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date

from django.db.models import Q
from django.utils import timezone

from core import auth_cache, sqlcache
from lifecycle.models import (
    CatalogueSync,
    LifecycleState,
    ProviderModel,
    ValueSource,
    base_of,
    fine_tuned_shutdown,
    state_on,
)

UNKNOWN = "unknown"

# How pressing a shutdown is: the runway risk's stages (risks.lifecycle), the admin's colours
# and the report's urgency words all read these, so they never contradict each other.
NEAR_DAYS = 30
IMMINENT_DAYS = 7
SHUT_DOWN, IMMINENT, NEAR, WARNING = "shut_down", "imminent", "near", "warning"


def runway_urgency(days_left: int | None, *, warn_days: int) -> str | None:
    """`shut_down`, `imminent` (<= 7 days), `near` (<= 30), `warning` (<= warn_days), or None (later, no date)."""
    if days_left is None or days_left > warn_days:
        return None
    if days_left <= 0:
        return SHUT_DOWN
    if days_left <= IMMINENT_DAYS:
        return IMMINENT
    if days_left <= NEAR_DAYS:
        return NEAR
    return WARNING


def today() -> date:
    """The day every runway is counted from (the configured time zone's date)."""
    return timezone.localdate()


@dataclass(frozen=True)
class Runway:
    """How long a model has left, as the catalogue knows it on a given day."""

    provider: str
    model_id: str  # what was looked up: the fine-tuned model, or the base model
    base_model: str
    state: str  # active, deprecated, shutdown, or unknown (not in the catalogue)
    shutdown_date: date | None
    days_left: int | None
    replacement: str
    source: str  # provider, manual, base_model, or "" when unknown

    @property
    def known(self) -> bool:
        return self.state != UNKNOWN

    @property
    def shut_down(self) -> bool:
        return self.state == LifecycleState.SHUTDOWN

    def as_dict(self) -> dict:
        data = asdict(self)
        data["shutdown_date"] = self.shutdown_date.isoformat() if self.shutdown_date else None
        return data


@dataclass(frozen=True)
class Lookup:
    provider: str
    base_model: str
    fine_tuned_model: str = ""


@dataclass(frozen=True)
class _Entry:
    """What a runway reads of a catalogue entry (a ProviderModel, or one of its history rows)."""

    provider: str
    model_id: str
    shutdown_date: date | None
    shutdown_date_source: str
    training_retires_on: date | None
    replacement: str


ENTRY_FIELDS = ("provider", "model_id", "shutdown_date", "shutdown_date_source", "training_retires_on", "replacement")


def _entry_rows(shape: tuple[int, ...], *given: str):
    # `given`: per provider its name, then its ids (as many as `shape` says).
    condition, found = Q(), iter(given)
    for count in shape:
        provider = next(found)
        condition |= Q(provider=provider, model_id__in=[next(found) for _ in range(count)])
    return ProviderModel.objects.filter(condition).values_list(*ENTRY_FIELDS)


# --- The catalogue, copied per process --------------------------------------------------------
#
# Every API read and registration resolves runways, and the catalogue changes a few times a day at
# most, so each process keeps a copy of the whole catalogue (a few hundred small rows) keyed by the
# auth epoch (core.auth_cache), which the triggers move on every write to an entry. A
# token-authenticated request has read the epoch already, to trust its token: when the copy was
# taken under the same value, nothing in the catalogue changed since, and the request reads it
# without a query. Elsewhere (the admin, tasks, commands) there is no such read, and the catalogue
# is queried as before.

CATALOGUE_MAX_ENTRIES = 5000  # a catalogue larger than this is queried per call, not copied


class _Catalogue:
    __slots__ = ("entries", "epoch")

    def __init__(self, epoch: int, entries: dict[tuple[str, str], _Entry]):
        self.epoch = epoch
        self.entries = entries


_catalogue: _Catalogue | None = None


def catalogue_cached() -> dict[tuple[str, str], _Entry] | None:
    """Every catalogue entry by (provider, model id), as current as this request's auth epoch; None if no epoch vouches.

    On a miss the copy is read now, after the epoch was, so it is at least as new as the epoch it
    is kept under: a later request that reads the same epoch finds nothing changed since.
    """
    global _catalogue
    epoch = auth_cache.request_epoch()
    if epoch is None:
        return None
    copy = _catalogue
    if copy is None or copy.epoch != epoch:
        rows = list(ProviderModel.objects.order_by().values_list(*ENTRY_FIELDS)[: CATALOGUE_MAX_ENTRIES + 1])
        if len(rows) > CATALOGUE_MAX_ENTRIES:
            return None
        copy = _Catalogue(epoch, {(row[0], row[1]): _Entry(*row) for row in rows})
        _catalogue = copy
    return copy.entries


def catalogue_forget() -> None:
    """Drop the copy (tests)."""
    global _catalogue
    _catalogue = None


def _entries(lookups: Iterable[Lookup]) -> dict[tuple[str, str], _Entry]:
    copied = catalogue_cached()
    if copied is not None:
        return copied
    wanted: dict[str, set[str]] = {}
    for item in lookups:
        ids = wanted.setdefault(item.provider, set())
        ids.add(item.base_model)
        if item.fine_tuned_model:
            ids.add(item.fine_tuned_model)
    if not wanted:
        return {}
    # Its SQL compiled once per shape (providers, ids each: core.sqlcache); a list page's costs nearly nothing to run.
    shape = tuple(len(ids) for ids in wanted.values())
    given = [value for provider, ids in wanted.items() for value in (provider, *sorted(ids))]
    kinds = [sqlcache.STR] * len(given)
    rows = sqlcache.rows(("runway_entries", shape), lambda *g: _entry_rows(shape, *g), kinds, given)
    return {(row[0], row[1]): _Entry(*row) for row in rows}


def runway_resolve(item: Lookup, entries: dict[tuple[str, str], ProviderModel], *, on: date) -> Runway:
    """The runway of one lookup from catalogue entries already loaded."""
    own = entries.get((item.provider, item.fine_tuned_model)) if item.fine_tuned_model else None
    base = entries.get((item.provider, item.base_model))
    entry = own if own is not None and own.shutdown_date is not None else base or own
    looked_up = item.fine_tuned_model or item.base_model
    if entry is None:
        return Runway(item.provider, looked_up, item.base_model, UNKNOWN, None, None, "", "")
    shutdown = entry.shutdown_date
    source = entry.shutdown_date_source
    derived = None
    if entry is base and item.fine_tuned_model:
        # A fine-tuned model with no date of its own (or not listed yet): Azure's rule from its base.
        derived = fine_tuned_shutdown(
            provider=item.provider,
            base_model_id=base.model_id,
            base_shutdown=base.shutdown_date,
            base_training_retires_on=base.training_retires_on,
        )
    if derived is not None and derived[1] == ValueSource.AZURE_FINE_TUNED:
        shutdown, source = derived
    elif entry is base and own is not None:
        source = ValueSource.BASE_MODEL
    replacement = (own.replacement if own is not None else "") or (base.replacement if base is not None else "")
    return Runway(
        provider=item.provider,
        model_id=looked_up,
        base_model=item.base_model,
        state=state_on(shutdown, on),
        shutdown_date=shutdown,
        days_left=(shutdown - on).days if shutdown else None,
        replacement=replacement,
        source=source,
    )


def runways(lookups: Iterable[Lookup], *, on: date | None = None) -> dict[Lookup, Runway]:
    """The runway of each lookup: one query, or none where the process's copy is current (`catalogue_cached`)."""
    lookups = list(lookups)
    on = on or today()
    entries = _entries(lookups)
    return {item: runway_resolve(item, entries, on=on) for item in lookups}


def runway(*, provider: str, base_model: str, fine_tuned_model: str = "", on: date | None = None) -> Runway:
    item = Lookup(provider, base_model, fine_tuned_model)
    return runways([item], on=on)[item]


def runways_as_of(lookups: Iterable[Lookup], *, at) -> dict[Lookup, Runway]:
    """The runways as the catalogue stood at the instant `at` (from its history), counted from that day."""
    lookups = list(lookups)
    on = timezone.localtime(at).date()
    wanted = {(item.provider, m) for item in lookups for m in (item.base_model, item.fine_tuned_model) if m}
    entries: dict[tuple[str, str], ProviderModel] = {}
    if wanted:
        condition = Q()
        for provider, model_id in wanted:
            condition |= Q(provider=provider, model_id=model_id)
        rows = ProviderModel.history.filter(condition, history_date__lte=at).order_by(
            "provider", "model_id", "-history_date", "-history_id"
        )
        for row in rows:
            key = (row.provider, row.model_id)
            if key not in entries and row.history_type != "-":
                entries[key] = row
    return {item: runway_resolve(item, entries, on=on) for item in lookups}


def base_model_of(model_id: str) -> str:
    return base_of(model_id)


def last_sync(provider: str) -> CatalogueSync | None:
    return CatalogueSync.objects.filter(provider=provider, ok=True).first()
