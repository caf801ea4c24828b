"""Datasets in the admin: the list, each dataset's report and progress, the upload form, prices, policy, overrides,
and golden sets (their versions, per-intent counts and the upload of a new version).

Every write goes through datasets.services: the upload forms call the same `dataset_upload` and
`golden_version_upload` as the API; prices, policy versions and overrides ask for a reason (or a
justification) and are refused to anyone but Compliance by the service as well as by the permissions.
Golden items are never added, changed or deleted here: a version is its file's bytes.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_audit import AuditedAdmin, ReadOnlyAdmin, ReasonForm
from core.errors import ApplicationError
from core.roles import ADMIN_READERS, Role, has_role
from core.wording import plural
from datasets import selectors, services
from datasets.checks import default_policy
from datasets.models import (
    OPEN_CHECK_STATUSES,
    CheckPolicy,
    Dataset,
    DatasetCheck,
    DatasetKind,
    DatasetOverride,
    GoldenItem,
    GoldenSet,
    PriceRow,
)


class DatasetUploadForm(forms.Form):
    file = forms.FileField(help_text="A JSONL file; it is hashed as it is stored.")
    kind = forms.ChoiceField(choices=DatasetKind.choices)
    base_model = forms.CharField(max_length=200, help_text="e.g. gpt-4.1-mini-2025-04-14")
    golden = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: SHA-256 of golden datasets to check leakage against, one per line.",
    )


class DatasetOverrideForm(forms.Form):
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


def _progress_bar(status: str | None, progress: int | None):
    if status is None:
        return "-"
    value = progress or 0
    colour = {"failed": "#c62828", "done": "#2e7d32"}.get(status, "#1565c0")
    return format_html(
        '<div title="{}" style="width:80px;background:#eee;border-radius:3px">'
        '<div style="width:{}%;background:{};color:#fff;padding:0 4px;border-radius:3px;white-space:nowrap">'
        "{}</div></div>",
        status,
        value,
        colour,
        status if status in ("done", "failed") else f"{status} {value}%",
    )


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    # What fits at 1280 px beside the filters; size and uploader are on the page.
    list_display = ["short_sha", "kind", "base_model", "uploaded", "state", "blocking"]
    list_filter = ["kind", "base_model"]
    search_fields = ["sha256"]
    change_form_template = "admin/datasets/dataset/change_form.html"
    change_list_template = "admin/datasets/dataset/change_list.html"
    readonly_fields = [
        "sha256",
        "kind",
        "base_model",
        "size_bytes",
        "uploaded_by",
        "uploaded_at",
        "file_path",
        "blocking",
        "warnings",
        "checked_at",
        "policy_version",
    ]
    exclude = ["report", "fingerprint"]

    def get_queryset(self, request):
        return selectors.dataset_list()

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a dataset is its bytes: nothing to edit

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="SHA-256")
    def short_sha(self, obj) -> str:
        return obj.sha256[:12] + "…"

    @admin.display(description="Uploaded", ordering="uploaded_at")
    def uploaded(self, obj) -> str:
        return f"{timezone.localtime(obj.uploaded_at):%Y-%m-%d %H:%M}"

    @admin.display(description="Check")
    def state(self, obj):
        return _progress_bar(getattr(obj, "check_status", None), getattr(obj, "check_progress", None))

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="datasets_dataset_upload"),
            path(
                "<path:object_id>/override/",
                self.admin_site.admin_view(self.override_view),
                name="datasets_dataset_override",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:datasets_dataset_upload"))

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DatasetUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            goldens = [line.strip() for line in form.cleaned_data["golden"].split() if line.strip()]
            try:
                result = services.dataset_upload(
                    upload=form.cleaned_data["file"],
                    kind=form.cleaned_data["kind"],
                    base_model=form.cleaned_data["base_model"],
                    goldens=goldens,
                    actor=request.user,
                )
            except ApplicationError as exc:
                for field, reasons in exc.fields.items():
                    form.add_error(field if field in form.fields else None, " ".join(reasons))
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                word = "queued its check" if result.check else "is a dataset already"
                self.message_user(request, f"Uploaded: {result.dataset.sha256} {word}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:datasets_dataset_change", args=[result.dataset.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a dataset",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/datasets/dataset/upload.html", context)

    def override_view(self, request, object_id):
        dataset = get_object_or_404(Dataset, pk=object_id)
        if not (has_role(request.user, Role.COMPLIANCE) and request.user.has_perm("datasets.add_datasetoverride")):
            raise PermissionDenied
        form = DatasetOverrideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.dataset_override_create(
                    dataset=dataset, justification=form.cleaned_data["justification"], actor=request.user
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, "Override recorded.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:datasets_dataset_change", args=[dataset.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Override the blocking findings of {dataset}",
            "form": form,
            "dataset": dataset,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/datasets/dataset/override.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset = get_object_or_404(selectors.dataset_list(), pk=object_id)
        report = dataset.report or {}
        findings = report.get("findings") or []
        extra = {
            "dataset": dataset,
            "report": report,
            "findings": findings[:500],
            "findings_truncated": max(0, len(findings) - 500),
            "summary": _summary(report),
            "check_bar": _progress_bar(dataset.check_status, dataset.check_progress),
            "running": getattr(dataset, "check_status", None) in OPEN_CHECK_STATUSES,
            "overrides": dataset.overrides.select_related("created_by").order_by("-created_at"),
            "can_override": has_role(request.user, Role.COMPLIANCE)
            and request.user.has_perm("datasets.add_datasetoverride"),
            "latest_check": selectors.dataset_latest_check(dataset=dataset),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


def _summary(report: dict) -> list[tuple[str, str]]:
    """The report's headline figures as (label, value) rows, for the dataset page."""
    if not report:
        return []
    tokens = report.get("tokens") or {}
    cost = report.get("cost") or {}
    leakage = report.get("leakage") or {}
    rows = [
        ("Examples", report.get("examples")),
        ("Blocking findings", report.get("blocking")),
        ("Warnings", report.get("warnings")),
        ("Tokens (total)", tokens.get("total")),
        ("Tokens per example (p50 / p95 / max)", f"{tokens.get('p50')} / {tokens.get('p95')} / {tokens.get('max')}"),
        ("Epochs (default)", cost.get("epochs")),
        ("Billed tokens", cost.get("billed_tokens")),
        ("Estimated cost (USD)", cost.get("usd")),
        ("Golden prompts leaked (exact / near)", f"{leakage.get('exact')} / {leakage.get('near')}"),
    ]
    return [(label, "-" if value in (None, "None / None", "None / None / None") else value) for label, value in rows]


