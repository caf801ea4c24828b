from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from core.api import StableCursorPagination
from core.idempotency import HEADER as IDEMPOTENCY_HEADER
from core.idempotency import idempotent
from core.parsers import JSONParser, MultiPartParser
from core.roles import READERS, Role
from core.serializers import validated
from lifecycle.selectors import today
from registry import cards, fine_tuning, gates, migration, releases, runway, selectors, services
from registry.api.serializers import (
    CheckpointSerializer,
    DeploymentSerializer,
    EvaluationInputSerializer,
    EvaluationOutputSerializer,
    FineTuneLaunchSerializer,
    GatePolicyCreateSerializer,
    GatePolicySerializer,
    GateResultSerializer,
    HistoryEntrySerializer,
    LifecycleQuerySerializer,
    LiveDeploymentListSerializer,
    MigrationPlanListSerializer,
    MigrationQuerySerializer,
    ModelCreateSerializer,
    ModelOutputSerializer,
    ModelUpdateSerializer,
    PromotionDecisionSerializer,
    PromotionRequestSerializer,
    PromotionSerializer,
    RollbackSerializer,
    ServingDeployInputSerializer,
    VersionDetailSerializer,
    VersionOutputSerializer,
    VersionRegisterSerializer,
    VersionSearchSerializer,
    WhatRanQuerySerializer,
    WhatRanSerializer,
)
from registry.data_cards import with_data_cards
from registry.models import Promotion

ENGINEERS = {Role.ENGINEER}
ERRORS = {
    400: OpenApiResponse(description="Invalid input: `error.fields` names each field and the reason."),
    401: OpenApiResponse(description="No valid token."),
    403: OpenApiResponse(description="Your role may not do this."),
    404: OpenApiResponse(description="No such model or version."),
}


class ModelListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": ENGINEERS}
    serializer_class = ModelOutputSerializer
    pagination_class = StableCursorPagination

    def get_queryset(self):
        return selectors.model_list()

    @extend_schema(summary="List registered models", responses={200: ModelOutputSerializer(many=True)})
    def get(self, request):
        page = selectors.models_with_runways(self.paginate_queryset(self.get_queryset()))
        return self.get_paginated_response(ModelOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Register a model",
        request=ModelCreateSerializer,
        responses={
            201: ModelOutputSerializer,
            409: OpenApiResponse(description="Name taken, or the base model has shut down (`model_shut_down`)."),
            **ERRORS,
        },
    )
    def post(self, request):
        data = validated(ModelCreateSerializer, request.data)
        model = services.model_create(actor=request.user, **data)
        return Response(ModelOutputSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailView(generics.GenericAPIView):
    roles = {"GET": READERS, "PATCH": {Role.ENGINEER, Role.COMPLIANCE}}
    serializer_class = ModelOutputSerializer

    @extend_schema(summary="Get a model", responses={200: ModelOutputSerializer, **ERRORS})
    def get(self, request, name: str):
        return Response(ModelOutputSerializer(selectors.model_get(name=name)).data)

    @extend_schema(
        summary="Change a model",
        description="Owners, risk tier and retirement are governance fields: compliance staff only (403 otherwise).",
        request=ModelUpdateSerializer,
        responses={
            200: ModelOutputSerializer,
            409: OpenApiResponse(description="The new base model has shut down (`model_shut_down`)."),
            **ERRORS,
        },
    )
    def patch(self, request, name: str):
        model = selectors.model_get(name=name)
        data = validated(ModelUpdateSerializer, request.data, partial=True)
        reason = data.pop("reason", "")
        model = services.model_update(model=model, actor=request.user, data=data, reason=reason)
        return Response(ModelOutputSerializer(selectors.model_get(name=model.name)).data)


class ModelVersionListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": ENGINEERS}
    serializer_class = VersionOutputSerializer
    pagination_class = StableCursorPagination

    @extend_schema(summary="List a model's versions, newest first", responses={200: VersionOutputSerializer(many=True)})
    def get(self, request, name: str):
        # Reads compiled once per process (core.sqlcache): compiling them cost more than the rest of the page.
        model_id = selectors.model_id_get(name=name)
        page = with_data_cards(
            selectors.with_runways(
                selectors.with_evaluations(self.paginate_queryset(selectors.version_rows(model_id=model_id)))
            )
        )
        return self.get_paginated_response(VersionOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Register a version",
        description=(
            "Registers a version in status `draft`, optionally with its first evaluations inline. "
            f"Send an `{IDEMPOTENCY_HEADER}` header to make retries safe: a retry returns the first answer."
        ),
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        request=VersionRegisterSerializer,
        responses={
            201: VersionOutputSerializer,
            409: OpenApiResponse(
                description="The version already exists (`conflict`), or its base model has shut down "
                "(`model_shut_down`: the message names the model and the date)."
            ),
            **ERRORS,
        },
    )
    def post(self, request, name: str):
        model = selectors.model_get(name=name, with_people=False)

        def register() -> Response:
            data = validated(VersionRegisterSerializer, request.data)
            version = services.version_register(model=model, actor=request.user, **data)
            return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)

        return idempotent(request, register)


