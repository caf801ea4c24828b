"""The scoring matrix: likelihood x impact, bands, review cadence, appetite.

The matrix is configuration with a version. Every risk keeps the version it was
scored with, so a later change of bands never silently rewrites old assessments:
a new matrix is a new entry in MATRICES and a new CURRENT_MATRIX.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from django.db import models

SCALE = range(1, 6)


class Likelihood(models.IntegerChoices):
    RARE = 1, "1 - Rare"
    UNLIKELY = 2, "2 - Unlikely"
    POSSIBLE = 3, "3 - Possible"
    LIKELY = 4, "4 - Likely"
    ALMOST_CERTAIN = 5, "5 - Almost certain"


class Impact(models.IntegerChoices):
    NEGLIGIBLE = 1, "1 - Negligible"
    MINOR = 2, "2 - Minor"
    MODERATE = 3, "3 - Moderate"
    MAJOR = 4, "4 - Major"
    CATASTROPHIC = 5, "5 - Catastrophic"


class Band(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


BAND_ORDER = {Band.LOW: 0, Band.MEDIUM: 1, Band.HIGH: 2, Band.CRITICAL: 3}


@dataclass(frozen=True)
class Matrix:
    version: str
    # (band, lowest score, highest score), in ascending order.
    bands: tuple[tuple[str, int, int], ...]
    # An impact at or above the key never scores below the band it maps to.
    impact_floor: dict[int, str]
    # Months between reviews, by residual band.
    review_months: dict[str, int]
    # The highest residual band the organisation tolerates without a decision.
    appetite: str

    def score(self, likelihood: int, impact: int) -> int:
        if likelihood not in SCALE or impact not in SCALE:
            raise ValueError(f"Likelihood and impact are 1 to 5, not {likelihood} and {impact}.")
        return likelihood * impact

    def band(self, likelihood: int, impact: int) -> str:
        score = self.score(likelihood, impact)
        band = next(name for name, low, high in self.bands if low <= score <= high)
        for threshold, floor in self.impact_floor.items():
            if impact >= threshold and BAND_ORDER[floor] > BAND_ORDER[band]:
                band = floor
        return band

    def over_appetite(self, band: str) -> bool:
        return BAND_ORDER[band] > BAND_ORDER[self.appetite]

    def bands_over_appetite(self) -> list[str]:
        return [band for band in BAND_ORDER if self.over_appetite(band)]

    def next_review(self, band: str, after: datetime) -> datetime:
        return add_months(after, self.review_months[band])


MATRICES = {
    "2026.1": Matrix(
        version="2026.1",
        # Products of two 1-5 scales skip 11, 17-19 and 21-24; the bands cover every product.
        bands=((Band.LOW, 1, 4), (Band.MEDIUM, 5, 9), (Band.HIGH, 10, 16), (Band.CRITICAL, 17, 25)),
        impact_floor={5: Band.HIGH},
        review_months={Band.CRITICAL: 1, Band.HIGH: 3, Band.MEDIUM: 6, Band.LOW: 12},
        appetite=Band.MEDIUM,
    ),
}
CURRENT_MATRIX = "2026.1"


def matrix(version: str | None = None) -> Matrix:
    return MATRICES[version or CURRENT_MATRIX]


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
