from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin_audit import ActionReasonForm, AuditedAdmin, ReadOnlyInline, reason_action
from core.errors import ApplicationError
from core.roles import Role, has_role
from registry import gates, releases, services
from registry.admin_data_cards import data_card_display
from registry.admin_lifecycle import lifecycle_urls, runway_display
from registry.data_cards import version_data_files
from registry.models import (
    Checkpoint,
    Deployment,
    EvaluationResult,
    GatePolicy,
    ModelVersion,
    Promotion,
    PromotionStatus,
    RegisteredModel,
)
from registry.runway import live_deployments, models_runway, versions_runway
from registry.tasks import fine_tune_job_sync


class DeploymentInline(ReadOnlyInline):
    """The model's deployment timeline: what served each environment, from when to when, and who approved it."""

    model = Deployment
    fields = ["environment", "version", "traffic_percent", "kind", "started_at", "ended_at", "approved_by", "reason"]
    readonly_fields = fields
    ordering = ["started_at", "id"]
    verbose_name_plural = "Deployment timeline"


@admin.register(RegisteredModel)
class RegisteredModelAdmin(AuditedAdmin):
    list_display = [
        "name",
        "display_name",
        "base_model",
        "risk_tier",
        "business_owner",
        "technical_owner",
        "version_count",
        "is_retired",
        "created_at",
    ]
    list_filter = [
        "risk_tier",
        "provider",
        "is_retired",
        "base_model",
        "business_owner",
        "technical_owner",
        "created_at",
    ]
    search_fields = ["name", "display_name", "base_model", "purpose"]
    list_select_related = ["business_owner", "technical_owner"]
    inlines = [DeploymentInline]
    fieldsets = [
        (None, {"fields": ["name", "display_name", "purpose", "permitted_uses", "out_of_scope_uses"]}),
        ("Base model", {"fields": ["provider", "base_model", "live_runway", "runway"]}),
        ("Governance", {"fields": ["business_owner", "technical_owner", "risk_tier", "is_retired"]}),
        ("Record", {"fields": ["created_by", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = ["created_by", "created_at", "updated_at", "live_runway", "runway"]
        if obj:
            readonly.append("name")
        if not has_role(request.user, Role.COMPLIANCE):
            readonly.extend(sorted(RegisteredModel.GOVERNANCE_FIELDS))
        return readonly

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_version_count=Count("versions"))

    @admin.display(description="Versions", ordering="_version_count")
    def version_count(self, obj) -> int:
        return obj._version_count

    @admin.display(description="Runway of what serves")
    def live_runway(self, obj):
        """The live deployments' runway: what stops answering, and when (the base of new versions is below)."""
        if obj is None or obj.pk is None:
            return "-"
        rows = live_deployments(model=obj.name)
        if not rows:
            return "Nothing serves: no live deployment."
        return format_html_join(
            "",
            '<p><a href="{}">{} {}</a> on <code>{}</code></p>{}',
            (
                (
                    reverse("admin:registry_modelversion_change", args=[row.deployment.version_id]),
                    row.deployment.get_environment_display(),
                    row.deployment.version.version,
                    row.runway.base_model,
                    runway_display(row.runway),
                )
                for row in rows
            ),
        )

    @admin.display(description="Runway of new versions")
    def runway(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return runway_display(models_runway([obj])[obj.pk])

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["change_reason"]
        fields = {f: form.cleaned_data[f] for f in form.changed_data if f != "change_reason"}
        if change:
            # The form already applied its values to obj; the service compares against the stored row.
            stored = RegisteredModel.objects.get(pk=obj.pk)
            saved = services.model_update(model=stored, actor=request.user, data=fields, reason=reason)
        else:
            base = {k: fields.pop(k) for k in ("name", "display_name", "purpose", "base_model")}
            saved = services.model_create(actor=request.user, reason=reason, **base, **fields)
        obj.pk = saved.pk


class CheckpointInline(ReadOnlyInline):
    model = Checkpoint
    fields = ["step_number", "metrics", "fine_tuned_model_checkpoint", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "Checkpoints of the fine-tune job"


def win_rate_source(evaluation: EvaluationResult) -> SafeString | str:
    """Where an evaluation's win rate comes from: a side-by-side run's verdicts (linked), or typed in by hand.

    The run is reached through the reverse one-to-one `sbs_run` and the admin's URL names: the
    registry never imports sbs.
    """
    if "win_rate" not in (evaluation.metrics or {}):
        return "-"
    if evaluation.evidence is None:
        return format_html('<span class="fp-typed-in" style="color:#8d6e00">{}</span>', TYPED_IN)
    run = getattr(evaluation, "sbs_run", None)
    if run is None:
        return "computed from verdicts"
    return format_html(
        '<a class="fp-from-run" href="{}">from SBS run {}</a>',
        reverse("admin:sbs_sbsrun_change", args=[run.pk]),
        run.pk,
    )


TYPED_IN = "typed in, not supported by verdicts"
SBS_RUNS_SHOWN = 20


def sbs_runs_display(version: ModelVersion) -> SafeString:
    """The version's side-by-side runs, newest first, each linking its page, and a link to all of them."""
    runs = list(
        version.sbs_runs.select_related("golden__golden_set").only(
            "id",
            "ran_at",
            "baseline",
            "judge",
            "comparisons",
            "win_rate",
            "win_rate_lower",
            "win_rate_upper",
            "golden__golden_version",
            "golden__golden_set__name",
        )[: SBS_RUNS_SHOWN + 1]
    )
    if not runs:
        return format_html("<p>{}</p>", "No side-by-side run: its win rates, if any, were typed in.")
    rows = format_html_join(
        "",
        '<tr class="fp-sbs-run"><td style="white-space:nowrap"><a href="{}">Run {}</a></td><td>{}</td><td>{} v{}</td>'
        "<td>{}</td><td>{}</td><td>{}</td><td style='white-space:nowrap'>{}</td></tr>",
        (
            (
                reverse("admin:sbs_sbsrun_change", args=[run.pk]),
                run.pk,
                f"{run.ran_at:%Y-%m-%d %H:%M}",
                run.golden.golden_set.name,
                run.golden.golden_version,
                run.baseline,
                run.judge,
                run.comparisons,
                f"{run.win_rate:.3f} [{run.win_rate_lower:.3f}, {run.win_rate_upper:.3f}]",
            )
            for run in runs[:SBS_RUNS_SHOWN]
        ),
    )
    every = reverse("admin:sbs_sbsrun_changelist") + f"?version__id__exact={version.pk}"
    more = f"All {version.sbs_runs.count()} runs" if len(runs) > SBS_RUNS_SHOWN else "These runs in the list"
    return format_html(
        '<table class="fp-sbs-runs"><tr><th>Run</th><th>Ran</th><th>Golden set</th><th>Baseline</th><th>Judge</th>'
        '<th>n</th><th>Win rate [95% interval]</th></tr>{}</table><p><a href="{}">{}</a></p>',
        rows,
        every,
        more,
    )


class EvaluationInline(ReadOnlyInline):
    model = EvaluationResult
    fk_name = "version"
    # The golden set's hash in short (whole in its tooltip and on the evaluation's page): the page fits 1280 px.
    fields = [
        "suite",
        "short_golden_hash",
        "baseline",
        "metrics",
        "win_rate_evidence",
        "per_intent",
        "ran_by",
        "ran_at",
    ]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sbs_run")

    @admin.display(description="Win rate from")
    def win_rate_evidence(self, obj):
        return win_rate_source(obj)

    @admin.display(description="Golden set SHA-256")
    def short_golden_hash(self, obj) -> str:
        return format_html('<code title="{}">{}…</code>', obj.golden_set_sha256, obj.golden_set_sha256[:12])


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "model",
        "version",
        "status",
        "provider",
        "job_status",
        "short_training_hash",
        "provider_job_id",
        "created_by",
        "created_at",
    ]
    list_filter = [
        "status",
        "provider",
        "job_status",
        "model",
        "model__base_model",
        "model__technical_owner",
        "model__business_owner",
        "created_by",
        "created_at",
    ]
    search_fields = [
        "version",
        "model__name",
        "training_file_sha256",
        "validation_file_sha256",
        "provider_job_id",
        "fine_tuned_model",
    ]
    list_select_related = ["model", "created_by"]
    date_hierarchy = "created_at"
    inlines = [EvaluationInline, CheckpointInline]
    actions = ["retire", "sync_job"]
    fieldsets = [
        (
            "Identity (fixed at registration)",
            {
                "fields": [
                    "model",
                    "version",
                    "provider",
                    "base_model",
                    "training_file_sha256",
                    "validation_file_sha256",
                    "provider_job_id",
                ],
            },
        ),
        ("Record", {"fields": ["changelog", "training_file_id", "validation_file_id", "fine_tuned_model"]}),
        ("Status", {"fields": ["status", "evidence_hold", "created_by", "created_at", "updated_at", "retired_at"]}),
        ("Runway (provider lifecycle)", {"fields": ["runway"]}),
        ("Data card (pre-checks of its data files)", {"fields": ["data_card"]}),
        ("Side-by-side runs (the verdicts behind its win rates)", {"fields": ["sbs_runs"]}),
        ("Release gate", {"fields": ["gate_explanation"]}),
        (
            "Fine-tune job (kept in sync with the provider)",
            {
                "fields": list(ModelVersion.JOB_FIELDS),
            },
        ),
        # Azure serves a fine-tuned model only once deployed; deployed over the API, kept by the sync.
        ("Serving deployment (Azure)", {"fields": ["serving_deployment", "serving_deployment_state"]}),
    ]
    readonly_fields = [
        *ModelVersion.IDENTITY_FIELDS[1:],
        "model",
        "status",
        "created_by",
        "created_at",
        "updated_at",
        "retired_at",
        "evidence_hold",
        # The job is the provider's word, kept by the sync: never typed in.
        *ModelVersion.JOB_FIELDS,
        "serving_deployment",
        "serving_deployment_state",
        "gate_explanation",
        "runway",
        "data_card",
        "sbs_runs",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # versions are registered by engineers over the API

    @admin.display(description="Runway")
    def runway(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return runway_display(versions_runway([obj])[obj.pk])

    @admin.display(description="Data card")
    def data_card(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return data_card_display(version_data_files(obj))

    @admin.display(description="Runs")
    def sbs_runs(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return sbs_runs_display(obj)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.evidence_hold:
            return False  # frozen as evidence of a serious incident: shown, not changed
        return super().has_change_permission(request, obj)

    @admin.display(description="Gate")
    def gate_explanation(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        result = gates.gate_evaluate(obj)
        policy = f"policy v{result.policy.version}" if result.policy.version else "the default policy (settings)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.rule, "-" if r.value is None else f"{r.value:g}", r.outcome.upper(), r.detail) for r in result.rules),
        )
        return format_html(
            "<p><strong>{}</strong> against {}</p><table><tr><th>Rule</th><th>Value</th><th>Outcome</th>"
            "<th>Evidence</th></tr>{}</table>",
            "PASSED" if result.passed else "NOT PASSED",
            policy,
            rows,
        )

    @admin.display(description="Training file SHA-256")
    def short_training_hash(self, obj) -> str:
        return format_html('<code title="{}">{}…</code>', obj.training_file_sha256, obj.training_file_sha256[:12])

    def save_model(self, request, obj, form, change):
        fields = {f: form.cleaned_data[f] for f in form.changed_data if f != "change_reason"}
        services.version_update(version=obj, actor=request.user, data=fields, reason=form.cleaned_data["change_reason"])

    @admin.action(description="Retire selected versions", permissions=["change"])
    def retire(self, request, queryset):
        def apply(versions, data):
            reason = data["reason"]
            for version in versions.select_related("model"):
                try:
                    services.version_retire(version=version, actor=request.user, reason=reason)
                    self.message_user(request, f"Retired {version}.", messages.SUCCESS)
                except ApplicationError as exc:
                    self.message_user(request, f"{version}: {exc.message}", messages.ERROR)

        return reason_action(request, queryset, title="Retire versions", apply=apply, action_name="retire")

    @admin.action(description="Sync fine-tune job now", permissions=["change"])
    def sync_job(self, request, queryset):
        job_ids = list(queryset.exclude(provider_job_id=None).values_list("provider_job_id", flat=True))
        for job_id in job_ids:
            fine_tune_job_sync.delay_on_commit(job_id, on_behalf_of_id=request.user.pk)
        self.message_user(request, f"Queued a sync of {len(job_ids)} job(s); refresh in a few seconds.")


@admin.register(EvaluationResult)
class EvaluationResultAdmin(AuditedAdmin):
    list_display = [
        "version",
        "suite",
        "win_rate",
        "win_rate_evidence",
        "refusal_rate",
        "p95_latency_ms",
        "baseline",
        "ran_by",
        "ran_at",
    ]
    list_filter = ["suite", "version__model", "ran_at"]
    search_fields = ["suite", "version__version", "version__model__name", "golden_set_sha256"]
    list_select_related = ["version__model", "ran_by", "sbs_run"]
    readonly_fields = [*(f.name for f in EvaluationResult._meta.fields), "win_rate_evidence"]

    def get_queryset(self, request):
        # The evidence (a run's figures) is large; the list only needs to know whether there is one.
        return super().get_queryset(request).select_related("sbs_run")

    @admin.display(description="Win rate from")
    def win_rate_evidence(self, obj):
        return win_rate_source(obj)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # evaluation results are facts: recorded once, never edited

    @admin.display(description="Win rate")
    def win_rate(self, obj):
        return obj.metrics.get("win_rate")

    @admin.display(description="Refusal rate")
    def refusal_rate(self, obj):
        return obj.metrics.get("refusal_rate")

    @admin.display(description="p95 latency (ms)")
    def p95_latency_ms(self, obj):
        return obj.metrics.get("p95_latency_ms")


@admin.register(GatePolicy)
class GatePolicyAdmin(AuditedAdmin):
    """Gate policies are versioned: adding one creates the model's next version; none is ever edited."""

    list_display = ["model", "version", "rules_summary", "created_by", "created_at"]
    list_filter = ["model"]
    search_fields = ["model__name"]
    fields = ["model", "rules"]
    list_select_related = ["model", "created_by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description="Rules")
    def rules_summary(self, obj) -> str:
        return "; ".join(gates.describe(rule) for rule in obj.rules if isinstance(rule, dict) and "metric" in rule)

    def save_model(self, request, obj, form, change):
        policy = gates.gate_policy_create(
            model=form.cleaned_data["model"],
            actor=request.user,
            rules=form.cleaned_data["rules"],
            reason=form.cleaned_data["change_reason"],
        )
        obj.pk = policy.pk


class ApproveForm(ActionReasonForm):
    override_justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        help_text="Required when the gate fails: why release anyway. Overrides are flagged everywhere.",
    )


@admin.register(Promotion)
class PromotionAdmin(AuditedAdmin):
    list_display = [
        "version",
        "target",
        "traffic_percent",
        "status",
        "gate_passed",
        "overridden_flag",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "target", "gate_passed", ("override_justification", admin.EmptyFieldListFilter)]
    search_fields = ["version__version", "version__model__name", "justification", "decision_reason"]
    list_select_related = ["version__model", "requested_by", "decided_by"]
    readonly_fields = [f.name for f in Promotion._meta.fields]
    actions = ["approve", "reject"]

    def has_add_permission(self, request) -> bool:
        return False  # engineers request promotions over the API

    @admin.display(description="Gate overridden", boolean=True)
    def overridden_flag(self, obj) -> bool:
        return obj.overridden

    def _decide(self, request, queryset, decide, data) -> None:
        for promotion in queryset.filter(status=PromotionStatus.PENDING):
            try:
                decide(promotion, data)
                self.message_user(request, f"{promotion}: done.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{promotion}: {exc.message}", messages.ERROR)

    @admin.action(description="Approve selected promotions (they take effect at once)", permissions=["view"])
    def approve(self, request, queryset):
        def apply(promotions, data):
            self._decide(
                request,
                promotions,
                lambda p, d: releases.promotion_approve(
                    promotion=p,
                    actor=request.user,
                    reason=d["reason"],
                    override_justification=d.get("override_justification") or "",
                ),
                data,
            )

        return reason_action(
            request, queryset, title="Approve promotions", apply=apply, action_name="approve", form_class=ApproveForm
        )

    @admin.action(description="Reject selected promotions", permissions=["view"])
    def reject(self, request, queryset):
        def apply(promotions, data):
            self._decide(
                request,
                promotions,
                lambda p, d: releases.promotion_reject(
                    promotion=p,
                    actor=request.user,
                    reason=d["reason"],
                ),
                data,
            )

        return reason_action(request, queryset, title="Reject promotions", apply=apply, action_name="reject")


@admin.register(Deployment)
class DeploymentAdmin(AuditedAdmin):
    list_display = [
        "model",
        "environment",
        "version",
        "traffic_percent",
        "kind",
        "started_at",
        "ended_at",
        "approved_by",
    ]
    list_filter = ["environment", "kind", "model"]
    list_select_related = ["model", "version", "approved_by"]
    readonly_fields = [f.name for f in Deployment._meta.fields]
    change_list_template = "admin/registry/deployment/change_list.html"

    def get_urls(self):
        # The runway pages read deployments: /admin/registry/deployment/runway/ and .../migration/.
        return [*lifecycle_urls(self.admin_site), *super().get_urls()]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
