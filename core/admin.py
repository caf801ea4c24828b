from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from core import selectors, services
from core.admin_audit import AuditedAdmin, ReadableHistoryMixin, ReadOnlyAdmin, ReasonForm, reason_action
from core.audit import mark_change
from core.errors import ApplicationError
from core.models import ApiToken, SecurityEvent
from core.roles import Role, has_role


class ApiTokenForm(ReasonForm):
    """Issuing a token asks only what it is for and, optionally, an earlier expiry: it is always your own."""

    expires_at = forms.SplitDateTimeField(
        required=False,
        widget=admin.widgets.AdminSplitDateTime,
        help_text="Empty: the longest allowed (API_TOKEN_TTL_DAYS). A token never lives longer.",
    )

    class Meta:
        model = ApiToken
        fields = ["name", "expires_at"]


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at=None, expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(revoked_at=None, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.exclude(revoked_at=None)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Your own tokens, issued to yourself; compliance staff see and revoke everyone's.

    Nobody issues a token for someone else here: whoever holds a token acts as its
    user, so a token minted for another person would let you act as them.
    """

    form = ApiTokenForm
    # Who issued it and how are on the token's page; the list keeps to what fits at 1280 px.
    list_display = ["prefix", "name", "user", "expires_at", "last_used_at", "state"]
    list_filter = [TokenStateFilter, "expires_at", "created_at"]
    search_fields = ["prefix", "name", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke"]
    DETAIL_FIELDS = [
        "user",
        "name",
        "prefix",
        "created_by",
        "issued_via",
        "created_at",
        "expires_at",
        "last_used_at",
        "expiry_notified_at",
        "revoked_at",
    ]

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        return tokens if has_role(request.user, Role.COMPLIANCE) else tokens.filter(user=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "expires_at", "change_reason"]
        return [*self.DETAIL_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        # A token is issued and revoked, never edited; the revoke action needs change permission.
        return super().has_change_permission(request, obj) and obj is None

    @admin.display(description="State")
    def state(self, token: ApiToken) -> str:
        return selectors.token_state(token)

    def save_model(self, request, obj, form, change):
        issued = services.token_issue(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            issued_by=request.user,
            via="admin",
            reason=form.cleaned_data["change_reason"],
        )
        for field in ApiToken._meta.concrete_fields:  # the admin logs and redirects with `obj`
            setattr(obj, field.attname, getattr(issued.token, field.attname))
        self.message_user(
            request,
            f"Your token '{issued.token.name}': {issued.secret} (copy it now: it is shown only once; "
            f"it expires on {issued.token.expires_at:%Y-%m-%d}).",
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


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    """Lockouts, as the defences recorded them."""

    list_display = ["occurred_at", "kind", "username", "ip_address", "detail"]
    list_filter = ["kind", "occurred_at"]
    search_fields = ["username", "ip_address"]


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
class AuditedUserAdmin(ReadableHistoryMixin, SimpleHistoryAdmin, UserAdmin):
    """Django's user admin, with a reason on every change (role changes included) and no delete."""

    form = AuditedUserChangeForm
    add_form = AuditedUserCreationForm
    fieldsets = (*UserAdmin.fieldsets, ("Audit", {"fields": ("change_reason",)}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Audit", {"fields": ("change_reason",)}))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivate instead: history and records keep pointing at the person

    def save_model(self, request, obj, form, change):
        # Kept on the instance, so the group changes saved after it carry the same user and reason.
        mark_change(obj, actor=request.user, reason=form.cleaned_data["change_reason"])
        super().save_model(request, obj, form, change)


# The audit chain's pages register themselves.
from core import admin_chain, admin_exports  # noqa: E402, F401
