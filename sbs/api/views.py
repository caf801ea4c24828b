from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.api import PositionCursorPagination, StableCursorPagination
from core.errors import ValidationFailed
from core.idempotency import HEADER as IDEMPOTENCY_HEADER
from core.idempotency import idempotent
from core.parsers import JSONParser, MultiPartParser
from core.roles import READERS, Role
from core.serializers import validated
from datasets import golden_selectors
from registry import selectors as registry_selectors
from sbs import selectors, services
from sbs.api.serializers import (
    PageQuerySerializer,
    SbsCompareQuerySerializer,
    SbsCompareSerializer,
    SbsItemQuerySerializer,
    SbsRunDetailSerializer,
    SbsRunInputSerializer,
    SbsRunItemSerializer,
    SbsRunSerializer,
    SbsRunUploadSerializer,
)

RECORDERS = {Role.ENGINEER, Role.COMPLIANCE}
ERRORS = {
    400: OpenApiResponse(description="Invalid input: `error.fields` names each field and the reason."),
    401: OpenApiResponse(description="No valid token."),
    403: OpenApiResponse(description="Your role may not do this."),
    404: OpenApiResponse(description="No such model, version or run (a run of another version is not found)."),
}
RUN_ID = OpenApiParameter("run_id", int, OpenApiParameter.PATH, description="The run's id.")


def _version(name: str, version: str):
    return registry_selectors.version_get(model_name=name, version=version, with_evaluations=False)


def _golden(data: dict):
    """The golden set version the body names (by SHA-256, or by set name and number); a 400 when there is none."""
    if "golden_set_sha256" in data:
        found = golden_selectors.golden_version_find(sha256=data["golden_set_sha256"])
        field, what = "golden_set_sha256", data["golden_set_sha256"]
    else:
        found = golden_selectors.golden_version_find(name=data["golden_set"], number=data["golden_version"])
        field, what = "golden_set", f"{data['golden_set']} v{data['golden_version']}"
    if found is None:
        raise ValidationFailed(
            f"No golden set version {what}.",
            fields={field: ["Not a golden set version: upload it to /api/v1/golden-sets/{name}/versions/ first."]},
        )
    return found


class SbsRunPagination(StableCursorPagination):
    ordering = ("-ran_at", "-id")


class SbsRunListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": RECORDERS}
    serializer_class = SbsRunSerializer
    pagination_class = SbsRunPagination
    parser_classes = [JSONParser, MultiPartParser.limited_by("SBS_MAX_UPLOAD_BYTES")]

    @extend_schema(
        summary="List a version's side-by-side runs, newest first",
        parameters=[PageQuerySerializer],
        responses={200: SbsRunSerializer(many=True), **ERRORS},
    )
    def get(self, request, name: str, version: str):
        validated(PageQuerySerializer, request.query_params)
        page = self.paginate_queryset(selectors.sbs_run_list(version=_version(name, version)))
        return self.get_paginated_response(SbsRunSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        summary="Record a side-by-side run",
        description=(
            "The version's answers judged against a baseline's on a golden set version, one verdict per item per "
            "rater. JSON: the fields and `verdicts`, a list of {item, outcome (win, tie, loss), judge?, rater?, "
            "comment?}. Multipart: the same fields as form fields and `verdicts`, a JSONL file of those objects, "
            "one a line (at most SBS_MAX_UPLOAD_BYTES: 413 beyond; a line that is not JSON: 400 naming it). "
            "Name the golden set version by `golden_set_sha256`, or by `golden_set` and `golden_version`. "
            "A verdict on an item the version does not hold, a second verdict by the same rater on an item, or an "
            "outcome other than win, tie and loss refuses the whole run: 400 naming the verdict and its item, and "
            "nothing is stored. The figures are computed from the verdicts; the run records the evaluation they "
            f"support. Send an `{IDEMPOTENCY_HEADER}` header to make retries safe."
        ),
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        request={"application/json": SbsRunInputSerializer, "multipart/form-data": SbsRunUploadSerializer},
        responses={
            201: SbsRunDetailSerializer,
            409: OpenApiResponse(description="The version is retired, or its Idempotency-Key was used otherwise."),
            413: OpenApiResponse(description="The body or the verdicts file is too large (`error.limit_bytes`)."),
            415: OpenApiResponse(description="Neither JSON nor multipart/form-data."),
            **ERRORS,
        },
    )
    def post(self, request, name: str, version: str):
        version_obj = _version(name, version)

        def record() -> Response:
            if request.content_type.startswith("multipart/"):
                data = validated(SbsRunUploadSerializer, request.data)
                verdicts = services.verdicts_parse(upload=data.pop("verdicts"))
            else:
                data = validated(SbsRunInputSerializer, request.data)
                verdicts = data.pop("verdicts")
            run = services.sbs_run_create(
                version=version_obj,
                actor=request.user,
                golden=_golden(data),
                baseline=data["baseline"],
                judge=data["judge"],
                verdicts=verdicts,
                suite=data.get("suite", "sbs"),
                ran_at=data.get("ran_at"),
                reason=data.get("reason", ""),
            )
            detail = selectors.sbs_run_get(version=version_obj, run_id=run.pk)
            body = SbsRunDetailSerializer(detail, context={"request": request}).data
            return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})

        return idempotent(request, record)


