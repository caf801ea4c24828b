"""Scores and bands on every cell of the 5x5 matrix, and the review cadence by band."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from risks import services
from risks.scoring import SCALE, Band, add_months, matrix
from tests.risks.conftest import risk_payload

# The whole matrix, written out as the risk policy states it: rows likelihood 1-5, columns impact 1-5.
# Low 1-4, Medium 5-9, High 10-16, Critical 20-25; impact 5 never below High.
L, M, H, C = Band.LOW, Band.MEDIUM, Band.HIGH, Band.CRITICAL
EXPECTED_BANDS = [
    [L, L, L, L, H],  # 1x5 = 5 is Medium by score: impact 5 lifts it to High
    [L, L, M, M, H],
    [L, M, M, H, H],
    [L, M, H, H, C],
    [M, H, H, C, C],
]


@pytest.mark.parametrize("likelihood", SCALE)
@pytest.mark.parametrize("impact", SCALE)
def test_it_bands_every_cell_of_the_matrix(likelihood, impact):
    scoring = matrix()
    assert scoring.score(likelihood, impact) == likelihood * impact
    assert scoring.band(likelihood, impact) == EXPECTED_BANDS[likelihood - 1][impact - 1]


def test_it_never_puts_impact_five_below_high():
    assert {matrix().band(likelihood, 5) for likelihood in SCALE} <= {Band.HIGH, Band.CRITICAL}
    assert matrix().band(1, 5) == Band.HIGH  # score 5, Medium by score alone


def test_it_refuses_scores_off_the_scale():
    with pytest.raises(ValueError, match="1 to 5"):
        matrix().score(0, 3)
    with pytest.raises(ValueError, match="1 to 5"):
        matrix().band(3, 6)


def test_it_stores_scores_bands_and_matrix_version_on_the_risk(compliance):
    risk = services.risk_create(
        actor=compliance,
        owner=compliance,
        **risk_payload(inherent_likelihood=5, inherent_impact=5, residual_likelihood=1, residual_impact=5),
    )
    risk.refresh_from_db()
    assert (risk.inherent_score, risk.inherent_band) == (25, Band.CRITICAL)
    assert (risk.residual_score, risk.residual_band) == (5, Band.HIGH)
    assert risk.matrix_version == matrix().version


@pytest.mark.parametrize(
    ("residual", "months"),
    [((5, 4), 1), ((4, 3), 3), ((2, 3), 6), ((1, 2), 12)],
    ids=["critical-monthly", "high-quarterly", "medium-half-yearly", "low-yearly"],
)
def test_it_sets_the_first_review_from_the_residual_band(compliance, residual, months):
    risk = services.risk_create(
        actor=compliance,
        owner=compliance,
        **risk_payload(
            inherent_likelihood=5, inherent_impact=5, residual_likelihood=residual[0], residual_impact=residual[1]
        ),
    )
    expected = add_months(risk.created_at, months)
    assert abs(risk.next_review_at - expected) < timedelta(seconds=5)
    assert not risk.overdue


def test_it_adds_calendar_months_to_the_last_day_of_shorter_months():
    moment = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    assert add_months(moment, 1) == datetime(2026, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(moment, 12) == datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)
