"""A clock for demo data: lays the demo's records out over last month instead of one instant.

`make run` should show a month that reads like a real one (a report for last month
with releases, reviews and an incident in it), so the demo commands run their
services under this clock. It replaces `django.utils.timezone.now`, which every
service, model field and history row reads, for the duration of the block, and
only ever in the demo commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.utils import timezone


class DemoClock:
    def __init__(self, start: datetime):
        self.current = start
        self._tick = timedelta(0)

    def now(self) -> datetime:
        # Each reading a millisecond later than the one before: records keep their order.
        self._tick += timedelta(milliseconds=1)
        return self.current + self._tick

    def at(self, moment: datetime) -> None:
        self.current, self._tick = moment, timedelta(0)

    def advance(self, **delta) -> None:
        self.at(self.current + timedelta(**delta))


def last_month(day: int, hour: int = 9) -> datetime:
    """`day` of last month at `hour`, in the current time zone."""
    # The real time, even inside a demo clock (datetime.now is not what the clock replaces).
    first = timezone.localtime(datetime.now(tz=UTC)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - timedelta(days=1)).replace(day=1)
    return previous.replace(day=day, hour=hour)


@contextmanager
def demo_clock(start: datetime) -> Iterator[DemoClock]:
    clock = DemoClock(start)
    with mock.patch("django.utils.timezone.now", clock.now):
        yield clock
