from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.parsers import json_loads
from core.serializers import StrictInputSerializer
from registry import gates, selectors
from registry.models import (
    Checkpoint,
    Deployment,
    Environment,
    EvaluationResult,
    ModelVersion,
    Promotion,
    PromotionStatus,
    Provider,
    RegisteredModel,
    RiskTier,
    ServingState,
    model_name_validator,
    sha256_validator,
    version_label_validator,
)
from registry.selectors import (
    SERVING_FIELDS,
    evaluation_row,
    evaluation_shown,
    evaluation_support,
    lifecycle_block,
    serving_block,
    version_record,
    version_row,
)

User = get_user_model()


def _owner_field() -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )


# --- Lifecycle ----------------------------------------------------------------------------


class LifecycleSerializer(serializers.Serializer):
    """The runway of a model or version, from the provider catalogue (lifecycle app)."""

    base_model = serializers.CharField(help_text="The base model it runs on (a fine-tuned model shuts down with it).")
    state = serializers.ChoiceField(
        choices=["active", "deprecated", "shutdown", "unknown"],
        help_text="unknown: the catalogue does not know the model (not synced, or not the provider's).",
    )
    shutdown_date = serializers.DateField(allow_null=True, help_text="null: no shutdown announced, or unknown.")
    days_left = serializers.IntegerField(
        allow_null=True, help_text="Until the shutdown date, from today; negative after."
    )
    replacement = serializers.CharField(help_text="The recommended replacement, where known; '' otherwise.")
    source = serializers.CharField(
        help_text="Where the date came from: provider, manual (a correction), base_model (the base model's date); "
        "'' when unknown.",
    )

    def to_representation(self, found) -> dict:
        return lifecycle_block(found)


# --- Registered models ----------------------------------------------------------------


class ModelOutputSerializer(serializers.ModelSerializer):
    business_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    technical_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    lifecycle = LifecycleSerializer(
        source="runway", read_only=True, help_text="The runway of the model's current base model (new versions')."
    )

    class Meta:
        model = RegisteredModel
        fields = [
            "name",
            "display_name",
            "purpose",
            "permitted_uses",
            "out_of_scope_uses",
            "business_owner",
            "technical_owner",
            "base_model",
            "provider",
            "risk_tier",
            "is_retired",
            "created_by",
            "created_at",
            "updated_at",
            "lifecycle",
        ]

    def to_representation(self, model: RegisteredModel) -> dict:
        # A list page attaches every model's runway in one query (selectors.models_with_runways).
        model.runway = selectors.model_runway(model)
        return super().to_representation(model)


class _ModelFieldsSerializer(StrictInputSerializer):
    display_name = serializers.CharField(max_length=200)
    purpose = serializers.CharField()
    permitted_uses = serializers.CharField(required=False, allow_blank=True)
    out_of_scope_uses = serializers.CharField(required=False, allow_blank=True)
    base_model = serializers.CharField(max_length=100)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    business_owner = _owner_field()
    technical_owner = _owner_field()
    risk_tier = serializers.ChoiceField(choices=RiskTier.choices, required=False)


class ModelCreateSerializer(_ModelFieldsSerializer):
    name = serializers.CharField(max_length=63, validators=[model_name_validator])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ModelUpdateSerializer(_ModelFieldsSerializer):
    is_retired = serializers.BooleanField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


# --- Evaluations ------------------------------------------------------------------------


class TallySerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Golden items compared (each once, however many raters).")
    wins = serializers.IntegerField()
    ties = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.FloatField(help_text="(wins + ties / 2) / n")
    lower = serializers.FloatField(help_text="Lower bound of the Wilson 95% interval.")
    upper = serializers.FloatField(help_text="Upper bound of the Wilson 95% interval.")


class IntentTallySerializer(serializers.Serializer):
    n = serializers.IntegerField()
    win_rate = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class EvidenceSummarySerializer(serializers.Serializer):
    """What a side-by-side run's verdicts add up to (the run itself has every figure)."""

    overall = TallySerializer()
    per_intent = serializers.DictField(child=IntentTallySerializer(), help_text="Intent -> its tally.")
    human_share = serializers.FloatField(help_text="Share of the compared items a human rated.")
    judge_human_kappa = serializers.FloatField(
        allow_null=True, help_text="Cohen's kappa, model judge against humans; null when undefined."
    )


