from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from simple_history.admin import SimpleHistoryAdmin

from core import services
from core.admin_audit import AuditedAdmin, reason_action
from core.audit import mark_change
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
        def apply(tokens, data):
            reason = data["reason"]
            for token in tokens:
                try:
                    services.token_revoke(token=token, actor=request.user, reason=reason)
                    self.message_user(request, f"Revoked {token}.", messages.SUCCESS)
                except ApplicationError as exc:
                    self.message_user(request, f"{token}: {exc.message}", messages.ERROR)

        return reason_action(request, queryset, title="Revoke tokens", apply=apply, action_name="revoke")


class _ReasonField(forms.CharField):
    def __init__(self):
        super().__init__(
            label="Reason for this change",
            widget=forms.Textarea(attrs={"rows": 2}),
            max_length=2000,
            help_text="Recorded in the history with your name. Required.",
        )


class AuditedUserChangeForm(UserChangeForm):
    change_reason = _ReasonField()


class AuditedUserCreationForm(AdminUserCreationForm):
    change_reason = _ReasonField()


admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(SimpleHistoryAdmin, UserAdmin):
    """Django's user admin, with a reason on every change (role changes included) and no delete."""

    form = AuditedUserChangeForm
    add_form = AuditedUserCreationForm
    fieldsets = (*UserAdmin.fieldsets, ("Audit", {"fields": ("change_reason",)}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Audit", {"fields": ("change_reason",)}))
    history_list_display = ["history_source", "history_change_reason"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivate instead: history and records keep pointing at the person

    def save_model(self, request, obj, form, change):
        # Kept on the instance, so the group changes saved after it carry the same user and reason.
        mark_change(obj, actor=request.user, reason=form.cleaned_data["change_reason"])
        super().save_model(request, obj, form, change)