class VersionDetailView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = VersionDetailSerializer

    @extend_schema(
        summary="Get a version with its evaluations, its job and the job's latest checkpoint",
        responses={200: VersionDetailSerializer, **ERRORS},
    )
    def get(self, request, name: str, version: str):
        return Response(VersionDetailSerializer(selectors.version_detail(model_name=name, version=version)).data)


class CheckpointPagination(StableCursorPagination):
    ordering = "-step_number"


class CheckpointListView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = CheckpointSerializer
    pagination_class = CheckpointPagination

    @extend_schema(
        summary="List the checkpoints of a version's fine-tune job, latest first",
        responses={200: CheckpointSerializer(many=True)},
    )
    def get(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        page = self.paginate_queryset(selectors.checkpoint_list(version=version_obj))
        return self.get_paginated_response(CheckpointSerializer(page, many=True).data)


class EvaluationListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": ENGINEERS}
    serializer_class = EvaluationOutputSerializer
    pagination_class = StableCursorPagination

    @extend_schema(summary="List a version's evaluations", responses={200: EvaluationOutputSerializer(many=True)})
    def get(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        page = self.paginate_queryset(selectors.evaluation_list(version=version_obj))
        return self.get_paginated_response(EvaluationOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Record an evaluation",
        request=EvaluationInputSerializer,
        responses={201: EvaluationOutputSerializer, 409: OpenApiResponse(description="Version retired."), **ERRORS},
    )
    def post(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        data = validated(EvaluationInputSerializer, request.data)
        evaluation = services.evaluation_record(version=version_obj, actor=request.user, **data)
        return Response(EvaluationOutputSerializer(evaluation).data, status=status.HTTP_201_CREATED)


_METRIC_PARAMETERS = [
    OpenApiParameter(
        f"{metric}__{op}",
        OpenApiTypes.NUMBER,
        description=f"Versions with an evaluation whose {metric} is {label} this value. "
        "Any metric name works the same way: `<metric>__gte|gt|lte|lt`.",
    )
    for metric in ("win_rate", "refusal_rate", "p95_latency_ms", "golden_score")
    for op, label in (("gte", "at least"), ("lte", "at most"))
]


class VersionSearchView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = VersionOutputSerializer
    pagination_class = StableCursorPagination

    @extend_schema(
        summary="Search versions across models",
        parameters=[VersionSearchSerializer, *_METRIC_PARAMETERS],
        responses={200: VersionOutputSerializer(many=True), 400: ERRORS[400]},
    )
    def get(self, request):
        params = request.query_params.dict()
        metric_params, rest = selectors.metric_filters_from(params)
        data = validated(VersionSearchSerializer, {key: params[key] for key in rest})
        number = serializers.FloatField()
        metrics, errors = [], {}
        for metric, op, raw in metric_params:
            try:
                metrics.append((metric, op, number.run_validation(raw)))
            except serializers.ValidationError as exc:
                errors[f"{metric}__{op}"] = exc.detail
        if errors:
            raise serializers.ValidationError(errors)
        filters = selectors.VersionFilters(
            **{k: v for k, v in data.items() if k not in ("cursor", "page_size")}, metrics=tuple(metrics)
        )
        page = with_data_cards(
            selectors.with_runways(
                selectors.with_evaluations(self.paginate_queryset(selectors.version_rows(filters=filters)))
            )
        )
        return self.get_paginated_response(VersionOutputSerializer(page, many=True).data)


class ModelHistoryView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = HistoryEntrySerializer

    @extend_schema(summary="Audit trail of a model", responses={200: HistoryEntrySerializer(many=True), **ERRORS})
    def get(self, request, name: str):
        entries = selectors.model_history(model=selectors.model_get(name=name))
        return Response(HistoryEntrySerializer(entries, many=True).data)


class VersionHistoryView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = HistoryEntrySerializer

    @extend_schema(
        summary="Audit trail of a version and its evaluations",
        responses={200: HistoryEntrySerializer(many=True), **ERRORS},
    )
    def get(self, request, name: str, version: str):
        entries = selectors.version_history(version=selectors.version_get(model_name=name, version=version))
        return Response(HistoryEntrySerializer(entries, many=True).data)


def _dataset(upload, file_id: str | None, default_name: str) -> fine_tuning.Dataset | None:
    if upload is not None:
        return fine_tuning.Dataset(content=upload.read(), filename=upload.name or default_name)
    if file_id:
        return fine_tuning.Dataset(file_id=file_id)
    return None


class FineTuneLaunchView(generics.GenericAPIView):
    roles = {"POST": ENGINEERS}
    serializer_class = FineTuneLaunchSerializer
    parser_classes = [MultiPartParser.limited_by("TRAINING_FILE_MAX_UPLOAD_BYTES"), JSONParser]

    @extend_schema(
        summary="Start the fine-tune job of a registered version",
        description=(
            "Multipart: `training_file` (and `validation_file`) uploads, whose SHA-256 must equal the hashes "
            "registered on the version (409 with both hashes otherwise, and nothing is uploaded). JSON: "
            "`training_file_id` (and `validation_file_id`) of files already at the provider. Optional "
            "`hyperparameters`, `method` and `seed`. The job starts at the version's `provider` (its model's "
            "provider when the version was registered); a provider that is not configured answers 400, "
            "`error.fields.provider` naming the missing setting. The version moves to `training`; its job is "
            "then kept in sync."
        ),
        request={"multipart/form-data": FineTuneLaunchSerializer, "application/json": FineTuneLaunchSerializer},
        responses={
            201: VersionDetailSerializer,
            409: OpenApiResponse(
                description="Refused before anything is uploaded: a hash mismatch or a job already started "
                "(`conflict`); the base model has shut down (`model_shut_down`, naming the model and the date); the "
                "provider accepts no new fine-tuning jobs (`provider_closed`, naming its last day); the provider "
                "does not fine-tune the base model (`conflict`, field `base_model`); or the data's pre-check has "
                "blocking findings Compliance has not overridden for its current report (`dataset_blocked`: "
                "`blocking_findings` lists each with `file`, `sha256`, `code`, `line` and `severity`; data never "
                "checked is not refused)."
            ),
            502: OpenApiResponse(description="The provider refused."),
            503: OpenApiResponse(description="The provider is unavailable; retry later."),
            **ERRORS,
        },
    )
    def post(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        data = validated(FineTuneLaunchSerializer, request.data)
        launched = fine_tuning.version_fine_tune_launch(
            version=version_obj,
            actor=request.user,
            training=_dataset(data.get("training_file"), data.get("training_file_id"), "training.jsonl"),
            validation=_dataset(data.get("validation_file"), data.get("validation_file_id"), "validation.jsonl"),
            hyperparameters=data.get("hyperparameters"),
            method=data.get("method"),
            seed=data.get("seed"),
        )
        detail = selectors.version_get(model_name=name, version=launched.version)
        return Response(VersionDetailSerializer(detail).data, status=status.HTTP_201_CREATED)


class ServingDeploymentView(generics.GenericAPIView):
    roles = {"POST": {Role.ENGINEER, Role.COMPLIANCE}}
    serializer_class = ServingDeployInputSerializer

    @extend_schema(
        summary="Deploy a version's fine-tuned model, where its provider serves one only once deployed (Azure)",
        description=(
            "Creates (or updates) the deployment `name` of the version's fine-tuned model at the provider and "
            "records its name and state on the version; the sync then follows the state (`creating`, `succeeded`, "
            "`failed`, or `missing` once Azure deleted it after 15 days unused). A promotion's gate fails its "
            "`serving_deployment` rule until the state is `succeeded`. Sending the same name again while it is "
            "creating or serving changes nothing."
        ),
        request=ServingDeployInputSerializer,
        responses={
            200: VersionDetailSerializer,
            409: OpenApiResponse(
                description="The provider needs no deployment (OpenAI), the job has not succeeded yet, or the "
                "version is frozen as evidence."
            ),
            502: OpenApiResponse(description="The provider refused."),
            503: OpenApiResponse(description="The provider is unavailable; retry later."),
            **ERRORS,
        },
    )
    def post(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        data = validated(ServingDeployInputSerializer, request.data)
        fine_tuning.version_serving_deploy(version=version_obj, actor=request.user, name=data["name"])
        return Response(VersionDetailSerializer(selectors.version_get(model_name=name, version=version)).data)


class GateView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = GateResultSerializer

    @extend_schema(
        summary="Judge a version against its model's gate policy, rule by rule",
        responses={200: GateResultSerializer, **ERRORS},
    )
    def get(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        return Response(gates.gate_evaluate(version_obj).as_dict())


def _policy_data(model) -> dict:
    policy = model.gate_policies.select_related("created_by").order_by("-version").first()
    if policy is None:
        return {
            "version": None,
            "source": "default",
            "rules": gates.policy_in_effect(model).rules,
            "reason": "",
            "created_by": None,
            "created_at": None,
        }
    return {
        "version": policy.version,
        "source": "model",
        "rules": policy.rules,
        "reason": policy.reason,
        "created_by": policy.created_by.get_username(),
        "created_at": policy.created_at,
    }


class GatePolicyView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": {Role.COMPLIANCE}}
    serializer_class = GatePolicySerializer

    @extend_schema(summary="The gate policy in effect for a model (its latest version, or the default)")
    def get(self, request, name: str):
        return Response(GatePolicySerializer(_policy_data(selectors.model_get(name=name))).data)

    @extend_schema(
        summary="Change a model's gate policy (a new version; earlier ones are kept)",
        request=GatePolicyCreateSerializer,
        responses={201: GatePolicySerializer, **ERRORS},
    )
    def post(self, request, name: str):
        model = selectors.model_get(name=name)
        data = validated(GatePolicyCreateSerializer, request.data)
        gates.gate_policy_create(model=model, actor=request.user, rules=data["rules"], reason=data["reason"])
        return Response(GatePolicySerializer(_policy_data(model)).data, status=status.HTTP_201_CREATED)


class VersionPromotionsView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": ENGINEERS}
    serializer_class = PromotionSerializer

    @extend_schema(summary="A version's promotions, newest first", responses={200: PromotionSerializer(many=True)})
    def get(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        promotions = version_obj.promotions.select_related(
            "version__model", "requested_by", "decided_by", "requested_with_token", "decided_with_token"
        )
        return Response(PromotionSerializer(promotions, many=True).data)

    @extend_schema(
        summary="Request a promotion to canary or production",
        request=PromotionRequestSerializer,
        responses={
            201: PromotionSerializer,
            409: OpenApiResponse(description="Not promotable, or already pending."),
            **ERRORS,
        },
    )
    def post(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        data = validated(PromotionRequestSerializer, request.data)
        promotion = releases.promotion_request(version=version_obj, actor=request.user, token=request.auth, **data)
        return Response(PromotionSerializer(promotion).data, status=status.HTTP_201_CREATED)


class _PromotionDecisionView(generics.GenericAPIView):
    roles = {"POST": {Role.COMPLIANCE}}
    serializer_class = PromotionSerializer

    def _promotion(self, name: str, version: str, promotion_id: int):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        return get_object_or_404(Promotion, pk=promotion_id, version=version_obj)


class PromotionApproveView(_PromotionDecisionView):
    @extend_schema(
        summary="Approve a promotion (four eyes: not by its requester); it takes effect at once",
        request=PromotionDecisionSerializer,
        responses={
            200: PromotionSerializer,
            409: OpenApiResponse(description="Decided, or the environment changed."),
            **ERRORS,
        },
    )
    def post(self, request, name: str, version: str, promotion_id: int):
        promotion = self._promotion(name, version, promotion_id)
        data = validated(PromotionDecisionSerializer, request.data)
        approved = releases.promotion_approve(promotion=promotion, actor=request.user, token=request.auth, **data)
        return Response(PromotionSerializer(approved).data)


class PromotionRejectView(_PromotionDecisionView):
    @extend_schema(
        summary="Reject a promotion (four eyes: not by its requester)",
        request=PromotionDecisionSerializer,
        responses={200: PromotionSerializer, **ERRORS},
    )
    def post(self, request, name: str, version: str, promotion_id: int):
        promotion = self._promotion(name, version, promotion_id)
        data = validated(PromotionDecisionSerializer, request.data)
        data.pop("override_justification", None)
        rejected = releases.promotion_reject(promotion=promotion, actor=request.user, token=request.auth, **data)
        return Response(PromotionSerializer(rejected).data)


class RollbackView(generics.GenericAPIView):
    roles = {"POST": {Role.ENGINEER, Role.COMPLIANCE}}
    serializer_class = DeploymentSerializer

    @extend_schema(
        summary="Put the previous approved production version back, now",
        request=RollbackSerializer,
        responses={200: DeploymentSerializer, 409: OpenApiResponse(description="Nothing to roll back to."), **ERRORS},
    )
    def post(self, request, name: str):
        model = selectors.model_get(name=name, with_people=False)
        data = validated(RollbackSerializer, request.data)
        deployment = releases.rollback(model=model, actor=request.user, reason=data["reason"])
        return Response(DeploymentSerializer(deployment).data)


class DeploymentsView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = WhatRanSerializer

    @extend_schema(
        summary="What served each environment at an instant (?at=, default now), and the whole timeline",
        parameters=[WhatRanQuerySerializer],
        responses={200: WhatRanSerializer, **ERRORS},
    )
    def get(self, request, name: str):
        model = selectors.model_get(name=name, with_people=False)
        data = validated(WhatRanQuerySerializer, request.query_params.dict())
        return Response(WhatRanSerializer(releases.deployments_at(model=model, at=data.get("at"))).data)


class ModelCardView(generics.GenericAPIView):
    roles = {"GET": READERS}

    @extend_schema(
        summary="The version's model card, generated from the records: Markdown (default) or PDF",
        parameters=[OpenApiParameter("as", OpenApiTypes.STR, enum=["md", "pdf"], description="md (default) or pdf")],
        responses={(200, "text/markdown"): OpenApiTypes.STR, (200, "application/pdf"): OpenApiTypes.BINARY, **ERRORS},
    )
    def get(self, request, name: str, version: str):
        version_obj = selectors.version_get(model_name=name, version=version, with_evaluations=False)
        kind = request.query_params.get("as", "md")
        if kind not in ("md", "pdf"):
            raise serializers.ValidationError({"as": ["md or pdf."]})
        data = cards.card_data(version_obj)
        filename = f"model-card-{version_obj.model.name}-{version_obj.version}"
        if kind == "pdf":
            response = HttpResponse(cards.card_pdf(data), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
        else:
            response = HttpResponse(cards.card_markdown(data), content_type="text/markdown; charset=utf-8")
            response["Content-Disposition"] = f'inline; filename="{filename}.md"'
        response["X-Card-SHA256"] = data["sha256"]
        return response


class LifecycleView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = LiveDeploymentListSerializer

    @extend_schema(
        summary="Every live deployment (production and canary) with its runway, soonest shutdown first",
        description=(
            "Not paged: bounded by the live deployments, two per model at most. A deployment whose base model "
            "has no announced shutdown (or that the catalogue does not know) comes last; `within_days` leaves "
            "those out. Read in a constant number of queries."
        ),
        parameters=[LifecycleQuerySerializer],
        responses={200: LiveDeploymentListSerializer, **ERRORS},
    )
    def get(self, request):
        data = validated(LifecycleQuerySerializer, request.query_params.dict())
        on = today()
        rows = runway.live_deployments(on=on, **data)
        return Response(LiveDeploymentListSerializer({"on": on, "results": rows}).data)


class MigrationView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = MigrationPlanListSerializer

    @extend_schema(
        summary="For each live deployment on a retiring base model, the versions that could replace it",
        description=(
            "Candidates are versions of the same model on a base model with no announced shutdown, with their "
            "gate result against the current production version. `ready`: one of them passes the gate; "
            "`deadline`: the base model's shutdown date."
        ),
        parameters=[MigrationQuerySerializer],
        responses={200: MigrationPlanListSerializer, **ERRORS},
    )
    def get(self, request):
        data = validated(MigrationQuerySerializer, request.query_params.dict())
        on = today()
        plans = migration.migration_plans(on=on, **data)
        return Response(MigrationPlanListSerializer({"on": on, "results": plans}).data)
