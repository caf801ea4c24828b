from __future__ import annotations

from django.contrib import admin, messages

from core import services
from core.admin_audit import AuditedAdmin, reason_action
from core.errors import ApplicationError
from core.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = ["prefix", "name", "user", "created_by", "created_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at", "created_at", "user"]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user", "created_by"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "expires_at"]
        return ["user", "name", "prefix", "created_by", "created_at", "expires_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "name", "prefix", "created_by", "created_at", "expires_at", "revoked_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        # A token is issued and revoked, never edited; revoking needs change permission.
        return super().has_change_permission(request, obj) and obj is None

    def save_model(self, request, obj, form, change):
        issued = services.token_issue(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            actor=request.user,
            reason=form.cleaned_data["change_reason"],
        )
        obj.pk = issued.token.pk
        self.message_user(
            request,
            f"Token for {issued.token.user}: {issued.secret} (copy it now: it is shown only once).",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        def apply(tokens, reason):
            for token in tokens:
                try:
                    services.token_revoke(token=token, actor=request.user, reason=reason)
                    self.message_user(request, f"Revoked {token}.", messages.SUCCESS)
                except ApplicationError as exc:
                    self.message_user(request, f"{token}: {exc.message}", messages.ERROR)

        return reason_action(request, queryset, title="Revoke tokens", apply=apply, action_name="revoke")
