from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin_audit import AuditedAdmin, ReadOnlyInline, reason_action
from core.errors import ApplicationError
from core.roles import Role, has_role
from core.wording import plural
from registry import gates, services
from registry.admin_data_cards import data_card_display
from registry.admin_display import (
    BAD,
    GOOD,
    JOB_TONES,
    NEUTRAL,
    VERSION_TONES,
    WARN,
    badge,
    day,
    gate_table,
    metrics_table,
    number,
    pairs_table,
    per_intent_table,
    version_label,
    who_and_when,
)
from registry.admin_lifecycle import lifecycle_urls, runway_display
from registry.admin_promotions import PromotionAdmin  # noqa: F401  (registers the promotions' admin)
from registry.cards import EVIDENCE_COLUMNS, EVIDENCE_HEADER, evidence_entry
from registry.data_cards import version_data_files
from registry.models import (
    Checkpoint,
    Deployment,
    Environment,
    EvaluationResult,
    GatePolicy,
    ModelVersion,
    RegisteredModel,
    RiskTier,
)
from registry.runway import live_deployments, models_runway, versions_runway
from registry.tasks import fine_tune_job_sync


class ReasonFirstAdmin(AuditedAdmin):
    """The reason for a change heads the form: its error shows where the eye starts, not pages below."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        reason = [("Reason for this change", opts) for name, opts in fieldsets if name == "Audit"]
        return reason + [(name, opts) for name, opts in fieldsets if name != "Audit"]


RISK_TIER_TONES = {
    RiskTier.UNCLASSIFIED: WARN,  # not yet classified: someone has to look
    RiskTier.MINIMAL: NEUTRAL,
    RiskTier.LIMITED: NEUTRAL,
    RiskTier.HIGH: BAD,
}


class DeploymentInline(ReadOnlyInline):
    """The model's deployment timeline: what served each environment, from when to when, and who approved it."""

    model = Deployment
    fields = ["environment", "version", "traffic_percent", "kind", "started_at", "ended_at", "approved_by", "reason"]
    readonly_fields = fields
    ordering = ["started_at", "id"]
    verbose_name_plural = "Deployment timeline"


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ReasonFirstAdmin):
    # Fits 1280 px beside the filters: the display name (and "Retired") under the name, both owners in one column.
    list_display = ["name_and_title", "base_model", "tier", "owners", "version_count"]
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

    @admin.display(description="Model", ordering="name")
    def name_and_title(self, obj):
        retired = format_html("<br>{}", self.state(obj)) if obj.is_retired else ""
        return format_html("<strong>{}</strong><br><small>{}</small>{}", obj.name, obj.display_name, retired)

    @admin.display(description="Risk tier", ordering="risk_tier")
    def tier(self, obj):
        return badge(obj.get_risk_tier_display(), RISK_TIER_TONES.get(obj.risk_tier, NEUTRAL))

    @admin.display(description="Owners (business / technical)")
    def owners(self, obj):
        business = obj.business_owner or format_html("<em>{}</em>", "no business owner")
        return format_html("{}<br><small>{}</small>", business, obj.technical_owner or "-")

    @admin.display(description="State", ordering="is_retired")
    def state(self, obj):
        return badge("Retired", NEUTRAL) if obj.is_retired else badge("In use", GOOD)

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
    fields = ["step_number", "metrics_shown", "fine_tuned_model_checkpoint", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "Checkpoints of the fine-tune job"

    @admin.display(description="Training metrics")
    def metrics_shown(self, obj):
        return checkpoint_metrics_table(obj.metrics)


def checkpoint_metrics_table(metrics: dict | None) -> SafeString:
    """A checkpoint's training metrics (train_loss, valid_loss, ...) with their underscores as spaces."""
    named = {name.replace("_", " ").capitalize(): name for name in (metrics or {})}
    rows = [(label, metrics[name]) for label, name in sorted(named.items())]
    # The provider's own name in the tooltip: what the job's files and the provider's console call it.
    return pairs_table(rows, head=("Metric", "Value"), css="fp-checkpoint-metrics", titles=named)


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


def evidence_table(evaluation: EvaluationResult) -> SafeString:
    """What a side-by-side run's verdicts say (the model card's table): facts, then overall and every intent."""
    entry = evidence_entry(evaluation)
    if entry is None:
        return format_html("<p>{}</p>", f"None: the numbers were {TYPED_IN}.")
    facts = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", entry["facts"].items())
    head = format_html_join("", "<th>{}</th>", ((h,) for h in EVIDENCE_HEADER))
    rows = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((row[c],) for c in EVIDENCE_COLUMNS)),) for row in entry["rows"]),
    )
    return format_html(
        '<table class="fp-evidence-facts">{}</table><table class="fp-evidence"><tr>{}</tr>{}</table>', facts, head, rows
    )


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
        "metrics_shown",
        "win_rate_evidence",
        "per_intent_shown",
        "ran_by",
        "ran_at",
    ]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="Metrics")
    def metrics_shown(self, obj):
        return metrics_table(obj.metrics)

    @admin.display(description="Win rate per intent")
    def per_intent_shown(self, obj):
        return per_intent_table(obj.per_intent)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sbs_run")

    @admin.display(description="Win rate from")
    def win_rate_evidence(self, obj):
        return win_rate_source(obj)

    @admin.display(description="Golden set SHA-256")
    def short_golden_hash(self, obj) -> str:
        return format_html('<code title="{}">{}…</code>', obj.golden_set_sha256, obj.golden_set_sha256[:12])


