"""The risk register over REST: read for every role, write for compliance; engineers report incidents."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.api import StableCursorPagination
from core.errors import NotFound
from core.parsers import JSONParser, MultiPartParser
from core.roles import READERS, Role
from core.serializers import validated
from registry.api.serializers import HistoryEntrySerializer
from risks import controls, incidents, selectors, services
from risks.api.serializers import (
    AcceptanceSerializer,
    AcceptInputSerializer,
    ActionCreateSerializer,
    ActionSerializer,
    ActionUpdateSerializer,
    ControlFilterSerializer,
    ControlInputSerializer,
    ControlSerializer,
    DocumentInputSerializer,
    DocumentSerializer,
    EvidenceInputSerializer,
    ExampleInputSerializer,
    ExampleSerializer,
    HeatmapSerializer,
    IncidentFilterSerializer,
    IncidentReportSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    MetricCheckInputSerializer,
    MetricCheckSerializer,
    ReasonInputSerializer,
    ReviewInputSerializer,
    RiskDetailSerializer,
    RiskFilterSerializer,
    RiskInputSerializer,
    RiskOutputSerializer,
)
from risks.models import TreatmentAction
from risks.scoring import SCALE, Impact, Likelihood, matrix

COMPLIANCE = {Role.COMPLIANCE}
REPORTERS = {Role.ENGINEER, Role.COMPLIANCE}
ERRORS = {
    400: OpenApiResponse(description="Invalid input: `error.fields` names each field and the reason."),
    401: OpenApiResponse(description="No valid token."),
    403: OpenApiResponse(description="Your role may not do this."),
    404: OpenApiResponse(description="No such record."),
}
CONFLICT = {409: OpenApiResponse(description="The record's state does not allow this (the message says why).")}


def _risk_filters(params) -> selectors.RiskFilters:
    data = validated(RiskFilterSerializer, params.dict())
    data.pop("cursor", None)
    data.pop("page_size", None)
    return selectors.RiskFilters(**data)


def _risk_detail(reference: str) -> dict:
    return RiskDetailSerializer(selectors.risk_get(reference=reference)).data


# --- Risks ----------------------------------------------------------------------------


class RiskListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": COMPLIANCE}
    serializer_class = RiskOutputSerializer
    pagination_class = StableCursorPagination

    @extend_schema(
        summary="List the risk register",
        parameters=[RiskFilterSerializer],
        responses={200: RiskOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.risk_list(filters=_risk_filters(request.query_params)))
        return self.get_paginated_response(RiskOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Record a risk", request=RiskInputSerializer, responses={201: RiskDetailSerializer, **ERRORS}
    )
    def post(self, request):
        data = validated(RiskInputSerializer, request.data)
        risk = services.risk_create(actor=request.user, **data)
        return Response(_risk_detail(risk.reference), status=status.HTTP_201_CREATED)


class RiskDetailView(generics.GenericAPIView):
    roles = {"GET": READERS, "PATCH": COMPLIANCE}
    serializer_class = RiskDetailSerializer

    @extend_schema(
        summary="Get a risk with its actions, acceptances, controls and their latest evidence, and incidents",
        responses={200: RiskDetailSerializer, **ERRORS},
    )
    def get(self, request, reference: str):
        return Response(_risk_detail(reference))

    @extend_schema(
        summary="Change a risk",
        request=RiskInputSerializer(partial=True),
        responses={200: RiskDetailSerializer, **ERRORS, **CONFLICT},
    )
    def patch(self, request, reference: str):
        risk = selectors.risk_get(reference=reference)
        data = validated(RiskInputSerializer, request.data, partial=True)
        reason = data.pop("reason", "")
        services.risk_update(risk=risk, actor=request.user, data=data, reason=reason)
        return Response(_risk_detail(reference))


class RiskHistoryView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = HistoryEntrySerializer

    @extend_schema(summary="Audit trail of a risk", responses={200: HistoryEntrySerializer(many=True), **ERRORS})
    def get(self, request, reference: str):
        entries = selectors.risk_history(risk=selectors.risk_get(reference=reference))
        return Response(HistoryEntrySerializer(entries, many=True).data)


class RiskAcceptView(generics.GenericAPIView):
    roles = {"POST": COMPLIANCE}
    serializer_class = AcceptanceSerializer

    @extend_schema(
        summary="Accept a risk at its residual score until a date",
        description="Refused with 409 for a Critical residual risk. The rationale is the recorded reason.",
        request=AcceptInputSerializer,
        responses={201: AcceptanceSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        risk = selectors.risk_get(reference=reference)
        data = validated(AcceptInputSerializer, request.data)
        acceptance = services.risk_accept(risk=risk, actor=request.user, **data)
        return Response(AcceptanceSerializer(acceptance).data, status=status.HTTP_201_CREATED)


class _RiskDecisionView(generics.GenericAPIView):
    roles = {"POST": COMPLIANCE}
    serializer_class = RiskDetailSerializer

    def decide(self, risk, actor, reason: str):
        raise NotImplementedError

    def post(self, request, reference: str):
        risk = selectors.risk_get(reference=reference)
        data = validated(ReasonInputSerializer, request.data)
        self.decide(risk, request.user, data["reason"])
        return Response(_risk_detail(reference))


class RiskReviewView(generics.GenericAPIView):
    roles = {"POST": COMPLIANCE}
    serializer_class = RiskDetailSerializer

    @extend_schema(
        summary="Mark a risk reviewed: the next review date follows its residual band",
        request=ReviewInputSerializer,
        responses={200: RiskDetailSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        risk = selectors.risk_get(reference=reference)
        data = validated(ReviewInputSerializer, request.data)
        services.risk_review(
            risk=risk, actor=request.user, reason=data.get("reason", ""), reviewed_at=data.get("reviewed_at")
        )
        return Response(_risk_detail(reference))


class RiskCloseView(_RiskDecisionView):
    @extend_schema(
        summary="Close a risk (a reason is required)",
        request=ReasonInputSerializer,
        responses={200: RiskDetailSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def decide(self, risk, actor, reason):
        services.risk_close(risk=risk, actor=actor, reason=reason)


class RiskReopenView(_RiskDecisionView):
    @extend_schema(
        summary="Reopen a closed or accepted risk (a reason is required)",
        request=ReasonInputSerializer,
        responses={200: RiskDetailSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        return super().post(request, reference)

    def decide(self, risk, actor, reason):
        services.risk_reopen(risk=risk, actor=actor, reason=reason)


class RiskActionsView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": COMPLIANCE}
    serializer_class = ActionSerializer

    @extend_schema(summary="A risk's treatment actions", responses={200: ActionSerializer(many=True), **ERRORS})
    def get(self, request, reference: str):
        risk = selectors.risk_get(reference=reference)
        return Response(ActionSerializer(risk.actions.all(), many=True).data)

    @extend_schema(
        summary="Plan a treatment action",
        request=ActionCreateSerializer,
        responses={201: ActionSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        risk = selectors.risk_get(reference=reference)
        data = validated(ActionCreateSerializer, request.data)
        item = services.action_create(risk=risk, actor=request.user, **data)
        return Response(ActionSerializer(item).data, status=status.HTTP_201_CREATED)


class RiskActionDetailView(generics.GenericAPIView):
    roles = {"PATCH": COMPLIANCE}
    serializer_class = ActionSerializer

    @extend_schema(
        summary="Change a treatment action (e.g. mark it done)",
        request=ActionUpdateSerializer,
        responses={200: ActionSerializer, **ERRORS},
    )
    def patch(self, request, reference: str, action_id: int):
        risk = selectors.risk_get(reference=reference)
        item = TreatmentAction.objects.filter(risk=risk, pk=action_id).first()
        if item is None:
            raise NotFound(f"{risk.reference} has no action {action_id}.")
        data = validated(ActionUpdateSerializer, request.data, partial=True)
        reason = data.pop("reason", "")
        item = services.action_update(item=item, actor=request.user, data=data, reason=reason)
        return Response(ActionSerializer(item).data)


class HeatmapView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = HeatmapSerializer

    @extend_schema(
        summary="The 5x5 heat map of open risks, inherent and residual",
        description=(
            "Rows by likelihood 1-5, columns by impact 1-5, with the names of both axes and each cell's band."
            " Takes the list's filters."
        ),
        parameters=[RiskFilterSerializer],
        responses={200: HeatmapSerializer, **ERRORS},
    )
    def get(self, request):
        risks = selectors.risk_list(filters=_risk_filters(request.query_params))
        return Response({**selectors.heatmap(risks=risks), **_heatmap_axes()})


def _heatmap_axes() -> dict:
    """What the bare matrices mean: the names of their rows and columns, and the band of each cell."""
    current = matrix()
    return {
        "likelihood": [{"value": level, "name": _name(Likelihood(level).label)} for level in SCALE],
        "impact": [{"value": level, "name": _name(Impact(level).label)} for level in SCALE],
        "bands": [[current.band(likelihood, impact) for impact in SCALE] for likelihood in SCALE],
        "matrix_version": current.version,
    }


def _name(label: str) -> str:
    return label.split(" - ", 1)[1]  # "3 - Possible": the number is already the value


# --- Controls -------------------------------------------------------------------------


class ControlListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": COMPLIANCE}
    serializer_class = ControlSerializer
    pagination_class = StableCursorPagination

    @extend_schema(
        summary="List controls with their evidence and latest metric-check results",
        parameters=[ControlFilterSerializer],
        responses={200: ControlSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        params = validated(ControlFilterSerializer, request.query_params.dict())
        page = self.paginate_queryset(selectors.control_list(breached=params.get("breached"), risk=params.get("risk")))
        selectors.attach_latest_results(page)
        return self.get_paginated_response(ControlSerializer(page, many=True).data)

    @extend_schema(
        summary="Define a control", request=ControlInputSerializer, responses={201: ControlSerializer, **ERRORS}
    )
    def post(self, request):
        data = validated(ControlInputSerializer, request.data)
        control = controls.control_create(actor=request.user, **data)
        return Response(
            ControlSerializer(selectors.control_get(reference=control.reference)).data, status=status.HTTP_201_CREATED
        )


class ControlDetailView(generics.GenericAPIView):
    roles = {"GET": READERS, "PATCH": COMPLIANCE}
    serializer_class = ControlSerializer

    @extend_schema(summary="Get a control", responses={200: ControlSerializer, **ERRORS})
    def get(self, request, reference: str):
        return Response(ControlSerializer(selectors.control_get(reference=reference)).data)

    @extend_schema(
        summary="Change a control",
        request=ControlInputSerializer(partial=True),
        responses={200: ControlSerializer, **ERRORS},
    )
    def patch(self, request, reference: str):
        control = selectors.control_get(reference=reference)
        data = validated(ControlInputSerializer, request.data, partial=True)
        reason = data.pop("reason", "")
        controls.control_update(control=control, actor=request.user, data=data, reason=reason)
        return Response(ControlSerializer(selectors.control_get(reference=reference)).data)


class ControlDocumentsView(generics.GenericAPIView):
    roles = {"POST": COMPLIANCE}
    serializer_class = DocumentSerializer
    parser_classes = [JSONParser, MultiPartParser.limited_by("EVIDENCE_MAX_UPLOAD_BYTES")]

    @extend_schema(
        summary="Record document evidence (a link, or an uploaded file whose SHA-256 is computed)",
        request={"application/json": DocumentInputSerializer, "multipart/form-data": DocumentInputSerializer},
        responses={201: DocumentSerializer, **ERRORS},
    )
    def post(self, request, reference: str):
        control = selectors.control_get(reference=reference)
        data = validated(DocumentInputSerializer, request.data)
        evidence = controls.document_evidence_add(control=control, actor=request.user, **data)
        return Response(DocumentSerializer(evidence).data, status=status.HTTP_201_CREATED)


class ControlMetricChecksView(generics.GenericAPIView):
    roles = {"POST": COMPLIANCE}
    serializer_class = MetricCheckSerializer

    @extend_schema(
        summary="Add a metric check: live evidence from the production versions' latest evaluations",
        request=MetricCheckInputSerializer,
        responses={201: MetricCheckSerializer, **ERRORS},
    )
    def post(self, request, reference: str):
        control = selectors.control_get(reference=reference)
        data = validated(MetricCheckInputSerializer, request.data)
        check = controls.metric_check_create(control=control, actor=request.user, **data)
        check.latest = []
        return Response(MetricCheckSerializer(check).data, status=status.HTTP_201_CREATED)


# --- Incidents ------------------------------------------------------------------------


class IncidentListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": REPORTERS}
    serializer_class = IncidentSerializer
    pagination_class = StableCursorPagination

    @extend_schema(
        summary="List incidents",
        parameters=[IncidentFilterSerializer],
        responses={200: IncidentSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        params = validated(IncidentFilterSerializer, request.query_params.dict())
        incidents_ = selectors.incident_list(
            status=params.get("status"), serious=params.get("serious"), model=params.get("model")
        )
        page = self.paginate_queryset(incidents_)
        return self.get_paginated_response(IncidentSerializer(page, many=True).data)

    @extend_schema(
        summary="Report an incident, with its example failures",
        description="A serious incident freezes its version's record as evidence until compliance closes it.",
        request=IncidentReportSerializer,
        responses={201: IncidentSerializer, **ERRORS},
    )
    def post(self, request):
        data = validated(IncidentReportSerializer, request.data)
        incident = incidents.incident_report(actor=request.user, **data)
        return Response(
            IncidentSerializer(selectors.incident_get(reference=incident.reference)).data,
            status=status.HTTP_201_CREATED,
        )


class IncidentDetailView(generics.GenericAPIView):
    roles = {"GET": READERS, "PATCH": COMPLIANCE}
    serializer_class = IncidentSerializer

    @extend_schema(summary="Get an incident", responses={200: IncidentSerializer, **ERRORS})
    def get(self, request, reference: str):
        return Response(IncidentSerializer(selectors.incident_get(reference=reference)).data)

    @extend_schema(
        summary="Change an incident (root cause, fix, guard examples, seriousness...)",
        request=IncidentUpdateSerializer,
        responses={200: IncidentSerializer, **ERRORS, **CONFLICT},
    )
    def patch(self, request, reference: str):
        incident = selectors.incident_get(reference=reference)
        data = validated(IncidentUpdateSerializer, request.data, partial=True)
        reason = data.pop("reason", "")
        incidents.incident_update(incident=incident, actor=request.user, data=data, reason=reason)
        return Response(IncidentSerializer(selectors.incident_get(reference=reference)).data)


class IncidentExamplesView(generics.GenericAPIView):
    roles = {"POST": REPORTERS}
    serializer_class = ExampleSerializer

    @extend_schema(
        summary="Add an example failure (redacted on the way in)",
        request=ExampleInputSerializer,
        responses={201: ExampleSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        incident = selectors.incident_get(reference=reference)
        data = validated(ExampleInputSerializer, request.data)
        example = incidents.incident_example_add(incident=incident, actor=request.user, **data)
        return Response(ExampleSerializer(example).data, status=status.HTTP_201_CREATED)


class IncidentEvidenceView(generics.GenericAPIView):
    roles = {"POST": REPORTERS}
    serializer_class = IncidentSerializer

    @extend_schema(
        summary="Attach an evaluation result as evidence",
        request=EvidenceInputSerializer,
        responses={200: IncidentSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        incident = selectors.incident_get(reference=reference)
        data = validated(EvidenceInputSerializer, request.data)
        incidents.incident_evidence_attach(incident=incident, actor=request.user, **data)
        return Response(IncidentSerializer(selectors.incident_get(reference=reference)).data)


class IncidentCloseView(generics.GenericAPIView):
    roles = {"POST": COMPLIANCE}
    serializer_class = IncidentSerializer

    @extend_schema(
        summary="Close an incident (compliance, with a reason); releases a serious incident's freeze",
        request=ReasonInputSerializer,
        responses={200: IncidentSerializer, **ERRORS, **CONFLICT},
    )
    def post(self, request, reference: str):
        incident = selectors.incident_get(reference=reference)
        data = validated(ReasonInputSerializer, request.data)
        incidents.incident_close(incident=incident, actor=request.user, reason=data["reason"])
        return Response(IncidentSerializer(selectors.incident_get(reference=reference)).data)
