"""Counts read as words: one noun for one, the plural for any other count."""

from __future__ import annotations

import pytest

from core.wording import plural


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 warnings"), (1, "1 warning"), (2, "2 warnings"), (1204, "1,204 warnings"), (-1, "-1 warnings")],
)
def test_it_says_the_noun_once_for_one_and_plural_otherwise(count, expected):
    assert plural(count, "warning") == expected


def test_it_takes_an_irregular_plural():
    assert plural(1, "info", "info") == "1 info"
    assert plural(3, "info", "info") == "3 info"
    assert plural(2, "analysis", "analyses") == "2 analyses"