@admin.register(DatasetCheck)
class DatasetCheckAdmin(ReadOnlyAdmin):
    list_display = ["dataset", "status", "progress", "requested_by", "created_at", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["dataset", "requested_by"]


@admin.register(PriceRow)
class PriceRowAdmin(AuditedAdmin):
    """Compliance adds and corrects prices, each with a reason kept in the row's history."""

    list_display = ["provider", "base_model", "usd_per_million_training_tokens", "effective_from", "source"]
    list_filter = ["provider", "base_model"]

    def save_model(self, request, obj, form, change):
        services.price_row_save(row=obj, actor=request.user, reason=form.cleaned_data["change_reason"])


class CheckPolicyForm(ReasonForm):
    class Meta:
        model = CheckPolicy
        fields = ["rules"]


@admin.register(CheckPolicy)
class CheckPolicyAdmin(AuditedAdmin):
    """Versions of the check policy: a change is a new version (add), never an edit."""

    form = CheckPolicyForm
    list_display = ["version", "created_by", "created_at", "reason"]
    readonly_fields = ["version", "created_by", "created_at", "reason"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request):
        return {"rules": {k: v for k, v in selectors.policy_in_force().items() if k != "version"} or default_policy()}

    def save_model(self, request, obj, form, change):
        created = services.check_policy_create(
            rules=form.cleaned_data["rules"], reason=form.cleaned_data["change_reason"], actor=request.user
        )
        obj.pk = created.pk
        obj.version = created.version

    def get_fields(self, request, obj=None):
        return ["rules", "change_reason"] if obj is None else ["version", "rules", "reason", "created_by"]


@admin.register(DatasetOverride)
class DatasetOverrideAdmin(AuditedAdmin):
    """Overrides are created from a dataset's page (with a justification); listed here, never edited."""

    list_display = ["dataset", "created_by", "created_at", "blocking_at_override", "justification"]
    list_select_related = ["dataset", "created_by"]
    readonly_fields = ["dataset", "justification", "blocking_at_override", "report_checked_at", "created_by"]

    def has_add_permission(self, request) -> bool:
        return False  # from the dataset's page, where the findings are in view

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def overrides_html(dataset: Dataset):
    """The overrides of a dataset as an HTML list (for pages that show them beside other records)."""
    rows = dataset.overrides.select_related("created_by").order_by("-created_at")
    return format_html_join("", "<li>{} — {}: {}</li>", ((r.created_at, r.created_by, r.justification) for r in rows))


# --- Golden sets ----------------------------------------------------------------------


def _golden_uploader(user) -> bool:
    return has_role(user, *services.UPLOADERS)


class GoldenUploadForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="An existing golden set gets its next version; a new name starts a golden set."
    )
    file = forms.FileField(
        help_text="JSONL, one item a line: id, intents, messages (or prompt), an optional reference answer."
    )
    description = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional, for a new golden set: what it measures (edit it later on the golden set's page).",
    )

    def __init__(self, *args, golden_set: GoldenSet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if golden_set is not None:  # a version of this set: its name is not typed again
            del self.fields["name"]
            del self.fields["description"]


def golden_upload_errors(form: forms.Form, exc: ApplicationError) -> None:
    """The service's refusal beside the field it concerns (every bad line under the file), nothing else lost."""
    for field, reasons in exc.fields.items():
        form.add_error(field if field in form.fields else None, DjangoValidationError(list(reasons)))
    if not exc.fields:
        form.add_error("file", exc.message)


def golden_upload_message(result: services.GoldenVersionResult) -> str:
    dataset = result.dataset
    name, number, intents = dataset.golden_set.name, dataset.golden_version, len(dataset.intent_counts or {})
    counts = f"{plural(dataset.item_count, 'item')} in {plural(intents, 'intent')}"
    if not result.created:
        return f"Nothing new: these bytes already are version {number} of {name} ({counts})."
    return f"Version {number} of {name}: {counts}."


class GoldenSetForm(ReasonForm):
    class Meta:
        model = GoldenSet
        fields = ["description"]


@admin.register(GoldenSet)
class GoldenSetAdmin(AuditedAdmin):
    """Golden sets and their versions; a version is uploaded (never typed), its items never edited."""

    form = GoldenSetForm
    list_display = ["name", "versions", "latest_items", "latest_intents", "created"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "created_by", "created_at"]
    fieldsets = [(None, {"fields": ["name", "description", "created_by", "created_at"]})]
    change_form_template = "admin/datasets/goldenset/change_form.html"
    change_list_template = "admin/datasets/goldenset/change_list.html"

    def get_queryset(self, request):
        latest = Dataset.objects.filter(golden_set=OuterRef("pk")).order_by("-golden_version")
        return (
            super()
            .get_queryset(request)
            .annotate(
                version_count=Count("versions"),
                latest_version=Subquery(latest.values("golden_version")[:1]),
                latest_item_count=Subquery(latest.values("item_count")[:1]),
                latest_intent_counts=Subquery(latest.values("intent_counts")[:1]),
            )
        )

    # Every role reads golden sets; engineers and Compliance (who upload them) edit the description.
    def has_module_permission(self, request) -> bool:
        return super().has_module_permission(request) or has_role(request.user, *ADMIN_READERS)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or has_role(request.user, *ADMIN_READERS)

    def has_add_permission(self, request) -> bool:
        return False  # a golden set starts with its first version's upload

    def has_change_permission(self, request, obj=None) -> bool:
        return _golden_uploader(request.user)

    @admin.display(description="Versions", ordering="version_count")
    def versions(self, obj) -> str:
        return f"{obj.version_count} (latest v{obj.latest_version})" if obj.version_count else "0"

    @admin.display(description="Items (latest)", ordering="latest_item_count")
    def latest_items(self, obj) -> str:
        return "-" if obj.latest_item_count is None else f"{obj.latest_item_count:,}"

    @admin.display(description="Intents (latest)")
    def latest_intents(self, obj) -> str:
        counts = obj.latest_intent_counts or {}
        shown = ", ".join(sorted(counts)[:4])
        return f"{len(counts)}: {shown}{', …' if len(counts) > 4 else ''}" if counts else "-"

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj) -> str:
        return f"{timezone.localtime(obj.created_at):%Y-%m-%d}"

    def save_model(self, request, obj, form, change):
        if not _golden_uploader(request.user):
            raise PermissionDenied
        services.golden_set_update(
            golden_set=obj,
            description=form.cleaned_data["description"],
            actor=request.user,
            reason=form.cleaned_data["change_reason"],
        )

    def get_urls(self):
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="datasets_goldenset_upload"),
            path(
                "<path:object_id>/upload/",
                self.admin_site.admin_view(self.upload_view),
                name="datasets_goldenset_upload_version",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request, object_id=None):
        golden_set = get_object_or_404(GoldenSet, pk=object_id) if object_id is not None else None
        if not _golden_uploader(request.user):
            raise PermissionDenied
        form = GoldenUploadForm(request.POST or None, request.FILES or None, golden_set=golden_set)
        if request.method == "POST" and form.is_valid():
            try:
                result = services.golden_version_upload(
                    name=golden_set.name if golden_set else form.cleaned_data["name"],
                    upload=form.cleaned_data["file"],
                    description=form.cleaned_data.get("description", ""),
                    actor=request.user,
                )
            except ApplicationError as exc:
                golden_upload_errors(form, exc)
            else:
                level = messages.SUCCESS if result.created else messages.WARNING
                self.message_user(request, golden_upload_message(result), level)
                return HttpResponseRedirect(
                    reverse("admin:datasets_goldenset_change", args=[result.dataset.golden_set_id])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Upload a version of {golden_set.name}" if golden_set else "Upload a golden set",
            "form": form,
            "golden_set": golden_set,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/datasets/goldenset/upload.html", context)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "can_upload": _golden_uploader(request.user)})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        golden_set = get_object_or_404(GoldenSet, pk=object_id)
        extra = {
            "golden_set": golden_set,
            "golden_versions": golden_versions(golden_set),
            "can_upload": _golden_uploader(request.user),
            "upload_form": GoldenUploadForm(golden_set=golden_set),
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


def golden_versions(golden_set: GoldenSet) -> list[dict]:
    """The set's versions, newest first, as the golden set's page shows them (one query)."""
    rows = selectors.dataset_list().filter(golden_set=golden_set).order_by("-golden_version")
    return [
        {
            "dataset": row,
            "intents": sorted((row.intent_counts or {}).items()),
            "check": _progress_bar(row.check_status, row.check_progress),
            "uploaded_at": timezone.localtime(row.uploaded_at),
        }
        for row in rows
    ]


@admin.register(GoldenItem)
class GoldenItemAdmin(ReadOnlyAdmin):
    """The items of golden set versions, as uploaded: read, never added, changed or deleted."""

    list_display = ["item_id", "version", "intent_list", "prompt", "position"]
    list_filter = ["dataset__golden_set"]
    search_fields = ["item_id", "intent_tags"]
    list_select_related = ["dataset__golden_set"]
    exclude = ["intent_tags"]

    def has_module_permission(self, request) -> bool:
        return super().has_module_permission(request) or has_role(request.user, *ADMIN_READERS)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or has_role(request.user, *ADMIN_READERS)

    @admin.display(description="Golden set version", ordering="dataset")
    def version(self, obj) -> str:
        return f"{obj.dataset.golden_set.name} v{obj.dataset.golden_version}"

    @admin.display(description="Intents")
    def intent_list(self, obj) -> str:
        return ", ".join(obj.intents)

    @admin.display(description="Prompt")
    def prompt(self, obj) -> str:
        if obj.messages is None:
            return f"not kept (hash {obj.prompt_hash[:12]}…)"
        text = " / ".join(m["content"] for m in obj.messages if m.get("role") == "user")
        return text if len(text) <= 120 else text[:119] + "…"
