"""The audit chain in the admin: checkpoints and the verifier's runs (docs/audit.md)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from core.admin_audit import ReadOnlyAdmin
from core.badges import BAD, GOOD, badge
from core.checkpoints import checkpoint_make
from core.errors import ApplicationError
from core.models import AuditCheckpoint, AuditVerification


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    """Checkpoints as written, never edited; Compliance (add permission) may make one now."""

    list_display = ["seq", "made_at", "key_id", "rows", "location", "made_by"]
    list_select_related = ["made_by"]
    search_fields = ["location", "row_hash"]
    change_list_template = "admin/core/auditcheckpoint/change_list.html"
    fields = ["seq", "row_hash", "key_id", "rows", "made_at", "signature", "location", "made_by"]

    def can_make(self, request) -> bool:
        # ReadOnlyAdmin refuses "add" for the add form; making a checkpoint is the add permission.
        return super(ReadOnlyAdmin, self).has_add_permission(request)

    def get_urls(self):
        return [
            path("make/", self.admin_site.admin_view(self.make_view), name="core_auditcheckpoint_make"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "can_make": self.can_make(request)})

    def make_view(self, request):
        if not self.can_make(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            checkpoint = checkpoint_make(actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, f"No checkpoint recorded. {exc.message}", messages.ERROR)
        else:
            self.message_user(
                request, f"Checkpoint at link {checkpoint.seq} written to {checkpoint.location}.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:core_auditcheckpoint_changelist"))


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAdmin):
    """What each run of the verifier walked and what it found, as it recorded it."""

    list_display = ["started_at", "scope", "rows_checked", "result", "short_problem", "incident_reference"]
    list_filter = ["ok", "scope", "started_at"]
    list_select_related = ["since"]
    fields = [
        "scope",
        "since",
        "started_at",
        "finished_at",
        "rows_checked",
        "last_seq",
        "ok",
        "problem",
        "break_table",
        "break_row_id",
        "break_object_id",
        "break_seq",
        "expected_hash",
        "found_hash",
        "incident_reference",
    ]

    @admin.display(description="Result", ordering="ok")
    def result(self, run: AuditVerification):
        return badge("Passed", GOOD) if run.ok else badge("Failed", BAD)

    @admin.display(description="Problem")
    def short_problem(self, run: AuditVerification) -> str:
        # The whole text (with both hashes) is on the run's page; the list keeps to the first words.
        return run.summary if len(run.summary) <= 120 else run.summary[:119] + "…"
