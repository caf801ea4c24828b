"""History rows as audit entries: who, when, from where, why, and what changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from simple_history.utils import get_m2m_reverse_field_name

from core.audit import Source

_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
_IGNORED = {"updated_at"}


def _value(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def history_entries(history: QuerySet, *, kind: str | None = None) -> list[dict]:
    """Audit entries for a history queryset, oldest first, each diffed against the row before it.

    Diffs are computed here from consecutive rows, in a fixed number of queries
    whatever the number of rows (simple-history's diff_against would query once per row).
    """
    rows = list(history.select_related("history_user", "history_on_behalf_of").order_by("history_date", "history_id"))
    if not rows:
        return []
    # The tracked fields: a field kept out of history (excluded_fields) has no column to diff.
    recorded = {f.attname for f in rows[0]._meta.concrete_fields}
    fields = [
        f for f in rows[0].instance_type._meta.concrete_fields if f.attname not in _IGNORED and f.attname in recorded
    ]
    # People are shown by username, not id: one query for all the users the rows mention.
    user_model = get_user_model()
    user_fields = [f.attname for f in fields if f.is_relation and f.related_model is user_model]
    user_ids = {getattr(row, name) for row in rows for name in user_fields} - {None}
    usernames = dict(user_model.objects.filter(pk__in=user_ids).values_list("pk", user_model.USERNAME_FIELD))

    def shown(field, value):
        if field.attname in user_fields and value is not None:
            return usernames.get(value, value)
        return _value(value)

    previous_by_object: dict = {}
    entries = []
    for row in rows:
        previous = previous_by_object.get(row.id)
        changes = []
        for field in fields:
            new = getattr(row, field.attname)
            old = getattr(previous, field.attname) if previous is not None else None
            if previous is None and row.history_type == "+":
                if new in (None, ""):
                    continue
            elif new == old:
                continue
            changes.append({"field": field.name, "old": shown(field, old), "new": shown(field, new)})
        entry = {
            "history_id": row.history_id,
            "at": row.history_date,
            "action": _ACTIONS.get(row.history_type, row.history_type),
            "user": row.history_user.get_username() if row.history_user else None,
            "on_behalf_of": row.history_on_behalf_of.get_username() if row.history_on_behalf_of else None,
            "source": row.history_source,
            "reason": row.history_change_reason or "",
            "changes": changes,
        }
        if kind:
            entry["object"] = kind
            entry["object_id"] = row.id
        entries.append(entry)
        previous_by_object[row.id] = row
    return entries


# --- The admin's history page -------------------------------------------------------------
#
# simple-history's own page shows raw column names, a Python repr cut at a fixed length and
# only the fields a form can edit. Compliance staff read this page to answer "who changed
# what, when, from where and why", so it is rebuilt here: every recorded field (computed
# ones such as a residual score included), people and related records by name, choices by
# label, JSON as the keys that changed.

_EMPTY = "—"
_FIELDS_NOT_SHOWN = _IGNORED | {"id"}
_SOURCES = dict(Source.choices)


@dataclass(frozen=True)
class Change:
    """One field's before and after, as text a person reads."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    action: str
    who: str
    source: str
    reason: str
    changes: list[Change]
    record: object


def person_name(user) -> str:
    """A person as the history shows them: their name, or the service account as such."""
    if user is None:
        return "system"
    if user.get_username() == settings.FINEPRINT_SERVICE_USERNAME:
        return "Fineprint (service)"
    return user.get_full_name() or user.get_username()


def json_changes(name: str, old, new) -> list[tuple[str, str, str]]:
    """The leaves of two JSON values that differ, as (path, old, new): `metrics.win_rate`, `rules[0].min`."""
    before, after = _leaves(name, old), _leaves(name, new)
    paths = list(before) + [path for path in after if path not in before]
    return [
        (path, before.get(path, _EMPTY), after.get(path, _EMPTY))
        for path in paths
        if before.get(path, _EMPTY) != after.get(path, _EMPTY)
    ]


def _json_text(value) -> str:
    return _EMPTY if value is None else json.dumps(value)


def _leaves(path: str, value) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {leaf: text for key, item in value.items() for leaf, text in _leaves(f"{path}.{key}", item).items()}
    if isinstance(value, list):
        return {leaf: text for i, item in enumerate(value) for leaf, text in _leaves(f"{path}[{i}]", item).items()}
    if isinstance(value, str):
        return {path: value}
    return {path: json.dumps(value)}


def history_page_rows(records, *, previous=None) -> list[HistoryRow]:
    """Rows for the admin's history page, newest first as `records` are.

    `previous` is the record just before the oldest of `records` (the page before), so the
    oldest row on a page is diffed too. Queries: one for the people, one per related model
    and one per many-to-many field, whatever the number of rows.
    """
    records = list(records)
    if not records:
        return []
    history_model = type(records[0])
    model = records[0].instance_type
    recorded = {f.attname for f in history_model._meta.concrete_fields}
    fields = [f for f in model._meta.concrete_fields if f.attname in recorded and f.attname not in _FIELDS_NOT_SHOWN]
    m2m_fields = list(getattr(history_model, "_history_m2m_fields", []))
    chain = [*records, previous] if previous is not None else records
    names = _RelatedNames(chain, fields, m2m_fields)

    rows = []
    for i, record in enumerate(records):
        before = chain[i + 1] if i + 1 < len(chain) else None
        rows.append(
            HistoryRow(
                at=record.history_date,
                action=_ACTIONS.get(record.history_type, record.history_type).capitalize(),
                who=names.who(record),
                source=_SOURCES.get(record.history_source or Source.SYSTEM, record.history_source),
                reason=record.history_change_reason or "",
                changes=_changes(record, before, fields, m2m_fields, names),
                record=record,
            )
        )
    return rows


def _changes(record, before, fields, m2m_fields, names) -> list[Change]:
    created = before is None
    changes = []
    for field in fields:
        new = getattr(record, field.attname)
        old = None if created else getattr(before, field.attname)
        if created and new in (None, "", {}, []):
            continue
        if not created and new == old:
            continue
        label = capfirst(field.verbose_name)
        leaves = json_changes(field.name, old, new) if isinstance(field, models.JSONField) else None
        if leaves:
            changes += [Change(path, before_text, after_text) for path, before_text, after_text in leaves]
        elif leaves == []:
            # Only empty containers differ ({} and [], or None): the values themselves say it.
            changes.append(Change(label, _json_text(old), _json_text(new)))
        elif leaves is None:
            changes.append(Change(label, names.shown(field, old), names.shown(field, new)))
    for field in m2m_fields:
        new = names.members(record, field)
        old = set() if created else names.members(before, field)
        if new != old and (new or not created):
            changes.append(Change(capfirst(field.verbose_name), names.listed(field, old), names.listed(field, new)))
    return changes


class _RelatedNames:
    """Names for the users, related records and many-to-many members a set of history rows mentions."""

    def __init__(self, records, fields, m2m_fields):
        user_model = get_user_model()
        self._users_field = {f.attname for f in fields if f.is_relation and f.related_model is user_model}
        user_ids = {r.history_user_id for r in records} | {r.history_on_behalf_of_id for r in records}
        user_ids |= {getattr(r, name) for r in records for name in self._users_field}
        self._people = user_model.objects.in_bulk(user_ids - {None})

        self._members: dict[str, dict[int, set]] = {}
        wanted: dict[type, set] = {}
        for field in m2m_fields:
            history_m2m = history_m2m_model(type(records[0]), field)
            target = get_m2m_reverse_field_name(field)
            by_row: dict[int, set] = {r.history_id: set() for r in records}
            for history_id, target_id in history_m2m.objects.filter(history__in=records).values_list(
                "history_id", f"{target}_id"
            ):
                by_row[history_id].add(target_id)
            self._members[field.name] = by_row
            wanted.setdefault(field.related_model, set()).update(*by_row.values())
        for field in fields:
            if field.is_relation and field.attname not in self._users_field:
                wanted.setdefault(field.related_model, set()).update(getattr(r, field.attname) for r in records)
        self._objects = {
            related: related._default_manager.in_bulk(ids - {None}) for related, ids in wanted.items() if ids - {None}
        }

    def who(self, record) -> str:
        actor = person_name(self._people.get(record.history_user_id))
        if record.history_on_behalf_of_id:
            return f"{actor}, for {person_name(self._people.get(record.history_on_behalf_of_id))}"
        return actor

    def shown(self, field, value) -> str:
        if value is None or value == "":
            return _EMPTY
        if field.attname in self._users_field:
            person = self._people.get(value)
            return person_name(person) if person else f"user #{value} (deleted)"
        if field.is_relation:
            return self._name(field.related_model, value)
        if field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if isinstance(value, bool):
            return "Yes" if value else "No"
        if isinstance(value, datetime):
            return date_format(timezone.localtime(value), "j M Y, H:i")
        if isinstance(value, date):
            return date_format(value, "j M Y")
        return str(value)

    def members(self, record, field) -> set:
        return self._members[field.name].get(record.history_id, set())

    def listed(self, field, ids: set) -> str:
        return ", ".join(sorted(self._name(field.related_model, pk) for pk in ids)) or _EMPTY

    def _name(self, related, pk) -> str:
        obj = self._objects.get(related, {}).get(pk)
        return str(obj) if obj is not None else f"{related._meta.verbose_name} #{pk} (deleted)"


def history_m2m_model(history_model, field):
    """The model simple-history keeps a many-to-many field's members in, one row per member per history row."""
    return history_model.__dict__[field.name].model
