from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail

from core.renderers import JSONRenderer

PAYLOAD = {
    "model": "support-bot",
    "text": 'Ünïcode ✓, a quote " and a backslash \\, line\nbreaks, and the JS separators \u2028 \u2029',
    "created_at": datetime.datetime(2026, 11, 30, 19, 14, 0, 123456, tzinfo=datetime.UTC),
    "ran_at": datetime.datetime(2026, 11, 30, 20, 0, tzinfo=ZoneInfo("Europe/Paris")),
    "day": datetime.date(2026, 11, 30),
    "took": datetime.timedelta(seconds=90),
    "price": Decimal("12.50"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "lazy": gettext_lazy("This field is required."),
    "error": [ErrorDetail("Ensure this value is at most 1.", code="max_value")],
    "metrics": {"win_rate": 0.61, "refusal_rate": 0.04, "p95_latency_ms": 950, "score": 1.5, "zero": 0.0},
    "counts": {1: "one", 2: "two"},
    "flags": [True, False, None],
    "nested": [{"a": [1, 2, {"b": []}]}, (3, 4)],
    "big": 2**62,
}


def drf(data, media_type=None):
    return renderers.JSONRenderer().render(data, media_type, {})


def test_it_writes_what_drf_writes_byte_for_byte():
    assert JSONRenderer().render(PAYLOAD) == drf(PAYLOAD)


def test_it_escapes_the_javascript_line_separators_as_drf_does():
    rendered = JSONRenderer().render({"text": "a\u2028b\u2029c"})

    assert rendered == b'{"text":"a\\u2028b\\u2029c"}' == drf({"text": "a\u2028b\u2029c"})


def test_an_indented_answer_and_what_orjson_refuses_are_drfs_own():
    indented = "application/json; indent=4"
    assert JSONRenderer().render(PAYLOAD, indented, {}) == drf(PAYLOAD, indented)
    huge = {"n": 2**70}  # beyond 64 bits: orjson refuses it
    assert JSONRenderer().render(huge) == drf(huge) == b'{"n":1180591620717411303424}'


def test_no_data_is_an_empty_body():
    assert JSONRenderer().render(None) == b""
