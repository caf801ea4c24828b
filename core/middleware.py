from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import JsonResponse

from core.api import error_body
from core.audit import Source, audit_source

# C0 controls and DEL: never part of a name, a reference or a search; NUL makes PostgreSQL raise.
_CONTROL = re.compile("[\x00-\x1f\x7f]")
# What django.utils.encoding.repercent_broken_unicode leaves of a non-UTF-8 octet; no name holds a "%".
_BROKEN_UTF8 = re.compile("%[89A-F][0-9A-F]")


def _decoded(raw: bytes) -> str | None:
    """`raw` as UTF-8 text without control characters, or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else text


def _url_problems(request) -> dict[str, list[str]]:
    """Field errors for a path or query string that no lookup can use; empty when it is fine."""
    reason = "Must be UTF-8 text without NUL or control characters."
    errors: dict[str, list[str]] = {}
    # Django has decoded the path already, re-escaping (%XX, uppercase) each octet that was not UTF-8.
    if _CONTROL.search(request.path_info) or _BROKEN_UTF8.search(request.path_info):
        errors["path"] = [reason]
    query = get_bytes_from_wsgi(request.META, "QUERY_STRING", "")
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        name_text = _decoded(unquote_to_bytes(name.replace(b"+", b" ")))
        if name_text is None:
            errors.setdefault("query", [reason])
        elif _decoded(unquote_to_bytes(value.replace(b"+", b" "))) is None:
            errors[name_text[:100]] = [reason]
    return errors


class UrlHygieneMiddleware:
    """Answers 400 to a path or query string holding a NUL, a control character or broken UTF-8.

    Such a value can only be an attack or a bug, and once it reaches a lookup
    PostgreSQL raises (a 500), in the API and the admin alike. Request bodies
    are checked by the API's parsers and serializers (core.parsers).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        fields = _url_problems(request)
        if fields:
            message = "The URL holds characters no name, reference or search may contain."
            return JsonResponse(error_body("invalid", message, fields), status=400)
        return self.get_response(request)


class AuditSourceMiddleware:
    """Tags every change made while serving a request with where it came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = Source.ADMIN if request.path.startswith("/admin/") else Source.API
        with audit_source(source):
            return self.get_response(request)


# The API: bearer tokens only (core.authentication), never a session cookie, so none of a browser's state.
API_PREFIX = "/api/v1/"


def _browser_only(middleware: type) -> type:
    """`middleware`, passed by on the API, which has no use for it.

    The session, the user it logs in and the messages it carries serve the admin's browser. On the
    API they only cost time on every request (the messages' storage alone was 2.4% of a get,
    docs/benchmarks.md); the user there is the token's, which DRF sets on the request. None of the
    three has a `process_view` or `process_exception`, so passing its `__call__` by skips all of it.
    """

    class BrowserOnly(middleware):
        def __call__(self, request):
            if request.path_info.startswith(API_PREFIX):
                return self.get_response(request)
            return super().__call__(request)

    BrowserOnly.__name__ = BrowserOnly.__qualname__ = f"Browser{middleware.__name__}"
    BrowserOnly.__doc__ = f"{middleware.__module__}.{middleware.__name__}, except on {API_PREFIX}."
    return BrowserOnly


BrowserSessionMiddleware = _browser_only(SessionMiddleware)
BrowserAuthenticationMiddleware = _browser_only(AuthenticationMiddleware)
BrowserMessageMiddleware = _browser_only(MessageMiddleware)
