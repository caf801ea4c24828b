"""The risk register in the admin, for compliance staff: every save and decision goes through a service."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from core.admin_audit import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline, reason_action
from core.badges import badge
from core.errors import ApplicationError
from core.history import history_entries
from core.wording import plural
from risks import controls, incidents, selectors, services
from risks.models import (
    Acceptance,
    AcceptanceStatus,
    Control,
    DocumentEvidence,
    Incident,
    IncidentExample,
    IncidentStatus,
    MetricCheck,
    MetricCheckResult,
    Outcome,
    Risk,
    RiskStatus,
    RunwayNotice,
    RunwayRisk,
    TreatmentAction,
    Verdict,
)
from risks.models.risk import ACTION_FINISHED
from risks.scoring import SCALE, Band, Impact, Likelihood, matrix
from risks.services import EDITABLE_STATUSES
from risks.tasks import metric_checks_evaluate

BAND_COLOURS = {Band.LOW: "#2e7d32", Band.MEDIUM: "#f9a825", Band.HIGH: "#ef6c00", Band.CRITICAL: "#c62828"}

# Badges (core.badges) say what a status means for the reader, not whether a flag is set: a breach or an
# overdue review is bad news (red), a deadline coming up a warning (amber), a control holding good (green);
# "nothing to see" stays grey.
SOON_DAYS = 30  # an acceptance or a reporting clock within this many days is flagged


def short_date(value) -> str:
    """'1 Aug 2026': a list column stays narrow; the page shows the time."""
    if value is None:
        return "-"
    if hasattr(value, "hour"):
        value = timezone.localtime(value)
    return date_format(value, "j M Y")


def days_word(days: int) -> str:
    return plural(abs(days), "day")


class ReasonFirstMixin:
    """The reason is the first thing on the form, so its error shows right under "Please correct the error below"
    rather than a page's length away at the bottom."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        reason = [fs for fs in fieldsets if "change_reason" in fs[1]["fields"]]
        rest = [fs for fs in fieldsets if "change_reason" not in fs[1]["fields"]]
        return [(None, {**opts, "classes": ["fp-reason"]}) for _, opts in reason] + rest


def band_badge(band: str, score: int | None = None):
    label = Band(band).label + (f" ({score})" if score is not None else "")
    return format_html(
        '<span style="background:{};color:#fff;padding:1px 6px;border-radius:3px">{}</span>', BAND_COLOURS[band], label
    )


def _apply_each(modeladmin, request, objects, call, done: str):
    for obj in objects:
        try:
            call(obj)
            modeladmin.message_user(request, f"{obj}: {done}.", messages.SUCCESS)
        except ApplicationError as exc:
            details = " ".join(" ".join(v) for v in exc.fields.values())
            modeladmin.message_user(request, f"{obj}: {exc.message} {details}".strip(), messages.ERROR)


class OverdueReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.overdue_q())
        if self.value() == "no":
            return queryset.exclude(selectors.overdue_q())
        return queryset


class OverAppetiteFilter(admin.SimpleListFilter):
    title = "appetite"
    parameter_name = "over_appetite"

    def lookups(self, request, model_admin):
        return [("yes", "Over appetite"), ("no", "Within appetite")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.over_appetite_q())
        if self.value() == "no":
            return queryset.exclude(selectors.over_appetite_q())
        return queryset


class RiskForm(forms.ModelForm):
    change_reason = forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="Recorded in the history with your name. Required.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            current = self.instance.status if self.instance.pk else None
            allowed = [s for s in RiskStatus if s in EDITABLE_STATUSES or s == current]
            self.fields["status"].choices = [(s.value, s.label) for s in allowed]
            self.fields["status"].help_text = "Accept, close and reopen with the list's actions: they ask for a reason."

    def clean_status(self):
        status = self.cleaned_data["status"]
        current = self.instance.status if self.instance.pk else None
        if status != current and current in (RiskStatus.ACCEPTED, RiskStatus.CLOSED):
            raise forms.ValidationError("Reopen the risk first (list action 'Reopen').")
        return status


class ActionInline(ReadOnlyInline):
    model = TreatmentAction
    fields = ["action", "owner", "due", "status", "completed_at"]
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = "Treatment actions"

    @admin.display(description="Due")
    def due(self, obj):
        return action_due(obj)


