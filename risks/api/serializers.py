from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import StrictInputSerializer
from registry.models import EvaluationResult, ModelVersion, RegisteredModel, sha256_validator
from risks.models import (
    Acceptance,
    ActionStatus,
    Category,
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
    SeriousKind,
    Severity,
    Treatment,
    TreatmentAction,
    Verdict,
)
from risks.scoring import Band
from risks.services import EDITABLE_STATUSES

User = get_user_model()
# Statuses set by editing (the others are decisions with their own endpoints).
EDITABLE_STATUS_CHOICES = [(s.value, s.label) for s in EDITABLE_STATUSES]
INCIDENT_OPEN_STATUS_CHOICES = [(s.value, s.label) for s in (IncidentStatus.OPEN, IncidentStatus.MITIGATED)]


def _person(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs)


def _scale() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=5)


@extend_schema_field({"type": "string", "example": "support-assistant:v3"})
class VersionRefField(serializers.Field):
    """A version named `model:version`, e.g. `support-assistant:v3`."""

    default_error_messages = {
        "format": "Name a version as model:version, e.g. support-assistant:v3.",
        "missing": "No version '{value}'.",
    }

    def to_internal_value(self, data) -> ModelVersion:
        if not isinstance(data, str) or data.count(":") != 1:
            self.fail("format")
        name, label = data.split(":")
        version = ModelVersion.objects.select_related("model").filter(model__name=name, version=label).first()
        if version is None:
            self.fail("missing", value=data)
        return version

    def to_representation(self, version: ModelVersion) -> str:
        return f"{version.model.name}:{version.version}"


class _ModelNames(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=RegisteredModel.objects.all(), **kwargs)


# --- Risks ----------------------------------------------------------------------------


class RiskInputSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    statement = serializers.CharField(max_length=5000, help_text="Cause -> event -> consequence.")
    category = serializers.ChoiceField(choices=Category.choices)
    owner = _person()
    delegate = _person(required=False, allow_null=True)
    inherent_likelihood = _scale()
    inherent_impact = _scale()
    residual_likelihood = _scale()
    residual_impact = _scale()
    treatment = serializers.ChoiceField(choices=Treatment.choices, required=False)
    mitigation = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    status = serializers.ChoiceField(
        choices=EDITABLE_STATUS_CHOICES,
        required=False,
        help_text="Accepted and closed are decisions: POST .../accept/ and .../close/.",
    )
    models = serializers.ListField(child=_ModelNames(), required=False, source="registered_models")
    versions = serializers.ListField(child=VersionRefField(), required=False, source="model_versions")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class RiskOutputSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    delegate = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    models = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True, source="registered_models")
    inherent_band = serializers.ChoiceField(choices=Band.choices)
    residual_band = serializers.ChoiceField(choices=Band.choices)
    overdue = serializers.BooleanField(read_only=True)
    over_appetite = serializers.BooleanField(read_only=True)

    class Meta:
        model = Risk
        fields = [
            "reference",
            "title",
            "statement",
            "category",
            "owner",
            "delegate",
            "inherent_likelihood",
            "inherent_impact",
            "inherent_score",
            "inherent_band",
            "residual_likelihood",
            "residual_impact",
            "residual_score",
            "residual_band",
            "matrix_version",
            "over_appetite",
            "treatment",
            "mitigation",
            "status",
            "models",
            "last_reviewed_at",
            "next_review_at",
            "overdue",
            "breached",
            "breached_since",
            "created_at",
            "updated_at",
        ]


class ActionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = TreatmentAction
        fields = ["id", "action", "owner", "due_on", "status", "completed_at", "overdue"]


class ActionCreateSerializer(StrictInputSerializer):
    action = serializers.CharField(max_length=5000)
    owner = _person()
    due_on = serializers.DateField()
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ActionUpdateSerializer(StrictInputSerializer):
    action = serializers.CharField(max_length=5000, required=False)
    owner = _person(required=False)
    due_on = serializers.DateField(required=False)
    status = serializers.ChoiceField(choices=ActionStatus.choices, required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AcceptanceSerializer(serializers.ModelSerializer):
    accepted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Acceptance
        fields = [
            "id",
            "accepted_by",
            "authority",
            "rationale",
            "conditions",
            "accepted_at",
            "expires_at",
            "residual_score",
            "residual_band",
            "status",
            "ended_at",
        ]


class AcceptInputSerializer(StrictInputSerializer):
    rationale = serializers.CharField(max_length=5000)
    expires_at = serializers.DateTimeField()
    conditions = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class ReasonInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000)


class ReviewInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    reviewed_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the review was held; now when omitted."
    )


class HeatmapAxisSerializer(serializers.Serializer):
    value = serializers.IntegerField(min_value=1, max_value=5)
    name = serializers.CharField()


class HeatmapSerializer(serializers.Serializer):
    inherent = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Rows: likelihood 1-5; columns: impact 1-5.",
    )
    residual = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    likelihood = HeatmapAxisSerializer(
        many=True, help_text="The rows' names, in row order: likelihood 1 (Rare) to 5 (Almost certain)."
    )
    impact = HeatmapAxisSerializer(
        many=True, help_text="The columns' names, in column order: impact 1 (Negligible) to 5 (Catastrophic)."
    )
    bands = serializers.ListField(
        child=serializers.ListField(child=serializers.ChoiceField(choices=Band.choices)),
        help_text="Each cell's band under the current matrix, laid out as the counts.",
    )
    matrix_version = serializers.CharField(help_text="The scoring matrix the bands come from.")


class RiskFilterSerializer(StrictInputSerializer):
    residual_band = serializers.ChoiceField(choices=Band.choices, required=False)
    inherent_band = serializers.ChoiceField(choices=Band.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    owner = serializers.CharField(max_length=150, required=False)
    status = serializers.ChoiceField(choices=RiskStatus.choices, required=False)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    breached = serializers.BooleanField(required=False, allow_null=True, default=None)
    over_appetite = serializers.BooleanField(required=False, allow_null=True, default=None)
    model = serializers.CharField(max_length=63, required=False)
    residual_likelihood = _scale()
    residual_impact = _scale()
    inherent_likelihood = _scale()
    inherent_impact = _scale()
    q = serializers.CharField(max_length=200, required=False)
    # Paging parameters pass through to the paginator.
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("residual_likelihood", "residual_impact", "inherent_likelihood", "inherent_impact"):
            self.fields[name].required = False


# --- Controls -------------------------------------------------------------------------


class ResultSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="name", read_only=True)
    version = serializers.SerializerMethodField()
    outcome = serializers.ChoiceField(choices=Outcome.choices)

    class Meta:
        model = MetricCheckResult
        fields = ["model", "version", "evaluation", "outcome", "value", "detail", "checked_at"]

    def get_version(self, result) -> str | None:
        return result.version.version if result.version_id else None


class MetricCheckSerializer(serializers.ModelSerializer):
    models = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True, source="watched_models")
    latest = ResultSerializer(many=True, read_only=True, help_text="The latest result per watched model.")

    class Meta:
        model = MetricCheck
        fields = ["id", "metric", "minimum", "maximum", "suite", "models", "latest"]


class MetricCheckInputSerializer(StrictInputSerializer):
    metric = serializers.CharField(max_length=100)
    minimum = serializers.FloatField(required=False, allow_null=True)
    maximum = serializers.FloatField(required=False, allow_null=True)
    suite = serializers.CharField(max_length=100, required=False, allow_blank=True)
    models = serializers.ListField(child=_ModelNames(), min_length=1, source="watched_models")
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class DocumentSerializer(serializers.ModelSerializer):
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    file = serializers.FileField(read_only=True, use_url=False)

    class Meta:
        model = DocumentEvidence
        fields = [
            "id",
            "title",
            "url",
            "file",
            "sha256",
            "period_start",
            "period_end",
            "reviewer",
            "verdict",
            "notes",
            "reviewed_at",
        ]


class DocumentInputSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    file = serializers.FileField(required=False, allow_null=True)
    sha256 = serializers.CharField(required=False, allow_blank=True, validators=[sha256_validator])
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    reviewer = _person()
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    reviewed_at = serializers.DateTimeField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class _RiskRefs(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="reference", queryset=Risk.objects.all(), **kwargs)


class ControlSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    risks = serializers.SlugRelatedField(slug_field="reference", many=True, read_only=True)
    documents = DocumentSerializer(many=True, read_only=True)
    metric_checks = MetricCheckSerializer(many=True, read_only=True)

    class Meta:
        model = Control
        fields = [
            "reference",
            "name",
            "description",
            "owner",
            "risks",
            "breached",
            "breached_since",
            "breach_detail",
            "documents",
            "metric_checks",
            "created_at",
            "updated_at",
        ]


class ControlInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=5000)
    owner = _person(required=False, allow_null=True)
    risks = serializers.ListField(child=_RiskRefs(), required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


# --- Incidents ------------------------------------------------------------------------


class ExampleSerializer(serializers.ModelSerializer):
    added_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentExample
        fields = ["id", "prompt", "bad_answer", "expected_answer", "added_by", "created_at"]


class ExampleInputSerializer(StrictInputSerializer):
    prompt = serializers.CharField(max_length=20000)
    bad_answer = serializers.CharField(max_length=20000)
    expected_answer = serializers.CharField(max_length=20000, required=False, allow_blank=True)


class IncidentSerializer(serializers.ModelSerializer):
    version = VersionRefField(
        read_only=True, allow_null=True, help_text="Null for an incident about Fineprint's audit trail."
    )
    subject = serializers.CharField(
        read_only=True, help_text="What it is about in words: the version, or 'Fineprint audit trail'."
    )
    guard_version = VersionRefField(read_only=True, allow_null=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    risks = serializers.SlugRelatedField(slug_field="reference", many=True, read_only=True)
    evaluations = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Evaluation result ids.")
    examples = ExampleSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "reference",
            "title",
            "version",
            "subject",
            "reporter",
            "occurred_at",
            "aware_at",
            "description",
            "impact",
            "affected_stakeholders",
            "severity",
            "serious",
            "serious_kind",
            "reporting_deadline",
            "reported_to_authority_at",
            "frozen_record_sha256",
            "root_cause",
            "fix",
            "guard_examples",
            "guard_version",
            "status",
            "closed_at",
            "closed_by",
            "risks",
            "evaluations",
            "examples",
            "created_at",
            "updated_at",
        ]


class IncidentReportSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    version = VersionRefField()
    occurred_at = serializers.DateTimeField()
    aware_at = serializers.DateTimeField()
    description = serializers.CharField(max_length=20000)
    impact = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    affected_stakeholders = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices)
    serious = serializers.BooleanField(required=False, default=False)
    serious_kind = serializers.ChoiceField(choices=SeriousKind.choices, required=False, allow_blank=True)
    risks = serializers.ListField(child=_RiskRefs(), required=False)
    examples = ExampleInputSerializer(many=True, required=False, max_length=50)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class IncidentUpdateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200, required=False)
    occurred_at = serializers.DateTimeField(required=False)
    aware_at = serializers.DateTimeField(required=False)
    description = serializers.CharField(max_length=20000, required=False)
    impact = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    affected_stakeholders = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    serious = serializers.BooleanField(required=False)
    serious_kind = serializers.ChoiceField(choices=SeriousKind.choices, required=False, allow_blank=True)
    reported_to_authority_at = serializers.DateTimeField(required=False, allow_null=True)
    root_cause = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    fix = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    guard_examples = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    guard_version = VersionRefField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=INCIDENT_OPEN_STATUS_CHOICES, required=False)
    risks = serializers.ListField(child=_RiskRefs(), required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class EvidenceInputSerializer(StrictInputSerializer):
    evaluation = serializers.PrimaryKeyRelatedField(
        queryset=EvaluationResult.objects.select_related("version__model"),
        help_text="The id of an evaluation result (as the version's evaluations list it).",
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class IncidentFilterSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    serious = serializers.BooleanField(required=False, allow_null=True, default=None)
    model = serializers.CharField(max_length=63, required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False)


class ControlFilterSerializer(StrictInputSerializer):
    breached = serializers.BooleanField(required=False, allow_null=True, default=None)
    risk = serializers.CharField(max_length=16, required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False)


class IncidentSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Incident
        fields = ["reference", "title", "severity", "serious", "status", "reporting_deadline"]


class RiskDetailSerializer(RiskOutputSerializer):
    versions = serializers.SerializerMethodField()
    actions = ActionSerializer(many=True, read_only=True)
    acceptances = AcceptanceSerializer(many=True, read_only=True)
    controls = ControlSerializer(many=True, read_only=True)
    incidents = IncidentSummarySerializer(many=True, read_only=True)

    class Meta(RiskOutputSerializer.Meta):
        fields = [*RiskOutputSerializer.Meta.fields, "versions", "actions", "acceptances", "controls", "incidents"]

    def get_versions(self, risk) -> list[str]:
        """Versions as model:version."""
        return [f"{v.model.name}:{v.version}" for v in risk.version_list]