class SbsRunDetailView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = SbsRunDetailSerializer

    @extend_schema(
        summary="Get a side-by-side run with its figures",
        parameters=[RUN_ID],
        responses={200: SbsRunDetailSerializer, **ERRORS},
    )
    def get(self, request, name: str, version: str, run_id: int):
        run = selectors.sbs_run_get(version=_version(name, version), run_id=run_id)
        return Response(SbsRunDetailSerializer(run, context={"request": request}).data)


class SbsRunItemListView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = SbsRunItemSerializer
    pagination_class = PositionCursorPagination

    @extend_schema(
        summary="List a run's items with their verdicts",
        description="In golden set order, cursor pages (`page_size` up to 500, default 100); filter by `outcome` "
        "(e.g. the losses) and `intent`.",
        parameters=[RUN_ID, SbsItemQuerySerializer],
        responses={200: SbsRunItemSerializer(many=True), **ERRORS},
    )
    def get(self, request, name: str, version: str, run_id: int):
        query = validated(SbsItemQuerySerializer, request.query_params)
        run = selectors.sbs_run_get(version=_version(name, version), run_id=run_id, bare=True)
        page = self.paginate_queryset(
            selectors.sbs_run_items(run=run, outcome=query.get("outcome"), intent=query.get("intent"))
        )
        # Plain rows in the shape SbsRunItemSerializer documents (tests/sbs check it against the schema).
        return self.get_paginated_response(selectors.sbs_item_entries(run=run, rows=page))


class SbsRunCompareView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = SbsCompareSerializer

    @extend_schema(
        summary="Compare two runs item by item",
        description=(
            "This run against the run named by `with` (a run of any version of the same model, on the same golden "
            "set version: 400 otherwise; without `with`, the latest earlier run of the model on that version). "
            "`transitions[a][b]` counts the items the other run judged `a` and this run `b`; a move up (loss, "
            "tie, win) is an improvement. `flips` lists the items that moved (`direction` "
            "keeps one way), at most `limit` (`truncated` says when more moved)."
        ),
        parameters=[RUN_ID, SbsCompareQuerySerializer],
        responses={200: SbsCompareSerializer, **ERRORS},
    )
    def get(self, request, name: str, version: str, run_id: int):
        query = validated(SbsCompareQuerySerializer, request.query_params)
        run = selectors.sbs_run_get(version=_version(name, version), run_id=run_id)
        if "with" in query:
            other = selectors.sbs_run_other(run=run, run_id=query["with"])
            if other is None:
                raise ValidationFailed(
                    f"No side-by-side run {query['with']} of model {name}.",
                    fields={"with": ["A run of a version of the same model."]},
                )
        else:
            other = selectors.sbs_run_previous(run=run)
            if other is None:
                raise ValidationFailed(
                    "No earlier run of this model on this golden set version to compare with.",
                    fields={"with": ["Name the run to compare with."]},
                )
        comparison = selectors.sbs_run_compare(
            run=run, other=other, direction=query.get("direction"), limit=query.get("limit", selectors.FLIPS_SHOWN)
        )
        context = {"request": request}
        return Response(
            {
                "run": SbsRunSerializer(comparison.run, context=context).data,
                "other": SbsRunSerializer(comparison.other, context=context).data,
                "same_baseline": comparison.same_baseline,
                "items_compared": comparison.items_compared,
                "only_in_run": comparison.only_in_run,
                "only_in_other": comparison.only_in_other,
                "transitions": comparison.transitions,
                "counts": comparison.counts,
                "flips": comparison.flips,
                "flips_total": comparison.flips_total,
                "truncated": comparison.truncated,
            }
        )
