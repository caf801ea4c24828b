"""core.pgbackend reads timestamptz with psycopg's own loader and attaches the time zone as Django's loader does."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from core.pgbackend.base import _PSYCOPG_TZ_LOADER, TIMESTAMPTZ_OID, _tz_loader

# As PostgreSQL writes timestamptz in the ISO DateStyle Django's connections use.
TEXTS = [
    b"2026-12-01 01:02:03.000004+00",
    b"2026-12-01 01:02:03+00",
    b"2026-12-01 01:02:03.5+00",
    b"2027-01-14 23:59:59.999999+00",
    b"2024-02-29 00:00:00+00",
    b"1970-01-01 00:00:00+00",
    b"0001-01-01 00:00:00+00",
    b"9999-12-31 23:59:59.999999+00",
    b"2026-03-29 02:30:00+02",
    b"2026-10-25 02:30:00.25+01",
    b"2026-07-01 12:00:00-07",
    b"2026-07-01 12:00:00+05:30",
    b"1901-01-01 00:00:00+00:09:21",
]
ZONES = [datetime.UTC, zoneinfo.ZoneInfo("Europe/Paris"), zoneinfo.ZoneInfo("America/Los_Angeles"), None]


def _django_loader(tz):
    class Loader(BaseTzLoader):
        timezone = tz

    return Loader(TIMESTAMPTZ_OID)


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize("text", TEXTS, ids=lambda t: t.decode())
def test_it_loads_what_djangos_loader_loads(tz, text):
    ours = _tz_loader(tz)(TIMESTAMPTZ_OID).load(text)
    theirs = _django_loader(tz).load(text)
    assert ours == theirs
    assert (ours.tzinfo, ours.utcoffset()) == (theirs.tzinfo, theirs.utcoffset())
    assert ours.isoformat() == theirs.isoformat()


def test_it_carries_the_zone_djangos_create_cursor_compares():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert _tz_loader(paris).timezone is paris


def test_it_refuses_what_djangos_refuses():
    import psycopg

    for text in (b"infinity", b"-infinity", b"not a time"):
        with pytest.raises(psycopg.DataError):
            _django_loader(datetime.UTC).load(text)
        with pytest.raises(psycopg.DataError):
            _tz_loader(datetime.UTC)(TIMESTAMPTZ_OID).load(text)


def test_it_parses_with_psycopgs_compiled_loader():
    # psycopg[binary] is pinned: its loader is the compiled one, not the Python class Django subclasses.
    assert _PSYCOPG_TZ_LOADER.__module__.startswith("psycopg_binary")


def test_in_the_sessions_zone_psycopg_calls_the_compiled_loader_itself():
    # Without a connection psycopg reads in UTC: in Django's UTC that is the zone Django attaches, so the
    # loader's `load` is the compiled one (no Python per value); in another zone it relabels in Python.
    utc = _tz_loader(datetime.UTC)(TIMESTAMPTZ_OID)
    paris = _tz_loader(zoneinfo.ZoneInfo("Europe/Paris"))(TIMESTAMPTZ_OID)
    assert isinstance(utc.load.__self__, _PSYCOPG_TZ_LOADER)
    assert paris.load.__func__ is type(paris).load
    for text in TEXTS:
        assert utc.load(text).tzinfo is datetime.UTC
        assert paris.load(text).tzinfo is paris.timezone
