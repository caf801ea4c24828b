"""Monthly reports in the admin: the list, download, "generate now", "resend"; the audited beat schedule."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.admin import PeriodicTaskForm
from django_celery_beat.models import PeriodicTask

from core.admin_audit import AuditedAdmin, reason_action
from core.badges import badge
from core.errors import ApplicationError
from core.roles import Role, has_role
from reports import services
from reports.models import Delivery, DeliveryStatus, ReportRevision
from reports.periods import Period
from reports.tasks import enqueue_pending, report_generate


class GenerateForm(forms.Form):
    period = forms.CharField(
        max_length=7, help_text="The month to report on, YYYY-MM. A month already reported gets a new revision."
    )
    send = forms.BooleanField(
        required=False, initial=True, label="Email it to the recipients (the Executives group and the extra addresses)"
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def clean_period(self) -> str:
        try:
            return str(Period.parse(self.cleaned_data["period"].strip()))
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(ReportRevision)
class ReportRevisionAdmin(AuditedAdmin):
    """The report archive: compliance generates and resends; executives read, download and check the SHA-256."""

    # Seven short columns fit 1280 px: the trigger and its person share one, the delivery state is one
    # badge, the hash is shortened (the revision's page shows it whole, with the month's other revisions).
    list_display = ["period", "revision", "generated", "made_by", "pages", "delivered", "download"]
    list_display_links = ["period", "revision"]
    ordering = ["-report__period"]  # then newest revision first; one sort field keeps the headers narrow
    list_filter = ["trigger", "report__period"]
    search_fields = ["pdf_sha256", "data_sha256", "trigger_key"]
    list_select_related = ["report", "triggered_by"]
    change_list_template = "admin/reports/reportrevision/change_list.html"
    actions = ["resend"]
    # The page leads with what a reader checks: the file, its SHA-256 and the month's other revisions.
    fieldsets = [
        (None, {"fields": ["period", "revision", "download", "pdf_hash", "revisions_of_the_month"]}),
        ("How it was made", {"fields": ["made_by", "generated", "pages", "size", "delivery_list"]}),
        (
            "Technical",
            {
                "classes": ["collapse"],
                "fields": ["data_hash", "trigger_key", "started_at", "build_seconds", "render_seconds"],
            },
        ),
    ]
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a revision is never changed: regenerate, and a new one is made

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not has_role(request.user, Role.COMPLIANCE):
            actions.pop("resend", None)  # executives read the archive; sending is compliance's
        return actions

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_generate": has_role(request.user, Role.COMPLIANCE)}
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("data")  # what the builder gathered: large, and never shown here
            .annotate(
                _sent=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
                _failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
                _total=Count("deliveries"),
            )
        )

    @admin.display(description="Period", ordering="report__period")
    def period(self, obj) -> str:
        return f"{obj.report.period:%Y-%m}"

    @admin.display(description="Revision", ordering="number")
    def revision(self, obj) -> str:
        return f"r{obj.number}"

    @admin.display(description="Generated", ordering="generated_at")
    def generated(self, obj) -> str:
        return date_format(timezone.localtime(obj.generated_at), "j M Y H:i")

    @admin.display(description="Made by", ordering="trigger")
    def made_by(self, obj) -> str:
        """How it was made, and by whom when a person asked (the service account is not news)."""
        by = obj.triggered_by
        person = by if by and by.get_username() != settings.FINEPRINT_SERVICE_USERNAME else None
        return f"{obj.get_trigger_display()}, {person.get_username()}" if person else obj.get_trigger_display()

    def _counts(self, obj) -> tuple[int, int, int]:
        if not hasattr(obj, "_total"):  # the change page: not annotated
            obj._total = obj.deliveries.count()
            obj._sent = obj.deliveries.filter(status=DeliveryStatus.SENT).count()
            obj._failed = obj.deliveries.filter(status=DeliveryStatus.FAILED).count()
        return obj._total, obj._sent, obj._failed

    @admin.display(description="Delivered")
    def delivered(self, obj):
        """Where the emails are: a revision exists only once its PDF is stored, so 'not sent' is still ready."""
        total, sent, failed = self._counts(obj)
        if not total:
            return badge("not sent", "neutral")
        if failed:
            return badge(f"{failed} of {total} failed", "bad")
        if sent == total:
            return badge(f"{sent} of {total} sent", "good")
        return badge(f"{sent} of {total} sent", "warn")

    @admin.display(description="PDF")
    def download(self, obj):
        url = reverse("admin:reports_reportrevision_download", args=[obj.pk])
        return format_html(
            '<a href="{}">Download PDF</a> <code title="SHA-256 {}">{}…</code>',
            url,
            obj.pdf_sha256,
            obj.pdf_sha256[:10],
        )

    @admin.display(description="SHA-256 of the PDF")
    def pdf_hash(self, obj):
        return format_html("<code>{}</code>", obj.pdf_sha256)

    @admin.display(description="SHA-256 of the data")
    def data_hash(self, obj):
        return format_html("<code>{}</code>", obj.data_sha256)

    @admin.display(description="Size")
    def size(self, obj) -> str:
        return f"{obj.pdf_bytes / 1024:,.0f} KB"

    @admin.display(description="Revisions of this month")
    def revisions_of_the_month(self, obj):
        """Every revision of the month with its whole SHA-256: what a reader compares with the file they hold."""
        rows = [
            (
                reverse("admin:reports_reportrevision_change", args=[r.pk]),
                f"r{r.number}",
                " (this one)" if r.pk == obj.pk else "",
                date_format(timezone.localtime(r.generated_at), "j M Y H:i"),
                reverse("admin:reports_reportrevision_download", args=[r.pk]),
                r.pdf_sha256,
            )
            for r in obj.report.revisions.only("pk", "number", "generated_at", "pdf_sha256").order_by("-number")
        ]
        return format_html(
            "<table><tr><th>Revision</th><th>Generated</th><th>PDF</th><th>SHA-256 of the PDF</th></tr>{}</table>",
            format_html_join(
                "",
                '<tr><td><a href="{}">{}</a>{}</td><td style="white-space:nowrap">{}</td>'
                '<td><a href="{}">Download</a></td><td><code>{}</code></td></tr>',
                rows,
            ),
        )

    @admin.display(description="Deliveries")
    def delivery_list(self, obj):
        rows = [
            (d.email, d.get_status_display(), d.attempts, f"; {d.last_error}" if d.last_error else "")
            for d in obj.deliveries.all()
        ]
        if not rows:
            return "None."
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {} (attempts {}{})</li>", rows))

    def get_urls(self):
        return [
            path("generate/", self.admin_site.admin_view(self.generate_view), name="reports_reportrevision_generate"),
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="reports_reportrevision_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        revision = get_object_or_404(ReportRevision.objects.select_related("report"), pk=pk)
        return FileResponse(
            revision.pdf.open("rb"),
            as_attachment=True,
            filename=f"fineprint-report-{revision.report.period:%Y-%m}-r{revision.number}.pdf",
            content_type="application/pdf",
        )

    def generate_view(self, request):
        if not has_role(request.user, Role.COMPLIANCE):
            raise PermissionDenied
        form = GenerateForm(request.POST or None, initial={"period": str(Period.previous_month())})
        if request.method == "POST" and form.is_valid():
            period = form.cleaned_data["period"]
            report_generate.delay_on_commit(
                period, services.manual_trigger_key(), request.user.pk, form.cleaned_data["send"]
            )
            self.message_user(
                request,
                f"Generating the report of {period}: it appears here, and is sent, in a few seconds.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:reports_reportrevision_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate a report now",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/reports/generate.html", context)

    @admin.action(description="Resend to every recipient (the same PDF)", permissions=["view"])
    def resend(self, request, queryset):
        if not has_role(request.user, Role.COMPLIANCE):
            raise PermissionDenied

        def apply(revisions, data):
            for revision in revisions:
                services.deliveries_resend(revision=revision, actor=request.user, reason=data["reason"])
                queued = enqueue_pending(revision)
                recipients = "1 recipient" if queued == 1 else f"{queued} recipients"
                self.message_user(request, f"{revision}: sending again to {recipients}.", messages.SUCCESS)

        return reason_action(request, queryset, title="Resend reports", apply=apply, action_name="resend")


@admin.register(Delivery)
class DeliveryAdmin(AuditedAdmin):
    list_display = ["revision", "email", "status", "attempts", "last_attempt_at", "sent_at", "last_error"]
    list_filter = ["status", "revision__report__period"]
    search_fields = ["email"]
    list_select_related = ["revision__report"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- The beat schedule, audited ---------------------------------------------------------


class ScheduleForm(PeriodicTaskForm):
    change_reason = forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Recorded in the history with your name. Required.",
    )


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class AuditedPeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    """django-celery-beat's page for periodic tasks, asking why.

    The change, its author and its reason go to the admin's log (the object's History
    page). Not to simple-history: beat writes each task's run counters into the same
    row on every run, which would bury the edits among thousands of rows.
    """

    form = ScheduleForm

    def get_fieldsets(self, request, obj=None):
        return [*super().get_fieldsets(request, obj), ("Audit", {"fields": ["change_reason"]})]

    def construct_change_message(self, request, form, formsets, add=False):
        fields = ", ".join(f for f in form.changed_data if f != "change_reason") or "nothing"
        what = "Added" if add else f"Changed {fields}"
        return f"{what}. Reason: {form.cleaned_data['change_reason']}"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # disable a task instead: its log stays
