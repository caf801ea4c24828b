from __future__ import annotations

from rest_framework.permissions import BasePermission

from core.roles import READERS, roles_of


class RolePermission(BasePermission):
    """Deny by default: a view lists, per HTTP method, the roles that may call it.

    Views declare `roles = {"GET": READERS, "POST": {Role.ENGINEER}}`; a method
    that is not listed is refused to everybody.
    """

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        if request.user is None or not request.user.is_authenticated:
            return False
        if not hasattr(view, request.method.lower()):
            return True  # the view answers 405 Method Not Allowed
        allowed = getattr(view, "roles", {}).get(request.method)
        if request.method in ("HEAD", "OPTIONS"):
            allowed = getattr(view, "roles", {}).get("GET", READERS)
        return bool(allowed and roles_of(request.user) & set(allowed))