class EvaluationOutputSerializer(serializers.ModelSerializer):
    baseline_version = serializers.CharField(source="baseline")
    ran_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    metrics = serializers.DictField(child=serializers.FloatField())
    per_intent = serializers.DictField(child=serializers.FloatField())
    supported_by = serializers.SerializerMethodField(
        help_text="verdicts: computed from a side-by-side run (sbs_run); typed: typed in by hand, which the "
        "gate's evidence rules (bound lower_ci, min_n, human share, kappa) do not accept."
    )
    sbs_run = serializers.SerializerMethodField(help_text="The side-by-side run's id; null when typed.")
    evidence = serializers.SerializerMethodField(help_text="The run's figures in short; null when typed.")

    class Meta:
        model = EvaluationResult
        fields = [
            "id",
            "suite",
            "golden_set_sha256",
            "baseline_version",
            "metrics",
            "per_intent",
            "ran_by",
            "ran_at",
            "created_at",
            "supported_by",
            "sbs_run",
            "evidence",
        ]

    def to_representation(self, evaluation) -> dict:
        # Hand-written because list pages render hundreds of these; the declared
        # fields above give the schema, and a test keeps the two identical.
        return evaluation_shown(evaluation if isinstance(evaluation, dict) else evaluation_row(evaluation))

    @extend_schema_field(serializers.ChoiceField(choices=[selectors.SUPPORTED_BY_VERDICTS, selectors.TYPED]))
    def get_supported_by(self, evaluation: EvaluationResult) -> str:
        return selectors.evaluation_support(evaluation_row(evaluation))["supported_by"]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_sbs_run(self, evaluation: EvaluationResult) -> int | None:
        return selectors.evaluation_support(evaluation_row(evaluation))["sbs_run"]

    @extend_schema_field(EvidenceSummarySerializer(allow_null=True))
    def get_evidence(self, evaluation: EvaluationResult) -> dict | None:
        return selectors.evaluation_support(evaluation_row(evaluation))["evidence"]


class EvaluationInputSerializer(StrictInputSerializer):
    suite = serializers.CharField(max_length=100)
    golden_set_sha256 = serializers.CharField(validators=[sha256_validator])
    baseline_version = serializers.CharField(required=False, allow_blank=True, max_length=100)
    # Checked strictly by the service (numbers only, ranges per metric), so every
    # bad entry is named as metrics.<name>.
    metrics = serializers.DictField(help_text='Metric name -> number, e.g. {"win_rate": 0.61}.')
    per_intent = serializers.DictField(required=False, help_text="Intent tag -> win rate in [0, 1].")
    ran_at = serializers.DateTimeField(required=False)


# --- Versions -------------------------------------------------------------------------------


class JobSerializer(serializers.Serializer):
    """The version's fine-tune job as the provider last reported it."""

    status = serializers.CharField(source="job_status", help_text="validating_files, queued, running, ... or ''.")
    trained_tokens = serializers.IntegerField(allow_null=True)
    hyperparameters = serializers.DictField()
    seed = serializers.IntegerField(allow_null=True)
    error_code = serializers.CharField(source="job_error_code")
    error_message = serializers.CharField(source="job_error_message")
    finished_at = serializers.DateTimeField(source="job_finished_at", allow_null=True)
    result_files = serializers.ListField(child=serializers.CharField())


class CheckpointSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="provider_checkpoint_id")
    metrics = serializers.DictField(child=serializers.FloatField())

    class Meta:
        model = Checkpoint
        fields = ["id", "step_number", "fine_tuned_model_checkpoint", "metrics", "created_at"]


class ServingDeploymentSerializer(serializers.Serializer):
    """Where the provider serves a fine-tuned model only once deployed (Azure): the deployment and its state."""

    name = serializers.CharField(help_text="The deployment's name at the provider.")
    state = serializers.ChoiceField(
        choices=ServingState.choices,
        help_text="As the sync last saw it; missing: deleted (Azure deletes one unused for 15 days).",
    )

    def to_representation(self, version) -> dict | None:
        row = version if isinstance(version, dict) else {f: getattr(version, f) for f in SERVING_FIELDS}
        return serving_block(row)


class ServingDeployInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=64, help_text="The deployment's name at the provider, e.g. support-v4.")


class DataCardTokensSerializer(serializers.Serializer):
    min = serializers.IntegerField(allow_null=True)
    p50 = serializers.IntegerField(allow_null=True)
    p95 = serializers.IntegerField(allow_null=True)
    max = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField(allow_null=True)
    assistant_total = serializers.IntegerField(allow_null=True, help_text="Tokens in assistant turns (trained on).")
    over_context = serializers.IntegerField(
        allow_null=True, help_text="Examples over the base model's training context."
    )


class DataCardLeakageSerializer(serializers.Serializer):
    exact = serializers.IntegerField(help_text="Examples whose user turns match a golden prompt exactly.")
    near = serializers.IntegerField(help_text="... nearly (MinHash).")
    goldens = serializers.ListField(
        child=serializers.CharField(), help_text="SHA-256 of the golden sets the check compared against."
    )


