"""Input hygiene: what any request body must be before a view, a serializer or the database sees it.

A body from an attacker can be valid JSON and still take the service down: a
NUL byte that PostgreSQL refuses, a lone surrogate it cannot encode, a number
of 400 digits that overflows float(), nesting that exhausts the stack. Every
such input is refused here with a 400 naming where it was found, so no view
has to think about it. The size of bodies and uploads is bounded too (413).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers

from core.errors import ApplicationError

# Deep enough for any body the API documents (evaluations.0.metrics.win_rate is 4 levels).
MAX_JSON_DEPTH = 32
# Every free-text value, unless its field says less: a changelog or an incident's description fits.
MAX_TEXT_LENGTH = 20_000
# No count, score, latency or seed comes near this; beyond it a number is an attack or a bug.
MAX_NUMBER_MAGNITUDE = 1e15
# Report at most this many problems: an answer must not grow with a hostile body.
MAX_REPORTED = 20

# NUL is refused by PostgreSQL in text; a lone surrogate cannot be encoded as UTF-8 at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Strings (skipped whole, escapes included) and the brackets that nest, for the depth scan.
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class TooLarge(ApplicationError):
    status_code = 413
    code = "too_large"


class HostileInput(ValueError):
    """A value no field may hold; `fields` names where each one was found."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def text_problem(value: str, *, max_length: int = MAX_TEXT_LENGTH) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if len(value) > max_length:
        return f"Ensure this value has at most {max_length} characters."
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return "NUL characters are not allowed." if found.group() == "\x00" else "Lone surrogates are not allowed."


class _Refused:
    """What a number hook returns instead of raising, so the walk can say where the number was."""

    def __init__(self, reason: str):
        self.reason = reason


_TOO_BIG = f"Must be within ±{MAX_NUMBER_MAGNITUDE:.0e}."


def _parse_int(text: str):
    # Count the digits before int(): a 5,000-digit literal must not even be converted.
    if len(text.lstrip("-")) > 16 or abs(int(text)) > MAX_NUMBER_MAGNITUDE:
        return _Refused(_TOO_BIG)
    return int(text)


def _parse_float(text: str):
    value = float(text)  # 1e400 is inf here, never an OverflowError
    if not math.isfinite(value):
        return _Refused("Must be a finite number.")
    if abs(value) > MAX_NUMBER_MAGNITUDE:
        return _Refused(_TOO_BIG)
    return value


def _parse_constant(name: str):
    # NaN, Infinity and -Infinity: Python's json reads them, JSON has no such numbers.
    return _Refused("Must be a finite number.")


def problems(data, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, reason) for each value in parsed data that no field may hold: strings, keys, numbers."""
    if isinstance(data, _Refused):
        yield path or "non_field_errors", data.reason
    elif isinstance(data, str):
        problem = text_problem(data)
        if problem:
            yield path or "non_field_errors", problem
    elif isinstance(data, Mapping):
        items = data.lists() if hasattr(data, "lists") else data.items()  # a QueryDict holds lists
        for key, value in items:
            key_text = str(key)
            problem = text_problem(key_text, max_length=200)
            if problem:
                # Reported at the parent: a key that holds a lone surrogate cannot even be rendered back.
                yield path or "non_field_errors", f"Key: {problem}"
                continue
            sub = f"{path}.{key_text}" if path else key_text
            values = value if hasattr(data, "lists") else [value]
            for item in values:
                yield from problems(item, sub)
    elif isinstance(data, (list, tuple)):
        for index, item in enumerate(data):
            yield from problems(item, f"{path}.{index}" if path else str(index))


def problem_fields(data) -> dict[str, list[str]]:
    """The problems of `data` as field errors ({"evaluations.0.metrics.win_rate": [...]}), at most MAX_REPORTED."""
    fields: dict[str, list[str]] = {}
    for count, (path, reason) in enumerate(problems(data)):
        if count == MAX_REPORTED:
            break
        fields.setdefault(path, []).append(reason)
    return fields


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in `text` (brackets inside strings do not count)."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break  # deep enough to refuse: scanning on only costs time
        elif char in "]}":
            depth -= 1
    return deepest


def json_loads(text: str):
    """json.loads under the hygiene rules: ValueError for bad JSON, HostileInput for what no field may hold."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise HostileInput({"non_field_errors": [f"JSON may nest at most {MAX_JSON_DEPTH} levels."]})
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except RecursionError:  # a safety net under the depth scan
        raise HostileInput({"non_field_errors": ["The JSON nests too deeply."]}) from None
    fields = problem_fields(data)
    if fields:
        raise HostileInput(fields)
    return data


def body_too_large(limit: int) -> TooLarge:
    return TooLarge(f"The request body is larger than {limit} bytes.", extra={"limit_bytes": limit})


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a size limit and the hygiene rules; hostile input is a 400 naming its field."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return None  # DRF treats an empty body as no data
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise body_too_large(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json_loads(raw.decode(encoding))
        except HostileInput as exc:
            raise exceptions.ValidationError(exc.fields) from None
        except ValueError as exc:  # undecodable bytes or malformed JSON
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


class _UploadLimit(FileUploadHandler):
    """Stops an upload the moment one file passes the limit, before it is all read or stored."""

    def __init__(self, request, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def new_file(self, field_name, *args, **kwargs):
        super().new_file(field_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise TooLarge(
                f"{self.field_name} is larger than {self.limit} bytes.",
                fields={self.field_name: [f"At most {self.limit} bytes."]},
                extra={"limit_bytes": self.limit},
            )
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) keeps the file


class MultiPartParser(parsers.MultiPartParser):
    """Multipart forms whose files may be at most `settings.<limit_setting>` bytes each (413 beyond).

    Form fields keep Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE); their values
    are checked by the input serializers (core.serializers), as every value is.
    """

    limit_setting = "DATA_UPLOAD_MAX_MEMORY_SIZE"  # unless a view names its own (limited_by)

    @classmethod
    def limited_by(cls, setting: str) -> type[MultiPartParser]:
        """This parser with files limited by the setting named `setting`, e.g. EVIDENCE_MAX_UPLOAD_BYTES."""
        return type(f"MultiPartParser_{setting}", (cls,), {"limit_setting": setting})

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        limit = getattr(settings, self.limit_setting)
        handlers = [_UploadLimit(request, limit=limit), *request.upload_handlers]
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data, files = DjangoMultiPartParser(meta, stream, handlers, encoding).parse()
        except MultiPartParserError as exc:
            raise exceptions.ParseError(f"Multipart form parse error - {exc}") from None
        return parsers.DataAndFiles(data, files)
