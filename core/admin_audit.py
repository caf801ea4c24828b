"""Admin pieces that make every admin change say why."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from simple_history.admin import SimpleHistoryAdmin

from core.errors import ApplicationError


class ReasonForm(forms.ModelForm):
    change_reason = forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Recorded in the history with your name. Required.",
    )


class ActionReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, label="Reason")


class ReadableHistoryMixin:
    """For a SimpleHistoryAdmin: the history page's template
    (templates/simple_history/object_history_list.html) shows who, when, source, reason and
    every change itself, built by core.history.history_page_rows."""

    history_list_display = []

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True) -> None:
        # simple-history's own diff (queries per row, editable fields only) is never shown.
        return None


class AuditedAdmin(ReadableHistoryMixin, SimpleHistoryAdmin):
    """Asks for a reason on every change; no delete (records are retired, not removed)."""

    form = ReasonForm

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Forms validate what they can; a rule only a service knows (a state that changed
        # meanwhile, a frozen record) is refused by the service and shown here, nothing saved.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            details = "; ".join(f"{field}: {' '.join(reasons)}" for field, reasons in exc.fields.items())
            self.message_user(request, f"Not saved. {exc.message} {details}".strip(), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _can_write(self, request, obj) -> bool:
        return self.has_change_permission(request, obj) if obj else self.has_add_permission(request)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "change_reason"]})
            for name, opts in super().get_fieldsets(request, obj)
        ]
        if self._can_write(request, obj):
            fieldsets.append(("Audit", {"fields": ["change_reason"]}))
        return fieldsets


def reason_action(request, queryset, *, title: str, apply, action_name: str, form_class=ActionReasonForm):
    """An admin action that asks for a reason (and whatever else `form_class` asks) first,
    then calls `apply(queryset, cleaned_data)`."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            return apply(queryset, form.cleaned_data)
    else:
        form = form_class()
    return render(
        request,
        "admin/action_reason.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "objects": queryset,
            "form": form,
            "action_name": action_name,
            "opts": queryset.model._meta,
        },
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the system writes (receipts, security events): listed and shown, never added, changed or deleted."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """Related records shown on a page, never added, changed or deleted from it."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
