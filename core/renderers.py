"""The API's JSON: what DRF's JSONRenderer writes, byte for byte, written by orjson.

A page of 100 versions is 130 KB of JSON: the standard library's encoder took 1.8 ms of
each such request, orjson takes 0.1 ms (docs/benchmarks.md, "Against MLflow"). What
orjson would write differently goes through DRF's own encoder instead: dates and
times (DRF shortens microseconds to milliseconds and writes UTC as "Z"), dataclasses,
Decimals and lazy strings; a value orjson refuses (an integer beyond 64 bits) and a
pretty-printed answer (`Accept: application/json; indent=4`) are rendered by DRF.
The one difference left is how a float too small or too large for plain digits is
spelled: 5e-05 and 1e+16 by Python, 5e-5 and 1e16 by orjson, the same numbers.
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
_default = JSONEncoder().default
# DRF escapes the two line separators JavaScript does not allow in a string literal.
_SEPARATORS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            text = orjson.dumps(data, default=_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        for raw, escaped in _SEPARATORS:
            if raw in text:
                text = text.replace(raw, escaped)
        return text
