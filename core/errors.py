"""The application's error hierarchy.

Services raise these; the one API exception handler (core.api) turns each into
the one JSON error shape with the status code declared here.
"""

from __future__ import annotations


class ApplicationError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    status_code = 400
    code = "invalid"


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class UpstreamUnavailable(ApplicationError):
    """A service we depend on (the model provider) is unavailable; the client may retry later."""

    status_code = 503
    code = "provider_unavailable"


class UpstreamRejected(ApplicationError):
    """A service we depend on refused our request for a reason the client cannot fix."""

    status_code = 502
    code = "provider_rejected"


class ModelShutDown(Conflict):
    """Work on a model the provider has shut down: it cannot succeed."""

    code = "model_shut_down"


class ProviderClosed(Conflict):
    """The provider accepts no new fine-tuning jobs any more."""

    code = "provider_closed"


class DatasetBlocked(Conflict):
    """A launch on data whose pre-check has blocking findings that Compliance has not overridden."""

    code = "dataset_blocked"
