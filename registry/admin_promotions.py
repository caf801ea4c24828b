"""Promotions in the admin: the list, a promotion's page, and the decision page that approves or rejects.

The decision page shows what is decided before anyone decides it: the request, what it
replaces, and the release gate judged now, rule by rule. A decision the service refuses (the
gate failed and no override was given, four eyes, a state that changed meanwhile) comes back
to the same page with the error next to the field it concerns and what was typed kept; a
decision taken is said in a sentence. Every decision goes through registry.releases.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html

from core.admin_audit import AuditedAdmin
from core.errors import ApplicationError
from registry import gates, releases
from registry.admin_display import (
    PROMOTION_TONES,
    badge,
    day,
    gate_table,
    promotion_gate_badge,
    target_words,
    version_label,
    who_and_when,
)
from registry.models import Promotion, PromotionStatus

APPROVE, REJECT = "approve", "reject"


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        label="Reason",
        help_text="Recorded with your name on the promotion and in its history.",
    )


class ApproveForm(RejectForm):
    override_justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=False,
        max_length=5000,
        label="Override justification",
        help_text="Required when the gate fails: why release anyway. Overrides are flagged everywhere.",
    )


def decided_sentence(promotion: Promotion) -> str:
    """What a decision did, as a sentence: 'Approved support-assistant v4 for canary at 10% of traffic; ...'."""
    where = target_words(promotion)
    if promotion.status == PromotionStatus.REJECTED:
        return f"Rejected {version_label(promotion.version)} for {where}; what serves {promotion.target} is unchanged."
    gate = "the gate passed." if promotion.gate_passed else "the gate failed and your override is recorded."
    return f"Approved {version_label(promotion.version)} for {where}; {gate}"


def _refusal_to_form(form: forms.Form, promotion: Promotion, exc: ApplicationError) -> None:
    """Put a refusal next to the field it concerns (the override, the reason), else at the top of the form."""
    label = version_label(promotion.version)
    on_fields = [name for name in exc.fields if name in form.fields]
    for name in on_fields:
        form.add_error(name, f"{label}: {exc.message}")
    if not on_fields:
        form.add_error(None, f"{label}: {exc.message}")


def decision_page(
    model_admin: admin.ModelAdmin, request, queryset, *, decision: str, form_url: str = ""
) -> HttpResponse | None:
    """Ask for the decision on the selected promotions, or take it; None once every one is decided.

    Only pending promotions are decided; a promotion the service refuses stays on the page.
    """
    pending = list(
        queryset.filter(status=PromotionStatus.PENDING).select_related(
            "version__model", "requested_by", "replaces__version"
        )
    )
    if not pending:
        model_admin.message_user(request, "None of the selected promotions is pending: nothing to decide.")
        return None
    form_class = ApproveForm if decision == APPROVE else RejectForm
    decide: Callable[[Promotion, dict], Promotion]
    if decision == APPROVE:

        def decide(promotion, data):
            return releases.promotion_approve(
                promotion=promotion,
                actor=request.user,
                reason=data["reason"],
                override_justification=data.get("override_justification") or "",
            )

    else:

        def decide(promotion, data):
            return releases.promotion_reject(promotion=promotion, actor=request.user, reason=data["reason"])

    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            refused = []
            for promotion in pending:
                try:
                    decided = decide(promotion, data)
                except ApplicationError as exc:
                    refused.append(promotion)
                    _refusal_to_form(form, promotion, exc)
                else:
                    model_admin.message_user(request, decided_sentence(decided), messages.SUCCESS)
            if not refused:
                return None
            pending = refused
    else:
        form = form_class()
    judged = [(promotion, gates.gate_evaluate(promotion.version).as_dict()) for promotion in pending]
    gate_fails = any(not gate["passed"] for _, gate in judged)
    verb = "Approve" if decision == APPROVE else "Reject"
    title = (
        f"{verb} {version_label(pending[0].version)} for {target_words(pending[0])}"
        if len(pending) == 1
        else f"{verb} {len(pending)} promotions"
    )
    return render(
        request,
        "admin/registry/promotion/decide.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "verb": verb,
            "decision": decision,
            "promotions": [
                {"promotion": promotion, "label": version_label(promotion.version), "gate": gate_table(gate)}
                for promotion, gate in judged
            ],
            "gate_fails": gate_fails,
            "form": form,
            "form_url": form_url,
            "opts": model_admin.model._meta,
            "changelist_url": reverse("admin:registry_promotion_changelist"),
        },
    )


@admin.register(Promotion)
class PromotionAdmin(AuditedAdmin):
    # Five narrow columns fit 1280 px beside the filters; the justification, reason and gate rules are on
    # the promotion's page.
    list_display = ["promotion", "decision", "gate_badge", "requested", "decide_links"]
    list_filter = ["status", "target", "gate_passed", ("override_justification", admin.EmptyFieldListFilter)]
    search_fields = ["version__version", "version__model__name", "justification", "decision_reason"]
    list_select_related = ["version__model", "requested_by", "decided_by"]
    actions = [APPROVE, REJECT]
    fieldsets = [
        (
            "Request",
            {"fields": ["version", "where", "justification", "requested_by", "requested_at", "replaces"]},
        ),
        (
            "Decision",
            {
                "fields": [
                    "status_badge",
                    "decide_links",
                    "decided_by",
                    "decided_at",
                    "decision_reason",
                    "signature_meaning",
                    "override_justification",
                    "record_sha256",
                ]
            },
        ),
        ("Release gate at the decision", {"fields": ["gate_at_decision"]}),
    ]
    readonly_fields = [
        *(f.name for f in Promotion._meta.fields),
        "where",
        "status_badge",
        "decide_links",
        "gate_at_decision",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # engineers request promotions over the API

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a promotion changes only by a decision, on its decision page

    def get_urls(self):
        decide = [
            path(
                f"<path:object_id>/{decision}/",
                self.admin_site.admin_view(self._decide_view(decision)),
                name=f"registry_promotion_{decision}",
            )
            for decision in (APPROVE, REJECT)
        ]
        return [*decide, *super().get_urls()]

    def _decide_view(self, decision: str):
        def view(request, object_id):
            promotion = get_object_or_404(Promotion, pk=object_id)
            if not self.has_view_permission(request, promotion):
                return HttpResponseRedirect(reverse("admin:index"))
            response = decision_page(self, request, Promotion.objects.filter(pk=promotion.pk), decision=decision)
            return response or HttpResponseRedirect(reverse("admin:registry_promotion_changelist"))

        return view

    @admin.display(description="Version, to", ordering="version__model__name")
    def promotion(self, obj):
        return format_html("{}<br><small>to {}</small>", version_label(obj.version), self.where(obj).lower())

    @admin.display(description="Status", ordering="status")
    def decision(self, obj):
        if obj.decided_at is None:
            return self.status_badge(obj)
        return format_html("{}<br><small>{}, {}</small>", self.status_badge(obj), obj.decided_by, day(obj.decided_at))

    @admin.display(description="To", ordering="target")
    def where(self, obj) -> str:
        return f"Canary, {obj.traffic_percent}%" if obj.traffic_percent else obj.get_target_display()

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), PROMOTION_TONES[obj.status])

    @admin.display(description="Gate")
    def gate_badge(self, obj):
        return promotion_gate_badge(obj)

    @admin.display(description="Requested", ordering="requested_at")
    def requested(self, obj):
        return who_and_when(obj.requested_by, obj.requested_at)

    @admin.display(description="Decide")
    def decide_links(self, obj):
        if obj is None or obj.status != PromotionStatus.PENDING:
            return "-"
        return format_html(
            '<a class="fp-approve" href="{}">Approve…</a><br><a class="fp-reject" href="{}">Reject…</a>',
            reverse("admin:registry_promotion_approve", args=[obj.pk]),
            reverse("admin:registry_promotion_reject", args=[obj.pk]),
        )

    @admin.display(description="Gate")
    def gate_at_decision(self, obj):
        if obj is None or not obj.gate_result:
            return "Judged when the promotion is decided: the decision page shows it rule by rule."
        return gate_table(obj.gate_result)

    @admin.action(description="Approve selected promotions (they take effect at once)", permissions=["view"])
    def approve(self, request, queryset):
        return decision_page(self, request, queryset, decision=APPROVE)

    @admin.action(description="Reject selected promotions", permissions=["view"])
    def reject(self, request, queryset):
        return decision_page(self, request, queryset, decision=REJECT)
