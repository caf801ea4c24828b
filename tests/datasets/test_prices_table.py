"""The training price table: seeded from OpenAI's published prices, edited by Compliance with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import PermissionDenied, ValidationFailed
from datasets import selectors, services
from datasets.models import PriceRow

SEEDED = {
    "gpt-4.1": "25.00",
    "gpt-4.1-mini": "5.00",
    "gpt-4.1-nano": "1.50",
    "gpt-4o": "25.00",
    "gpt-4o-mini": "3.00",
    "gpt-3.5-turbo": "8.00",
}


def test_the_migration_seeds_openais_training_prices(db):
    rows = {row.base_model: row for row in PriceRow.objects.filter(provider="openai")}
    assert {name: str(row.usd_per_million_training_tokens.normalize()) for name, row in rows.items()} == {
        name: str(Decimal(usd).normalize()) for name, usd in SEEDED.items()
    }
    assert {row.effective_from for row in rows.values()} == {date(2025, 4, 14)}
    assert all("openai.com" in row.source for row in rows.values())


@pytest.mark.parametrize(
    ("base_model", "expected"),
    [
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("ft:gpt-4o-2024-08-06:org::abc", "gpt-4o"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
    ],
)
def test_the_longest_matching_base_model_prices_a_snapshot(db, base_model, expected):
    assert selectors.price_in_force(base_model=base_model, on=date(2026, 1, 1)).base_model == expected


def test_a_later_row_takes_over_from_its_date(compliance):
    services.price_row_save(
        row=PriceRow(
            base_model="gpt-4.1-mini", usd_per_million_training_tokens="4.00", effective_from=date(2026, 3, 1)
        ),
        actor=compliance,
        reason="Price cut announced",
    )
    assert (
        selectors.price_in_force(base_model="gpt-4.1-mini", on=date(2026, 2, 28)).usd_per_million_training_tokens == 5
    )
    assert selectors.price_in_force(base_model="gpt-4.1-mini", on=date(2026, 3, 1)).usd_per_million_training_tokens == 4
    assert selectors.price_in_force(base_model="gpt-4.1-mini", on=date(2025, 1, 1)) is None


def test_an_edit_keeps_its_reason_and_author_in_history(compliance):
    row = PriceRow.objects.get(base_model="gpt-4o-mini")
    row.usd_per_million_training_tokens = Decimal("3.50")
    services.price_row_save(row=row, actor=compliance, reason="Corrected from the pricing page")

    latest = row.history.order_by("-history_date").first()
    assert latest.history_change_reason == "Corrected from the pricing page"
    assert latest.history_user == compliance
    assert latest.usd_per_million_training_tokens == Decimal("3.50")


def test_only_compliance_edits_prices_and_always_with_a_reason(engineer, compliance):
    row = PriceRow.objects.get(base_model="gpt-4o")
    with pytest.raises(PermissionDenied):
        services.price_row_save(row=row, actor=engineer, reason="cheaper")
    with pytest.raises(ValidationFailed):
        services.price_row_save(row=row, actor=compliance, reason="")
