"""Auditor exports in the admin (docs/audit.md): the list of exports, "Export a period", the download.

An export is made only through its own page (core.audit_export.audit_export_create),
never through the stock add form: the row records a file the service wrote. The ZIP
is served by a view that checks permission, never from a static URL: it holds every
history row of its period.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from core.admin_audit import ReadableHistoryMixin
from core.audit import Source, audit_source
from core.audit_export import audit_export_create, export_path, period_of_days
from core.errors import ApplicationError
from core.models import AuditExport


class ExportForm(forms.Form):
    first_day = forms.DateField(label="From", help_text="The first day, YYYY-MM-DD.")
    last_day = forms.DateField(label="To", help_text="The last day, included, YYYY-MM-DD.")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Who asked for it and why: recorded in the history with your name.",
    )

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", "The last day is before the first.")
        return data


@admin.register(AuditExport)
class AuditExportAdmin(ReadableHistoryMixin, SimpleHistoryAdmin):
    """Every export made: who took which links, when, and the SHA-256 of the ZIP they took away."""

    list_display = ["period", "rows", "links", "short_sha256", "requested_by", "created", "download"]
    list_display_links = ["period"]
    list_select_related = ["requested_by"]
    list_filter = ["created_at"]
    search_fields = ["sha256", "requested_by__username"]
    change_list_template = "admin/core/auditexport/change_list.html"
    fields = ["period", "rows", "links", "full_sha256", "size_kb", "requested_by", "created", "download"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # the stock add form: an export is made on its own page (export_view)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def may_export(self, request) -> bool:
        return request.user.has_perm("core.add_auditexport")

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "may_export": self.may_export(request)})

    @admin.display(description="Period", ordering="period_from")
    def period(self, obj) -> str:
        last = timezone.localtime(obj.period_to) - timedelta(microseconds=1)
        return f"{timezone.localtime(obj.period_from):%Y-%m-%d} to {last:%Y-%m-%d}"

    @admin.display(description="Links")
    def links(self, obj) -> str:
        return f"{obj.first_seq} to {obj.last_seq}" if obj.first_seq else "-"

    @admin.display(description="SHA-256", ordering="sha256")
    def short_sha256(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:10])

    @admin.display(description="SHA-256 of the ZIP")
    def full_sha256(self, obj):
        return format_html("<code>{}</code>", obj.sha256)

    @admin.display(description="Size")
    def size_kb(self, obj) -> str:
        return f"{obj.size / 1024:,.0f} KB"

    @admin.display(description="Made", ordering="created_at")
    def created(self, obj) -> str:
        return date_format(timezone.localtime(obj.created_at), "j M Y H:i")

    @admin.display(description="ZIP")
    def download(self, obj):
        return format_html('<a href="{}">Download</a>', reverse("admin:core_auditexport_download", args=[obj.pk]))

    def get_urls(self):
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="core_auditexport_export"),
            path(
                "<int:pk>/download/", self.admin_site.admin_view(self.download_view), name="core_auditexport_download"
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        if not self.may_export(request):
            raise PermissionDenied
        form = ExportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with audit_source(Source.ADMIN):
                    period_from, period_to = period_of_days(data["first_day"], data["last_day"])
                    export = audit_export_create(
                        actor=request.user, period_from=period_from, period_to=period_to, reason=data["reason"]
                    )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    format_html(
                        'Exported {} history rows (links {} to {}). <a href="{}">Download the ZIP</a>; '
                        "SHA-256 {}. Hand the auditor the chain key separately.",
                        export.rows,
                        export.first_seq,
                        export.last_seq,
                        reverse("admin:core_auditexport_download", args=[export.pk]),
                        export.sha256,
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:core_auditexport_change", args=[export.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Export a period for an auditor",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/core/auditexport/export.html", context)

    def download_view(self, request, pk: int):
        export = get_object_or_404(AuditExport, pk=pk)
        if not self.has_view_permission(request, export):
            raise PermissionDenied
        found = export_path(export)
        if found is None:
            raise Http404("The export's file is no longer kept.")
        return FileResponse(
            found.open("rb"), as_attachment=True, filename=export.file_name, content_type="application/zip"
        )
