"""What every API view shares: the one error shape, pagination, the JSON 404."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    """The one shape of every 4xx answer: {"error": {"code", "message", "fields"}}."""
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.sub": ["reason", ...]}."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and all(isinstance(v, (str, exceptions.ErrorDetail)) for v in value):
            out.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in value)
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                if sub:
                    walk(f"{prefix}.{index}" if prefix else str(index), sub)
        else:
            out.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", detail)
    return out


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("invalid", "The request is invalid.", fields), status=400)
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE), met when a form's fields are read.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The request body is larger than {limit} bytes."
        return Response(error_body("too_large", message, limit_bytes=limit), status=413)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response(error_body("invalid", str(exc)), status=400)
    if isinstance(exc, IntegrityError):
        # Services map the races they expect to Conflict; this is the safety net.
        logger.warning("Unmapped integrity error: %s", exc)
        return Response(error_body("conflict", "The request conflicts with existing data."), status=409)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = _DRF_CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "The request is invalid: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = error_body(code, message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(code, str(detail))
    return response


def api_not_found(request, *args, **kwargs):
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)


class StableCursorPagination(CursorPagination):
    """Cursor paging on the primary key: stable under concurrent inserts."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def _invalid(self) -> exceptions.ValidationError:
        return exceptions.ValidationError({self.cursor_query_param: ["Invalid cursor."]})

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError):
            # Only a cursor can put a foreign value into this query; without one, it is a bug.
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise self._invalid() from None

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise self._invalid() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        """Cursors are plain base64, so anyone can write one: its position must fit the ordering's column."""
        if "\x00" in position:
            raise self._invalid()
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except FieldDoesNotExist:
            return  # an annotation or a related path: the query itself is the check
        try:
            field.to_python(position)
        except DjangoValidationError:
            raise self._invalid() from None


class PositionCursorPagination(StableCursorPagination):
    """Items in file order (their `position`): a golden set version's items, and a run's."""

    ordering = "position"
    page_size = 100
    max_page_size = 500