class DataCardOverrideSerializer(serializers.Serializer):
    justification = serializers.CharField()
    by = serializers.CharField()
    at = serializers.DateTimeField()


class DataCardEntrySerializer(serializers.Serializer):
    """One dataset the version names, as its latest finished check measured it."""

    sha256 = serializers.CharField()
    examples = serializers.IntegerField(allow_null=True)
    tokens = DataCardTokensSerializer()
    cost = serializers.DictField(
        allow_null=True, help_text="The forecast: epochs, billed_tokens, usd and the price row used."
    )
    blocking = serializers.IntegerField(help_text="Blocking findings.")
    warnings = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Findings by code or severity.")
    leakage = DataCardLeakageSerializer()
    checked_at = serializers.DateTimeField()
    overridden = serializers.BooleanField(
        help_text="Compliance overrode its blocking findings (for this report); flagged like a gate override."
    )
    override = DataCardOverrideSerializer(allow_null=True)


class DataCardSerializer(serializers.Serializer):
    """The version's data as the datasets app checked it; a file never checked (or not yet) is null."""

    training = DataCardEntrySerializer(allow_null=True)
    validation = DataCardEntrySerializer(allow_null=True, help_text="null also when it names no validation file.")

    def to_representation(self, card: dict) -> dict:
        return {role: DataCardEntrySerializer(entry).data if entry else None for role, entry in card.items()}


class VersionOutputSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    provider = serializers.ChoiceField(
        choices=Provider.choices, read_only=True, help_text="Who trains it: its model's provider when registered."
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    job = JobSerializer(source="*", read_only=True)
    evaluations = EvaluationOutputSerializer(many=True, read_only=True, source="evaluation_list")
    lifecycle = LifecycleSerializer(
        source="runway", read_only=True, help_text="The runway of its fine-tuned model, else of its base model."
    )
    serving_deployment = ServingDeploymentSerializer(
        source="*",
        read_only=True,
        allow_null=True,
        help_text="null: none (OpenAI needs none; an Azure version is not deployed yet).",
    )
    data_card = DataCardSerializer(
        read_only=True,
        allow_null=True,
        help_text="null: neither its training nor its validation file has a finished check (POST /api/v1/datasets/).",
    )

    class Meta:
        model = ModelVersion
        fields = [
            "model",
            "version",
            "provider",
            "base_model",
            "training_file_sha256",
            "validation_file_sha256",
            "training_file_id",
            "validation_file_id",
            "changelog",
            "provider_job_id",
            "fine_tuned_model",
            "status",
            "created_by",
            "created_at",
            "updated_at",
            "retired_at",
            "job",
            "evaluations",
            "lifecycle",
            "serving_deployment",
            "data_card",
        ]

    def _zone(self):
        # Read once per serializer: a page's rows share one child serializer, which lives for one response.
        zone = self.__dict__.get("_current_zone")
        if zone is None:
            zone = self.__dict__["_current_zone"] = timezone.get_current_timezone()
        return zone

    def to_representation(self, version) -> dict:
        # Hand-written for list pages, like EvaluationOutputSerializer's. A list page
        # passes rows (registry.selectors.version_list, with_evaluations, with_runways);
        # everything else, instances. The record itself is built once, in registry.selectors.
        row = version if isinstance(version, dict) else version_row(version)
        record = version_record(row, self._zone())
        return {
            **record,
            # The record's evaluations and what supports each, kept out of the record (its fingerprint):
            # evaluation_shown, reusing the entries the record holds.
            "evaluations": [
                {**entry, **evaluation_support(e)}
                for entry, e in zip(record["evaluations"], row["evaluations"], strict=True)
            ],
            "lifecycle": lifecycle_block(row["runway"]),
            "serving_deployment": serving_block(row),
            # Kept out of the record, like the runway: checking the data again changes it.
            "data_card": DataCardSerializer(row["data_card"]).data if row["data_card"] else None,
        }


class VersionDetailSerializer(VersionOutputSerializer):
    """One version: what the list shows, plus the metrics of its job's latest checkpoint."""

    latest_checkpoint = CheckpointSerializer(read_only=True, allow_null=True)

    class Meta(VersionOutputSerializer.Meta):
        fields = [*VersionOutputSerializer.Meta.fields, "latest_checkpoint", "evidence_hold"]

    def to_representation(self, version: ModelVersion | dict) -> dict:
        # An instance (selectors.version_get), or a row (selectors.version_detail: the GET's, read faster).
        row = version if isinstance(version, dict) else None
        checkpoint = row["latest_checkpoint"] if row else version.latest_checkpoint
        return {
            **super().to_representation(version),
            "latest_checkpoint": CheckpointSerializer(checkpoint).data if checkpoint else None,
            # Set while a serious incident freezes the record as evidence (changes answer 409).
            "evidence_hold": row["evidence_hold"] if row else version.evidence_hold,
        }


class VersionRegisterSerializer(StrictInputSerializer):
    version = serializers.CharField(max_length=64, validators=[version_label_validator])
    base_model = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="What it trains on; default: the model's base model. A shut-down base answers 409 model_shut_down.",
    )
    training_file_sha256 = serializers.CharField(validators=[sha256_validator])
    validation_file_sha256 = serializers.CharField(required=False, allow_blank=True, validators=[sha256_validator])
    training_file_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    validation_file_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    changelog = serializers.CharField(max_length=20000)
    provider_job_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    fine_tuned_model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    evaluations = EvaluationInputSerializer(many=True, required=False, max_length=10)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


