"""Words for counts, the same on every screen, card, report and history reason."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """ "1 warning", "2 warnings", "1,204 items": the count (grouped by thousands) with its noun.

    `many` where the plural is not `one` + "s" ("3 info", "2 analyses").
    """
    return f"{count:,} {one if count == 1 else (many or one + 's')}"
