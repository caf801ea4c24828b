"""Report periods: calendar months in the configured time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from core.errors import ValidationFailed

_PERIOD = re.compile(r"^(\d{4})-(\d{2})\Z")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text or "")
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValidationFailed("A period is a month: YYYY-MM.", fields={"period": ["Use YYYY-MM, e.g. 2026-10."]})
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @classmethod
    def previous_month(cls, now: datetime | None = None) -> Period:
        """The last complete month, in the configured time zone (what the 1st-of-month run reports on)."""
        return cls.of(timezone.localtime(now or timezone.now(), zone()).date()).shift(-1)

    def shift(self, months: int) -> Period:
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=zone())

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive)."""
        return self.shift(1).start

    @property
    def last_instant(self) -> datetime:
        """The last instant inside the period: what "as it stood at the end of the month" reads."""
        return self.end - timedelta(microseconds=1)

    @property
    def last_day(self) -> date:
        """The month's last day, from which "days left at month end" are counted."""
        return self.shift(1).first_day - timedelta(days=1)

    @property
    def label(self) -> str:
        return self.first_day.strftime("%B %Y")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)