@admin.register(ModelVersion)
class ModelVersionAdmin(ReasonFirstAdmin):
    # Fits 1280 px: hashes and the job's id are on the version's page (and still searchable here).
    list_display = ["label", "status_badge", "provider", "job", "registered"]
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
        ("Record", {"fields": ["changelog"]}),
        # Set by the job and its sync from the provider's answers: shown, never typed in.
        ("Provider files and model", {"fields": ["training_file_id", "validation_file_id", "fine_tuned_model"]}),
        ("Status", {"fields": ["status_badge", "held", "created_by", "created_at", "updated_at", "retired_at"]}),
        ("Runway (provider lifecycle)", {"fields": ["runway"]}),
        ("Data card (pre-checks of its data files)", {"fields": ["data_card"]}),
        ("Side-by-side runs (the verdicts behind its win rates)", {"fields": ["sbs_runs"]}),
        ("Release gate", {"fields": ["gate_explanation"]}),
        (
            "Fine-tune job (kept in sync with the provider)",
            {
                "fields": [f for f in ModelVersion.JOB_FIELDS if f not in ("hyperparameters", "result_files")]
                + ["hyperparameters_shown", "result_files_shown"],
            },
        ),
        # Azure serves a fine-tuned model only once deployed; deployed over the API, kept by the sync.
        ("Serving deployment (Azure)", {"fields": ["serving_deployment", "serving_deployment_state"]}),
    ]
    readonly_fields = [
        *ModelVersion.IDENTITY_FIELDS[1:],
        "model",
        "status",
        "status_badge",
        "held",
        # The provider's word, set by the job and its sync: a hand edit would make the record lie.
        "training_file_id",
        "validation_file_id",
        "fine_tuned_model",
        "created_by",
        "created_at",
        "updated_at",
        "retired_at",
        "evidence_hold",
        # The job is the provider's word, kept by the sync: never typed in.
        *ModelVersion.JOB_FIELDS,
        "hyperparameters_shown",
        "result_files_shown",
        "serving_deployment",
        "serving_deployment_state",
        "gate_explanation",
        "runway",
        "data_card",
        "sbs_runs",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # versions are registered by engineers over the API

    @admin.display(description="Version", ordering="model__name")
    def label(self, obj) -> str:
        return version_label(obj)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), VERSION_TONES.get(obj.status, NEUTRAL))

    @admin.display(description="Fine-tune job", ordering="job_status")
    def job(self, obj):
        if not obj.job_status:
            return "no job" if not obj.provider_job_id else "-"
        return badge(obj.get_job_status_display(), JOB_TONES.get(obj.job_status, NEUTRAL))

    @admin.display(description="Registered", ordering="created_at")
    def registered(self, obj):
        return who_and_when(obj.created_by, obj.created_at)

    @admin.display(description="Evidence hold")
    def held(self, obj):
        if obj is None or not obj.evidence_hold:
            return badge("Not held", NEUTRAL)
        return format_html("{} {}", badge("Held: cannot change", WARN), obj.evidence_hold)

    @admin.display(description="Hyperparameters")
    def hyperparameters_shown(self, obj):
        return pairs_table(sorted((obj.hyperparameters or {}).items()), head=("Setting", "Value"), css="fp-hyper")

    @admin.display(description="Result files")
    def result_files_shown(self, obj):
        files = obj.result_files or []
        return format_html_join(", ", "<code>{}</code>", ((f,) for f in files)) if files else "-"

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
    def gate_explanation(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return gate_table(gates.gate_evaluate(obj).as_dict())

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
                    self.message_user(request, f"Retired {version_label(version)}.", messages.SUCCESS)
                except ApplicationError as exc:
                    self.message_user(request, f"{version_label(version)}: {exc.message}", messages.ERROR)

        return reason_action(request, queryset, title="Retire versions", apply=apply, action_name="retire")

    @admin.action(description="Sync fine-tune job now", permissions=["change"])
    def sync_job(self, request, queryset):
        job_ids = list(queryset.exclude(provider_job_id=None).values_list("provider_job_id", flat=True))
        for job_id in job_ids:
            fine_tune_job_sync.delay_on_commit(job_id, on_behalf_of_id=request.user.pk)
        self.message_user(request, f"Queued a sync of {plural(len(job_ids), 'job')}; refresh in a few seconds.")


@admin.register(EvaluationResult)
class EvaluationResultAdmin(AuditedAdmin):
    # Fits 1280 px beside the filters: the suite under the version, the win rate's source under the win rate.
    list_display = ["evaluated", "win_rate_and_source", "refusal_rate", "p95_latency_ms", "baseline", "ran"]
    list_filter = ["suite", "version__model", "ran_at"]
    search_fields = ["suite", "version__version", "version__model__name", "golden_set_sha256"]
    list_select_related = ["version__model", "ran_by", "sbs_run"]
    readonly_fields = [
        *(f.name for f in EvaluationResult._meta.fields),
        "win_rate_evidence",
        "metrics_shown",
        "per_intent_shown",
        "evidence_shown",
    ]
    fieldsets = [
        (None, {"fields": ["version", "suite", "golden_set_sha256", "baseline", "ran_by", "ran_at", "created_at"]}),
        ("Results", {"fields": ["metrics_shown", "win_rate_evidence", "per_intent_shown"]}),
        ("The side-by-side verdicts behind the win rate", {"fields": ["evidence_shown"]}),
    ]

    @admin.display(description="Version, suite", ordering="version__model__name")
    def evaluated(self, obj):
        return format_html("{}<br><small>{}</small>", version_label(obj.version), obj.suite)

    @admin.display(description="Win rate")
    def win_rate_and_source(self, obj):
        if "win_rate" not in (obj.metrics or {}):
            return "-"
        return format_html("{}<br><small>{}</small>", number(obj.metrics["win_rate"]), win_rate_source(obj))

    @admin.display(description="Ran", ordering="ran_at")
    def ran(self, obj):
        return who_and_when(obj.ran_by, obj.ran_at)

    @admin.display(description="Metrics")
    def metrics_shown(self, obj):
        return metrics_table(obj.metrics)

    @admin.display(description="Win rate per intent")
    def per_intent_shown(self, obj):
        return per_intent_table(obj.per_intent)

    @admin.display(description="Verdicts")
    def evidence_shown(self, obj):
        return evidence_table(obj)

    def get_queryset(self, request):
        # A select_related here switches off list_select_related (the changelist applies it only to a
        # queryset without one): name every relation the list reads, or each row costs three queries.
        return super().get_queryset(request).select_related("sbs_run", "version__model", "ran_by")

    @admin.display(description="Win rate from")
    def win_rate_evidence(self, obj):
        return win_rate_source(obj)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # evaluation results are facts: recorded once, never edited

    @admin.display(description="Win rate")
    def win_rate(self, obj):
        return number(obj.metrics.get("win_rate"))

    @admin.display(description="Refusal rate")
    def refusal_rate(self, obj):
        return number(obj.metrics.get("refusal_rate"))

    @admin.display(description="p95 latency (ms)")
    def p95_latency_ms(self, obj):
        return number(obj.metrics.get("p95_latency_ms"))


@admin.register(GatePolicy)
class GatePolicyAdmin(ReasonFirstAdmin):
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


@admin.register(Deployment)
class DeploymentAdmin(AuditedAdmin):
    # Fits 1280 px beside the filters: the traffic with the environment, the approver under the start.
    list_display = ["deployed_version", "where", "kind", "serving", "started"]
    list_filter = ["environment", "kind", "model"]
    list_select_related = ["model", "version__model", "approved_by"]
    readonly_fields = [f.name for f in Deployment._meta.fields]
    change_list_template = "admin/registry/deployment/change_list.html"

    def get_urls(self):
        # The runway pages read deployments: /admin/registry/deployment/runway/ and .../migration/.
        return [*lifecycle_urls(self.admin_site), *super().get_urls()]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Version", ordering="model__name")
    def deployed_version(self, obj) -> str:
        return version_label(obj.version)

    @admin.display(description="Serving", ordering="ended_at")
    def serving(self, obj):
        if obj.ended_at is None:
            return badge("Serving now", GOOD)
        return format_html("{}<br><small>{}</small>", badge("Ended", NEUTRAL), day(obj.ended_at))

    @admin.display(description="Environment", ordering="environment")
    def where(self, obj) -> str:
        if obj.environment == Environment.CANARY:
            return f"Canary, {obj.traffic_percent}%"
        return obj.get_environment_display()

    @admin.display(description="Started, approved by", ordering="started_at")
    def started(self, obj):
        when = f"{day(obj.started_at)} {timezone.localtime(obj.started_at):%H:%M}"
        return format_html("{}<br><small>{}</small>", when, obj.approved_by)
