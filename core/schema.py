"""The OpenAPI schema's shared parts: the one error shape and the answers any operation can give.

Views declare what is particular to them (201, a 409 with its reason); the errors
that every endpoint shares are added here once, so a new view cannot forget them
and a client generator knows the body of each.
"""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# core.api.error_body: {"error": {"code", "message", "fields"}}, with a few extra keys
# where an answer needs them (the two hashes of a mismatch), hence no additionalProperties.
ERROR_SCHEMA = {
    "type": "object",
    "description": "The one shape of every error answer.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable and machine-readable, e.g. `invalid`, `not_found`."},
                "message": {"type": "string", "description": "For people: what went wrong."},
                "fields": {
                    "type": "object",
                    "description": "Per input field (dotted for nested ones), the reasons it was refused.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

COMMON_ERRORS = {
    "400": "Invalid input: `error.fields` names each field and the reason.",
    "401": "No valid token.",
    "403": "Your role may not do this.",
    "404": "No such record.",
    "413": "The request body is too large.",
    "414": "The URL is too long.",
    "415": "The request body is not in a media type this endpoint reads.",
    "429": "Too many requests (or too many failed logins from this address): wait Retry-After seconds.",
}

# Any write can meet a record whose state refuses it: a decision already taken, a version
# frozen as evidence by a serious incident, a race lost to another request.
WRITE_ERRORS = {"409": "The record's state does not allow this (the message says why)."}

RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 0}}
}

_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def postprocess_error_responses(result: dict, generator=None, request=None, public=None) -> dict:
    """Add the Error component and the shared error answers to every operation (and 409 to every write).

    A view's own description of an error code is kept (it is more precise than
    ours); only the body it left out is added. Every 4xx and 5xx gets the Error body.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            shared = COMMON_ERRORS if method in ("get", "head", "options") else {**COMMON_ERRORS, **WRITE_ERRORS}
            for code, description in shared.items():
                responses.setdefault(code, {"description": description})
            if any(p.get("name") == "cursor" and p.get("in") == "query" for p in operation.get("parameters", [])):
                responses["400"]["description"] += " A cursor is only valid as the list's own next or previous link."
            for code, response in responses.items():
                if str(code)[0] in "45" and not response.get("content"):
                    response["content"] = _json_error(response.get("description", ""))["content"]
            responses["429"].setdefault("headers", {}).update(RETRY_AFTER)
            operation["responses"] = dict(sorted(responses.items()))
    return result
