"""The admin's history page, for every model with simple-history (see core.history.history_page_rows)."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from core.history import HistoryRow, history_page_rows

register = template.Library()

# The page's own columns; an admin's history_list_display naming them adds nothing.
_SHOWN_ALREADY = {"history_source", "history_change_reason", "history_user", "history_date"}


@register.simple_tag
def history_rows(page_obj) -> list[HistoryRow]:
    """The page's rows, the oldest diffed against the record before it (on the next page)."""
    records = list(page_obj.object_list)
    if not records:
        return []
    return history_page_rows(records, previous=records[-1].prev_record)


@register.simple_tag
def extra_history_columns(history_list_display) -> list[str]:
    return [column for column in history_list_display or [] if column not in _SHOWN_ALREADY]


@register.filter
def field_path(label: str) -> str:
    """A JSON path (`evidence.per_intent.billing.win_rate`) that wraps at its dots, not mid-word."""
    return mark_safe(escape(label).replace(".", ".<wbr>").replace("[", "<wbr>["))  # noqa: S308 - escaped first
