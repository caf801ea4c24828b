from __future__ import annotations

from core.audit import Source, audit_source


class AuditSourceMiddleware:
    """Tags every change made while serving a request with where it came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        source = Source.ADMIN if request.path.startswith("/admin/") else Source.API
        with audit_source(source):
            return self.get_response(request)