# --- Audit entries and search ----------------------------------------------------------


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    history_id = serializers.IntegerField()
    object = serializers.CharField(required=False)
    object_id = serializers.IntegerField(required=False)
    at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    user = serializers.CharField(allow_null=True)
    on_behalf_of = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    changes = FieldChangeSerializer(many=True)


class VersionSearchSerializer(StrictInputSerializer):
    model = serializers.CharField(required=False, max_length=63)
    status = serializers.ChoiceField(choices=ModelVersion._meta.get_field("status").choices, required=False)
    base_model = serializers.CharField(required=False, max_length=100)
    dataset_sha256 = serializers.CharField(required=False, validators=[sha256_validator])
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.Field):
    """An object, sent as JSON or, in a multipart form, as a JSON string."""

    default_error_messages = {"invalid": "Must be a JSON object."}

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json_loads(data)  # the hygiene rules of a JSON body, for a form's JSON string
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class FineTuneLaunchSerializer(StrictInputSerializer):
    """Either upload the files (checked against the registered SHA-256) or name files already at the provider."""

    training_file = serializers.FileField(required=False, help_text="The training JSONL (multipart upload).")
    validation_file = serializers.FileField(required=False, help_text="The validation JSONL (multipart upload).")
    training_file_id = serializers.CharField(required=False, max_length=100, help_text="Or a provider file id.")
    validation_file_id = serializers.CharField(required=False, max_length=100)
    hyperparameters = JSONObjectField(required=False, help_text='e.g. {"n_epochs": 3}')
    method = JSONObjectField(required=False, help_text='e.g. {"type": "supervised", "supervised": {...}}')
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)

    def validate(self, attrs):
        if ("training_file" in attrs) == ("training_file_id" in attrs):
            raise serializers.ValidationError({"training_file": ["Upload training_file or give training_file_id."]})
        if "validation_file" in attrs and "validation_file_id" in attrs:
            raise serializers.ValidationError({"validation_file": ["Give validation_file or validation_file_id."]})
        return attrs


# --- Release gates --------------------------------------------------------------------------


class GateRuleResultSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="e.g. 'win_rate >= 0.55'")
    metric = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["pass", "fail", "missing"])
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.DictField(child=serializers.FloatField(), help_text="min and/or max")
    evaluation_id = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()
    intents = serializers.DictField(
        help_text="Per intent (per-intent rules only): value and outcome; for rules judged on a run's "
        "evidence also win_rate, lower, upper, n and the reason it fails ('' when it passes)."
    )


class GatePolicyRefSerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, help_text="null: the default policy from settings")
    source = serializers.ChoiceField(choices=["model", "default"])


class GateResultSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    policy = GatePolicyRefSerializer()
    rules = GateRuleResultSerializer(many=True)


class GatePolicySerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True)
    source = serializers.ChoiceField(choices=["model", "default"])
    rules = serializers.ListField(child=serializers.DictField())
    reason = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)


class GatePolicyCreateSerializer(StrictInputSerializer):
    rules = serializers.ListField(child=serializers.DictField(), help_text='e.g. [{"metric": "win_rate", "min": 0.55}]')
    reason = serializers.CharField(max_length=2000)


# --- Releases ------------------------------------------------------------------------------------


class PromotionSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.name", read_only=True)
    version = serializers.CharField(source="version.version", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    overridden = serializers.BooleanField(read_only=True)
    gate = serializers.SerializerMethodField()
    # Which API token each side acted with, by its prefix (null: from the admin).
    requested_with_token = serializers.SlugRelatedField(slug_field="prefix", read_only=True, allow_null=True)
    decided_with_token = serializers.SlugRelatedField(slug_field="prefix", read_only=True, allow_null=True)

    class Meta:
        model = Promotion
        fields = [
            "id",
            "model",
            "version",
            "target",
            "traffic_percent",
            "justification",
            "status",
            "requested_by",
            "requested_with_token",
            "requested_at",
            "decided_by",
            "decided_with_token",
            "decided_at",
            "decision_reason",
            "signature_meaning",
            "gate",
            "policy_version",
            "override_justification",
            "overridden",
            "record_sha256",
        ]

    @extend_schema_field(GateResultSerializer)
    def get_gate(self, promotion: Promotion) -> dict:
        # A decided promotion shows the gate as it was judged; a pending one, as it stands now.
        if promotion.status != PromotionStatus.PENDING:
            return promotion.gate_result
        return gates.gate_evaluate(promotion.version).as_dict()


class PromotionRequestSerializer(StrictInputSerializer):
    target = serializers.ChoiceField(choices=Environment.choices)
    traffic_percent = serializers.IntegerField(required=False, min_value=1, max_value=50)
    justification = serializers.CharField(max_length=5000)


class PromotionDecisionSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=5000)
    override_justification = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RollbackSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=5000)


class DeploymentSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="version.version")
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    promotion_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Deployment
        fields = [
            "environment",
            "version",
            "traffic_percent",
            "started_at",
            "ended_at",
            "approved_by",
            "kind",
            "promotion_id",
            "reason",
        ]


class WhatRanSerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True, help_text="The instant asked about; null: now.")
    environments = DeploymentSerializer(many=True, source="live", help_text="What served each environment then.")
    timeline = DeploymentSerializer(many=True, help_text="Every deployment of the model, oldest first.")


class WhatRanQuerySerializer(StrictInputSerializer):
    at = serializers.DateTimeField(required=False)


# --- Lifecycle: live deployments and their migration --------------------------------------------


class LifecycleQuerySerializer(StrictInputSerializer):
    within_days = serializers.IntegerField(
        required=False, min_value=0, max_value=36500, help_text="Only deployments shutting down within this many days."
    )
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    model = serializers.CharField(required=False, max_length=63, help_text="A registered model's name.")


class MigrationQuerySerializer(StrictInputSerializer):
    model = serializers.CharField(required=False, max_length=63, help_text="A registered model's name.")


class LiveDeploymentSerializer(serializers.Serializer):
    model = serializers.CharField(source="deployment.model.name")
    provider = serializers.CharField(source="deployment.version.provider", help_text="The provider that trained it.")
    environment = serializers.ChoiceField(choices=Environment.choices, source="deployment.environment")
    version = serializers.CharField(source="deployment.version.version")
    traffic_percent = serializers.IntegerField(source="deployment.traffic_percent")
    started_at = serializers.DateTimeField(source="deployment.started_at")
    lifecycle = LifecycleSerializer(source="runway", help_text="The runway of the version it serves.")


class LiveDeploymentListSerializer(serializers.Serializer):
    on = serializers.DateField(help_text="The day the days left are counted from (today).")
    results = LiveDeploymentSerializer(many=True, help_text="Soonest shutdown first; no shutdown announced last.")


class MigrationCandidateSerializer(serializers.Serializer):
    version = serializers.CharField(source="version.version")
    status = serializers.CharField(source="version.status")
    base_model = serializers.CharField(source="version.base_model")
    lifecycle = LifecycleSerializer(source="runway")
    gate = GateResultSerializer(help_text="Judged against the current production version.")

    def to_representation(self, candidate) -> dict:
        return {**super().to_representation(candidate), "gate": candidate.gate.as_dict()}


class MigrationPlanSerializer(LiveDeploymentSerializer):
    deadline = serializers.DateField(allow_null=True, help_text="The shutdown date of the deployment's base model.")
    ready = serializers.BooleanField(help_text="A candidate on an active base model passes the gate today.")
    candidates = MigrationCandidateSerializer(many=True, help_text="Versions of the same model on an active base.")

    def to_representation(self, plan) -> dict:
        return {
            **LiveDeploymentSerializer(plan.live).data,
            "deadline": plan.deadline.isoformat() if plan.deadline else None,
            "ready": plan.ready,
            "candidates": MigrationCandidateSerializer(plan.candidates, many=True).data,
        }


class MigrationPlanListSerializer(serializers.Serializer):
    on = serializers.DateField(help_text="The day the days left are counted from (today).")
    results = MigrationPlanSerializer(many=True, help_text="Each live deployment on a retiring base, soonest first.")