def action_due(action: TreatmentAction):
    """The due date, and whether it has passed for an unfinished action."""
    if action.status in ACTION_FINISHED:
        return short_date(action.due_on)
    days = (action.due_on - timezone.localdate()).days
    if days < 0:
        return format_html("{} {}", short_date(action.due_on), badge(f"overdue {days_word(days)}", "bad"))
    return format_html("{} {}", short_date(action.due_on), badge("due today", "warn") if days == 0 else "")


class AcceptanceInline(ReadOnlyInline):
    model = Acceptance
    fields = [
        "accepted_by",
        "authority",
        "rationale",
        "conditions",
        "accepted_at",
        "expires_at",
        "residual_band",
        "status",
    ]
    readonly_fields = fields


class AcceptForm(forms.Form):
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    conditions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, required=False)
    expires_at = forms.DateTimeField(help_text="Required; at most a year ahead. e.g. 2027-03-31 18:00")


class ReviewForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False, label="Notes")


@admin.register(Risk)
class RiskAdmin(ReasonFirstMixin, AuditedAdmin):
    form = RiskForm
    change_list_template = "admin/risks/risk/change_list.html"
    # These fit 1280 px beside the navigation: the category and the owner are filters, the inherent score is on
    # the risk's page (the residual is what is lived with), the dates are short, the title wraps.
    list_display = [
        "reference",
        "title",
        "residual",
        "status",
        "next_review",
        "review_overdue",
        "breached_state",
    ]
    # One sort field (highest residual first): two would number both headers and widen them.
    ordering = ["-residual_score"]
    list_filter = [
        "residual_band",
        "inherent_band",
        "category",
        "status",
        OverdueReviewFilter,
        OverAppetiteFilter,
        "breached",
        "owner",
        "registered_models",
        "treatment",
    ]
    search_fields = ["reference", "title", "statement", "mitigation"]
    list_select_related = ["owner"]
    filter_horizontal = ["registered_models", "model_versions"]
    inlines = [ActionInline, AcceptanceInline]
    actions = ["mark_reviewed", "accept", "close", "reopen"]
    fieldsets = [
        (None, {"fields": ["reference", "title", "statement", "category", "registered_models", "model_versions"]}),
        ("People", {"fields": ["owner", "delegate"]}),
        (
            "Scores",
            {
                "fields": [
                    ("inherent_likelihood", "inherent_impact"),
                    ("residual_likelihood", "residual_impact"),
                    "scores_side_by_side",
                ]
            },
        ),
        ("Treatment", {"fields": ["treatment", "mitigation", "status"]}),
        (
            "Review",
            {"fields": ["last_reviewed_at", "next_review_at", "review_overdue", "breached_state", "breached_since"]},
        ),
        ("Controls and their latest evidence", {"fields": ["controls_evidence"]}),
        ("Incidents", {"fields": ["incident_list"]}),
        ("Recent history", {"fields": ["recent_history"]}),
    ]
    readonly_fields = [
        "reference",
        "scores_side_by_side",
        "last_reviewed_at",
        "next_review_at",
        "review_overdue",
        "breached_state",
        "breached_since",
        "controls_evidence",
        "incident_list",
        "recent_history",
    ]

    # --- display ---

    @admin.display(description="Inherent", ordering="inherent_score")
    def inherent(self, obj):
        return band_badge(obj.inherent_band, obj.inherent_score)

    @admin.display(description="Residual", ordering="residual_score")
    def residual(self, obj):
        return band_badge(obj.residual_band, obj.residual_score)

    @admin.display(description="Next review", ordering="next_review_at")
    def next_review(self, obj) -> str:
        return short_date(obj.next_review_at)

    @admin.display(description="Review overdue")
    def review_overdue(self, obj):
        if not obj.pk or obj.status == RiskStatus.CLOSED:
            return "-"
        return badge("Overdue", "bad") if obj.overdue else badge("On time", "neutral")

    @admin.display(description="Breached", ordering="breached")
    def breached_state(self, obj):
        """A control of this risk is breached: bad news in red; none breached is the quiet state."""
        if not obj.pk:
            return "-"
        return badge("Breached", "bad") if obj.breached else badge("No", "neutral")

    @admin.display(description="Inherent and residual")
    def scores_side_by_side(self, obj):
        if not obj.pk:
            return "Computed when saved."
        return format_html(
            "<table><tr><th></th><th>Likelihood</th><th>Impact</th><th>Score</th><th>Band</th></tr>"
            "<tr><th>Inherent (before controls)</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
            "<tr><th>Residual (after controls)</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>"
            "<p>Scored with matrix {}; {}.</p>",
            Likelihood(obj.inherent_likelihood).label,
            Impact(obj.inherent_impact).label,
            obj.inherent_score,
            band_badge(obj.inherent_band),
            Likelihood(obj.residual_likelihood).label,
            Impact(obj.residual_impact).label,
            obj.residual_score,
            band_badge(obj.residual_band),
            obj.matrix_version,
            "over appetite: needs a decision" if obj.over_appetite else "within appetite",
        )

    @admin.display(description="Controls")
    def controls_evidence(self, obj):
        if not obj.pk:
            return "-"
        controls_ = list(selectors.control_queryset().filter(risks=obj))
        selectors.attach_latest_results(controls_)
        if not controls_:
            return "No control yet."
        rows = []
        for control in controls_:
            findings = [
                f"{check.metric} on {result.model.name}: {result.outcome.upper()} ({result.detail})"
                for check in control.metric_checks.all()
                for result in check.latest
            ] + [
                f"{doc.title}: {doc.get_verdict_display()} ({doc.period_start} to {doc.period_end})"
                for doc in control.documents.all()
            ]
            rows.append(
                (
                    reverse("admin:risks_control_change", args=[control.pk]),
                    control.reference,
                    control.name,
                    badge("Breached", "bad") if control.breached else badge("Holding", "good"),
                    "; ".join(findings) or "no evidence yet",
                )
            )
        return format_html(
            "<table><tr><th>Control</th><th>Name</th><th>State</th><th>Latest evidence</th></tr>{}</table>",
            format_html_join("", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>', rows),
        )

    @admin.display(description="Incidents")
    def incident_list(self, obj):
        if not obj.pk:
            return "-"
        rows = [
            (reverse("admin:risks_incident_change", args=[i.pk]), i.reference, i.title, i.get_status_display())
            for i in obj.incidents.all()
        ]
        if not rows:
            return "None."
        return format_html("<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a> {} ({})</li>', rows))

    @admin.display(description="Latest changes (all: History, top right)")
    def recent_history(self, obj):
        if not obj.pk:
            return "-"
        entries = history_entries(obj.history.all())[-10:]
        rows = [
            (
                timezone.localtime(e["at"]).strftime("%Y-%m-%d %H:%M"),
                e["user"] or "-",
                e["source"],
                e["reason"] or "-",
                ", ".join(c["field"] for c in e["changes"]) or "-",
            )
            for e in reversed(entries)
        ]
        return format_html(
            "<table><tr><th>When</th><th>Who</th><th>From</th><th>Why</th><th>Fields</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    # --- saving through the services ---

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["change_reason"]
        data = {f: form.cleaned_data[f] for f in form.changed_data if f != "change_reason"}
        if change:
            saved = services.risk_update(risk=obj, actor=request.user, data=data, reason=reason)
        else:
            fields = {f: form.cleaned_data[f] for f in form.fields if f in services.RISK_EDITABLE_FIELDS}
            saved = services.risk_create(actor=request.user, reason=reason, **fields)
        obj.pk = saved.pk
        obj.reference = saved.reference

    def save_related(self, request, form, formsets, change):
        # The relations were saved by the service with the reason; inlines are read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # --- actions ---

    @admin.action(description="Mark reviewed (sets the next review date)", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        def apply(risks, data):
            def call(risk):
                services.risk_review(risk=risk, actor=request.user, reason=data["reason"])

            _apply_each(self, request, risks, call, "reviewed")

        return reason_action(
            request, queryset, title="Mark reviewed", apply=apply, action_name="mark_reviewed", form_class=ReviewForm
        )

    @admin.action(description="Accept (record an acceptance)", permissions=["change"])
    def accept(self, request, queryset):
        def apply(risks, data):
            def call(risk):
                services.risk_accept(
                    risk=risk,
                    actor=request.user,
                    rationale=data["rationale"],
                    conditions=data["conditions"],
                    expires_at=data["expires_at"],
                )

            _apply_each(self, request, risks, call, "accepted")

        return reason_action(
            request, queryset, title="Accept risks", apply=apply, action_name="accept", form_class=AcceptForm
        )

    @admin.action(description="Close", permissions=["change"])
    def close(self, request, queryset):
        def apply(risks, data):
            _apply_each(
                self,
                request,
                risks,
                lambda r: services.risk_close(risk=r, actor=request.user, reason=data["reason"]),
                "closed",
            )

        return reason_action(request, queryset, title="Close risks", apply=apply, action_name="close")

    @admin.action(description="Reopen", permissions=["change"])
    def reopen(self, request, queryset):
        def apply(risks, data):
            _apply_each(
                self,
                request,
                risks,
                lambda r: services.risk_reopen(risk=r, actor=request.user, reason=data["reason"]),
                "reopened",
            )

        return reason_action(request, queryset, title="Reopen risks", apply=apply, action_name="reopen")

    # --- the heat map page ---

    def get_urls(self):
        return [
            path("heatmap/", self.admin_site.admin_view(self.heatmap_view), name="risks_risk_heatmap"),
            *super().get_urls(),
        ]

    def heatmap_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        maps = selectors.heatmap()
        changelist = reverse("admin:risks_risk_changelist")
        open_statuses = ",".join(s for s in RiskStatus.values if s != RiskStatus.CLOSED)
        grids = []
        for kind, title in (("inherent", "Inherent (before controls)"), ("residual", "Residual (after controls)")):
            rows = []
            for likelihood in reversed(SCALE):
                cells = []
                for impact in SCALE:
                    band = matrix().band(likelihood, impact)
                    count = maps[kind][likelihood - 1][impact - 1]
                    link = (
                        f"{changelist}?{kind}_likelihood={likelihood}&{kind}_impact={impact}&status__in={open_statuses}"
                    )
                    cells.append({"count": count, "colour": BAND_COLOURS[band], "link": link, "band": Band(band).label})
                rows.append({"likelihood": Likelihood(likelihood).label, "cells": cells})
            grids.append({"title": title, "rows": rows})
        context = {
            **self.admin_site.each_context(request),
            "title": "Risk heat map",
            "opts": self.model._meta,
            "grids": grids,
            "impacts": [Impact(i).label for i in SCALE],
            "total": sum(map(sum, maps["residual"])),
        }
        return TemplateResponse(request, "admin/risks/heatmap.html", context)


@admin.register(TreatmentAction)
class TreatmentActionAdmin(ReasonFirstMixin, AuditedAdmin):
    change_list_template = "admin/risks/change_list.html"
    list_display = ["risk_reference", "action", "owner", "due", "status"]
    list_filter = ["status", "owner", "due_on"]
    search_fields = ["risk__reference", "action"]
    list_select_related = ["risk", "owner"]
    fields = ["risk", "action", "owner", "due_on", "status", "completed_at"]
    readonly_fields = ["completed_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["risk", "completed_at"] if obj else ["completed_at"]

    @admin.display(description="Risk", ordering="risk__reference")
    def risk_reference(self, obj) -> str:
        return obj.risk.reference

    @admin.display(description="Due", ordering="due_on")
    def due(self, obj):
        return action_due(obj)

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["change_reason"]
        if change:
            data = {f: form.cleaned_data[f] for f in form.changed_data if f != "change_reason"}
            saved = services.action_update(item=obj, actor=request.user, data=data, reason=reason)
        else:
            saved = services.action_create(
                risk=form.cleaned_data["risk"],
                actor=request.user,
                action=form.cleaned_data["action"],
                owner=form.cleaned_data["owner"],
                due_on=form.cleaned_data["due_on"],
                reason=reason,
            )
        obj.pk = saved.pk


@admin.register(Acceptance)
class AcceptanceAdmin(AuditedAdmin):
    """Acceptances are decisions recorded by the 'Accept' action on risks; shown here, never edited."""

    change_list_template = "admin/risks/change_list.html"

    list_display = ["risk_reference", "accepted_by", "authority", "accepted", "expires", "residual", "status"]
    list_filter = ["status", "residual_band", "expires_at"]
    search_fields = ["risk__reference", "rationale"]
    list_select_related = ["risk", "accepted_by"]

    @admin.display(description="Risk", ordering="risk__reference")
    def risk_reference(self, obj) -> str:
        return obj.risk.reference

    @admin.display(description="Accepted", ordering="accepted_at")
    def accepted(self, obj) -> str:
        return short_date(obj.accepted_at)

    @admin.display(description="Expires", ordering="expires_at")
    def expires(self, obj):
        """An active acceptance running out soon needs a new decision: amber within 30 days, red once past."""
        if obj.status != AcceptanceStatus.ACTIVE:
            return short_date(obj.expires_at)
        days = (timezone.localdate(obj.expires_at) - timezone.localdate()).days
        if days < 0:
            return format_html("{} {}", short_date(obj.expires_at), badge("expired", "bad"))
        if days <= SOON_DAYS:
            return format_html("{} {}", short_date(obj.expires_at), badge(f"in {days_word(days)}", "warn"))
        return short_date(obj.expires_at)

    @admin.display(description="Residual", ordering="residual_band")
    def residual(self, obj):
        return band_badge(obj.residual_band)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DocumentInline(ReadOnlyInline):
    model = DocumentEvidence
    fields = ["title", "url", "file", "sha256", "period_start", "period_end", "reviewer", "verdict", "reviewed_at"]
    readonly_fields = fields
    verbose_name_plural = "Document evidence"


class MetricCheckInline(ReadOnlyInline):
    model = MetricCheck
    fields = ["metric", "minimum", "maximum", "suite", "latest_results"]
    readonly_fields = fields
    verbose_name_plural = "Metric checks (live evidence)"

    @admin.display(description="Latest result per watched model")
    def latest_results(self, obj):
        latest = controls.latest_results([obj])
        rows = [
            (model.name, latest[(obj.pk, model.pk)].outcome.upper(), latest[(obj.pk, model.pk)].detail)
            if (obj.pk, model.pk) in latest
            else (model.name, "NOT YET CHECKED", "")
            for model in obj.watched_models.all()
        ]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: <strong>{}</strong> {}</li>", rows))


@admin.register(Control)
class ControlAdmin(ReasonFirstMixin, AuditedAdmin):
    change_list_template = "admin/risks/change_list.html"
    list_display = ["reference", "name", "owner", "state", "since"]
    list_filter = ["breached", "owner", "risks__residual_band"]
    search_fields = ["reference", "name", "description", "risks__reference"]
    list_select_related = ["owner"]
    filter_horizontal = ["risks"]
    inlines = [MetricCheckInline, DocumentInline]
    actions = ["evaluate_now"]
    fields = ["reference", "name", "description", "owner", "risks", "state", "breached_since", "breach_detail"]
    readonly_fields = ["reference", "state", "breached_since", "breach_detail"]

    @admin.display(description="State", ordering="breached")
    def state(self, obj):
        if not obj.pk:
            return "-"
        return badge("Breached", "bad") if obj.breached else badge("Holding", "good")

    @admin.display(description="Breached since", ordering="breached_since")
    def since(self, obj) -> str:
        return short_date(obj.breached_since) if obj.breached else "-"

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["change_reason"]
        data = {f: form.cleaned_data[f] for f in form.changed_data if f != "change_reason"}
        if change:
            saved = controls.control_update(control=obj, actor=request.user, data=data, reason=reason)
        else:
            saved = controls.control_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                owner=form.cleaned_data.get("owner"),
                risks=form.cleaned_data.get("risks") or [],
                reason=reason,
            )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Evaluate metric checks now", permissions=["view"])
    def evaluate_now(self, request, queryset):
        metric_checks_evaluate.delay_on_commit(on_behalf_of_id=request.user.pk)
        self.message_user(request, "Queued an evaluation of every metric check; refresh in a few seconds.")


class _AddOnlyAdmin(ReasonFirstMixin, AuditedAdmin):
    """Evidence is recorded once and never edited: a correction is a new record."""

    change_list_template = "admin/risks/change_list.html"

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)


@admin.register(DocumentEvidence)
class DocumentEvidenceAdmin(_AddOnlyAdmin):
    list_display = ["title", "control", "verdict_word", "period", "reviewer"]
    list_filter = ["verdict", "control"]
    search_fields = ["title", "control__reference", "sha256"]
    fields = ["control", "title", "url", "file", "sha256", "period_start", "period_end", "reviewer", "verdict", "notes"]

    @admin.display(description="Verdict", ordering="verdict")
    def verdict_word(self, obj):
        tone = {Verdict.EFFECTIVE: "good", Verdict.PARTIALLY_EFFECTIVE: "warn", Verdict.INEFFECTIVE: "bad"}
        return badge(obj.get_verdict_display(), tone.get(obj.verdict, "neutral"))

    @admin.display(description="Period", ordering="period_start")
    def period(self, obj) -> str:
        return f"{short_date(obj.period_start)} to {short_date(obj.period_end)}"

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in self.fields}
        data["file"] = data["file"] or None
        saved = controls.document_evidence_add(actor=request.user, reason=form.cleaned_data["change_reason"], **data)
        obj.pk = saved.pk


@admin.register(MetricCheck)
class MetricCheckAdmin(_AddOnlyAdmin):
    list_display = ["control", "metric", "minimum", "maximum", "suite"]
    list_filter = ["metric", "watched_models"]
    fields = ["control", "metric", "minimum", "maximum", "suite", "watched_models"]
    filter_horizontal = ["watched_models"]

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in self.fields}
        saved = controls.metric_check_create(actor=request.user, reason=form.cleaned_data["change_reason"], **data)
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # the service set the watched models


@admin.register(MetricCheckResult)
class MetricCheckResultAdmin(AuditedAdmin):
    change_list_template = "admin/risks/change_list.html"
    list_display = ["metric_check", "version", "result", "value", "checked"]
    list_filter = ["outcome", "model", "metric_check__control"]
    list_select_related = ["metric_check__control", "model", "version__model"]

    @admin.display(description="Checked", ordering="checked_at")
    def checked(self, obj) -> str:
        return short_date(obj.checked_at)

    @admin.display(description="Outcome", ordering="outcome")
    def result(self, obj):
        tone = {Outcome.PASS: "good", Outcome.FAIL: "bad"}.get(obj.outcome, "neutral")
        return badge(obj.get_outcome_display(), tone)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ExampleInline(ReadOnlyInline):
    model = IncidentExample
    fields = ["prompt", "bad_answer", "expected_answer", "added_by", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "Example failures (redacted)"


class IncidentForm(forms.ModelForm):
    change_reason = RiskForm.base_fields["change_reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "status" in self.fields:
            self.fields["status"].choices = [
                (s.value, s.label) for s in IncidentStatus if s != IncidentStatus.CLOSED or s == self.instance.status
            ]
            self.fields["status"].help_text = "Close with the list's 'Close' action: it asks for a reason."
        if "version" in self.fields:
            # Only the system reports an incident without a version (one about the audit trail).
            self.fields["version"].required = True


@admin.register(Incident)
class IncidentAdmin(ReasonFirstMixin, AuditedAdmin):
    change_list_template = "admin/risks/change_list.html"
    form = IncidentForm
    list_display = ["reference", "title", "about", "severity", "seriousness", "report_by", "status"]
    list_filter = ["status", "severity", "serious", "serious_kind", "version__model"]
    search_fields = ["reference", "title", "description", "root_cause"]
    list_select_related = ["version__model"]
    inlines = [ExampleInline]
    filter_horizontal = ["risks"]
    actions = ["close"]
    fieldsets = [
        (None, {"fields": ["reference", "title", "version", "reporter", "risks"]}),
        ("What happened", {"fields": ["occurred_at", "aware_at", "description", "impact", "affected_stakeholders"]}),
        (
            "Severity and reporting",
            {"fields": ["severity", "serious", "serious_kind", "reporting_deadline", "reported_to_authority_at"]},
        ),
        ("Evidence", {"fields": ["frozen_record_sha256", "evaluation_evidence"]}),
        (
            "Resolution",
            {"fields": ["root_cause", "fix", "guard_examples", "guard_version", "status", "closed_at", "closed_by"]},
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [
            "reference",
            "reporter",
            "reporting_deadline",
            "frozen_record_sha256",
            "evaluation_evidence",
            "closed_at",
            "closed_by",
        ]
        if obj is not None:
            readonly.append("version")
            if obj.about_audit_trail:
                readonly.append("about")
            if obj.status == IncidentStatus.CLOSED:
                readonly = [f for fs in self._about(self.fieldsets, obj) for f in fs[1]["fields"]]
        return readonly

    def get_fieldsets(self, request, obj=None):
        return self._about(super().get_fieldsets(request, obj), obj)

    @staticmethod
    def _about(fieldsets, obj):
        """About the audit trail: say so where the version would be."""
        if obj is None or not obj.about_audit_trail:
            return fieldsets
        return [
            (name, {**options, "fields": ["about" if f == "version" else f for f in options["fields"]]})
            for name, options in fieldsets
        ]

    @admin.display(description="About", ordering="version")
    def about(self, obj) -> str:
        return obj.subject

    @admin.display(description="Serious", ordering="serious")
    def seriousness(self, obj):
        return badge("Serious", "bad") if obj.serious else "-"

    @admin.display(description="Report by", ordering="reporting_deadline")
    def report_by(self, obj):
        """The authority's clock: red once missed, amber while running, green once reported."""
        if obj.reported_to_authority_at:
            return badge(f"reported {short_date(obj.reported_to_authority_at)}", "good")
        if obj.reporting_deadline is None:
            return "-"
        days = (timezone.localdate(obj.reporting_deadline) - timezone.localdate()).days
        when = short_date(obj.reporting_deadline)
        if obj.status == IncidentStatus.CLOSED:
            return when
        if days < 0:
            return format_html("{} {}", when, badge("missed", "bad"))
        return format_html("{} {}", when, badge("today" if days == 0 else f"in {days_word(days)}", "warn"))

    @admin.display(description="Aware", ordering="aware_at")
    def aware(self, obj) -> str:
        return short_date(obj.aware_at)

    @admin.display(description="Evaluation results attached")
    def evaluation_evidence(self, obj):
        if not obj.pk:
            return "-"
        rows = [(str(e.version), e.suite, e.metrics) for e in obj.evaluations.select_related("version__model")]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} {}: {}</li>", rows)) if rows else "None."

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["change_reason"]
        data = {f: form.cleaned_data[f] for f in form.changed_data if f != "change_reason"}
        if change:
            saved = incidents.incident_update(incident=obj, actor=request.user, data=data, reason=reason)
        else:
            fields = {
                f: form.cleaned_data[f]
                for f in form.fields
                if f in incidents.INCIDENT_EDITABLE_FIELDS
                and f
                not in ("status", "root_cause", "fix", "guard_examples", "guard_version", "reported_to_authority_at")
            }
            saved = incidents.incident_report(
                actor=request.user, version=form.cleaned_data["version"], reason=reason, **fields
            )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description="Close (compliance, with a reason)", permissions=["change"])
    def close(self, request, queryset):
        def apply(items, data):
            _apply_each(
                self,
                request,
                items,
                lambda i: incidents.incident_close(incident=i, actor=request.user, reason=data["reason"]),
                "closed",
            )

        return reason_action(request, queryset, title="Close incidents", apply=apply, action_name="close")


@admin.register(IncidentExample)
class IncidentExampleAdmin(_AddOnlyAdmin):
    list_display = ["incident", "short_prompt", "added_by", "created_at"]
    search_fields = ["incident__reference", "prompt", "bad_answer"]
    fields = ["incident", "prompt", "bad_answer", "expected_answer"]

    @admin.display(description="Prompt")
    def short_prompt(self, obj) -> str:
        return obj.prompt[:80]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "incident":
            kwargs["queryset"] = Incident.objects.filter(~Q(status=IncidentStatus.CLOSED))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        saved = incidents.incident_example_add(
            incident=form.cleaned_data["incident"],
            actor=request.user,
            prompt=form.cleaned_data["prompt"],
            bad_answer=form.cleaned_data["bad_answer"],
            expected_answer=form.cleaned_data["expected_answer"],
        )
        obj.pk = saved.pk


@admin.register(RunwayRisk)
class RunwayRiskAdmin(ReadOnlyAdmin):
    """The runway risks Fineprint opened by itself (risks.lifecycle): which model, base, date and stage."""

    list_display = ["risk", "model", "base_model", "shutdown_date", "stage", "closed_at"]
    list_filter = ["stage", ("closed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["risk", "model"]
    search_fields = ["model__name", "base_model", "risk__reference"]


@admin.register(RunwayNotice)
class RunwayNoticeAdmin(ReadOnlyAdmin):
    """The emails owed to model owners as a runway risk crosses a threshold, and whether each was sent."""

    list_display = ["subject", "email", "stage", "status", "attempts", "sent_at"]
    list_filter = ["status", "stage"]
    list_select_related = ["runway_risk"]
    search_fields = ["email", "subject"]
