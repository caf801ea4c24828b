from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.api import PositionCursorPagination, StableCursorPagination
from core.errors import NotFound
from core.parsers import JSONParser
from core.roles import READERS, Role
from core.serializers import validated
from datasets import golden_selectors, selectors, services
from datasets.api.serializers import (
    DatasetCheckSerializer,
    DatasetDetailSerializer,
    DatasetListQuerySerializer,
    DatasetRecheckSerializer,
    DatasetSerializer,
    DatasetUploadSerializer,
    GoldenItemQuerySerializer,
    GoldenItemSerializer,
    GoldenPageQuerySerializer,
    GoldenSetDetailSerializer,
    GoldenSetSerializer,
    GoldenVersionSerializer,
    GoldenVersionUploadSerializer,
)
from datasets.api.uploads import DatasetMultiPartParser

UPLOADERS = {Role.ENGINEER, Role.COMPLIANCE}
ERRORS = {
    400: OpenApiResponse(description="Invalid input: `error.fields` names each field and the reason."),
    401: OpenApiResponse(description="No valid token."),
    403: OpenApiResponse(description="Your role may not do this."),
}
NOT_FOUND = {404: OpenApiResponse(description="No dataset with this SHA-256.")}


class DatasetListCreateView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": UPLOADERS}
    serializer_class = DatasetSerializer
    pagination_class = StableCursorPagination
    parser_classes = [DatasetMultiPartParser]

    def get_queryset(self):
        query = validated(DatasetListQuerySerializer, self.request.query_params)
        # A golden dataset's row names its golden set: joined, so a page stays one query.
        return selectors.dataset_list(kind=query.get("kind"), base_model=query.get("base_model")).select_related(
            "golden_set"
        )

    @extend_schema(
        summary="List datasets",
        parameters=[DatasetListQuerySerializer],
        responses={200: DatasetSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(DatasetSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        summary="Upload a dataset and check it",
        description=(
            "Multipart: `file` (JSONL), `kind` (training, validation, golden), `base_model`, and optionally `golden` "
            "(repeated: SHA-256 of golden datasets to check leakage against, besides those cited by the evaluations "
            "of every model trained or validated on these bytes). The file is streamed to disk while Fineprint "
            "computes its SHA-256. A new dataset answers 202 with its check queued (poll `check.url`); the same "
            "bytes again answer 200 with the dataset they already are (and its report), not a new one. Over "
            "DATASET_MAX_BYTES: 413 with `error.limit_bytes`; not multipart: 415."
        ),
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={
            200: DatasetDetailSerializer,
            202: DatasetDetailSerializer,
            409: OpenApiResponse(description="The same bytes are being uploaded at this very moment; retry."),
            413: OpenApiResponse(description="The file is larger than DATASET_MAX_BYTES (`error.limit_bytes`)."),
            415: OpenApiResponse(description="Not a multipart/form-data request."),
            **ERRORS,
        },
    )
    def post(self, request):
        data = validated(DatasetUploadSerializer, request.data)
        result = services.dataset_upload(
            upload=data["file"],
            kind=data["kind"],
            base_model=data["base_model"],
            goldens=data.get("golden", []),
            actor=request.user,
        )
        dataset = selectors.dataset_get(sha256=result.dataset.sha256)
        body = DatasetDetailSerializer(dataset, context={"request": request}).data
        if result.check is None:
            return Response(body, status=status.HTTP_200_OK)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["check"]["url"]})


SHA256_PARAMETER = OpenApiParameter("sha256", str, OpenApiParameter.PATH, description="The dataset's SHA-256.")


class DatasetDetailView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = DatasetDetailSerializer

    @extend_schema(
        summary="Get a dataset: its latest check's status, progress and report",
        parameters=[SHA256_PARAMETER],
        responses={200: DatasetDetailSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request, sha256: str):
        dataset = selectors.dataset_get(sha256=sha256)
        return Response(DatasetDetailSerializer(dataset, context={"request": request}).data)


class DatasetCheckView(generics.GenericAPIView):
    roles = {"GET": READERS, "POST": UPLOADERS}
    serializer_class = DatasetCheckSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        summary="The latest check of a dataset",
        parameters=[SHA256_PARAMETER],
        responses={200: DatasetCheckSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request, sha256: str):
        dataset = selectors.dataset_get(sha256=sha256)
        check = selectors.dataset_latest_check(dataset=dataset)
        if check is None:
            raise NotFound("This dataset has not been checked.")
        return Response(DatasetCheckSerializer(check).data)

    @extend_schema(
        summary="Check a dataset again",
        description=(
            "Against the golden sets its models' evaluations cite now, plus any named in `golden`. Needs the file "
            "(DATASET_KEEP_FILES; otherwise 409: upload it again). A check already queued or running is returned "
            "as it is."
        ),
        parameters=[SHA256_PARAMETER],
        request=DatasetRecheckSerializer,
        responses={
            202: DatasetCheckSerializer,
            409: OpenApiResponse(description="The file is not kept."),
            **ERRORS,
            **NOT_FOUND,
        },
    )
    def post(self, request, sha256: str):
        data = validated(DatasetRecheckSerializer, request.data)
        dataset = selectors.dataset_get(sha256=sha256)
        check = services.dataset_check_queue(dataset=dataset, actor=request.user, goldens=data.get("golden", []))
        return Response(DatasetCheckSerializer(check).data, status=status.HTTP_202_ACCEPTED)


GOLDEN_NOT_FOUND = {404: OpenApiResponse(description="No such golden set or version.")}
NAME_PARAMETER = OpenApiParameter("name", str, OpenApiParameter.PATH, description="The golden set's name.")
NUMBER_PARAMETER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version number (1, 2, ...).")


class GoldenSetPagination(StableCursorPagination):
    ordering = "name"


class GoldenSetListView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = GoldenSetSerializer
    pagination_class = GoldenSetPagination

    @extend_schema(
        summary="List golden sets",
        description="By name, each with its number of versions and its latest version's number and SHA-256.",
        parameters=[GoldenPageQuerySerializer],
        responses={200: GoldenSetSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        validated(GoldenPageQuerySerializer, request.query_params)
        page = self.paginate_queryset(golden_selectors.golden_set_list())
        return self.get_paginated_response(GoldenSetSerializer(page, many=True, context={"request": request}).data)


class GoldenSetDetailView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = GoldenSetDetailSerializer

    @extend_schema(
        summary="Get a golden set with its versions",
        parameters=[NAME_PARAMETER],
        responses={200: GoldenSetDetailSerializer, **ERRORS, **GOLDEN_NOT_FOUND},
    )
    def get(self, request, name: str):
        golden_set = golden_selectors.golden_set_get(name=name)
        golden_set.version_rows = list(golden_selectors.golden_versions(golden_set=golden_set))
        return Response(GoldenSetDetailSerializer(golden_set, context={"request": request}).data)


class GoldenVersionUploadView(generics.GenericAPIView):
    roles = {"POST": UPLOADERS}
    serializer_class = GoldenVersionSerializer
    parser_classes = [DatasetMultiPartParser]

    @extend_schema(
        summary="Upload a version of a golden set",
        description=(
            "Multipart: `file` (JSONL, one item per line: `id`, `intents`, `messages` or `prompt`, optional "
            "`reference`), optionally `description` (kept when this upload creates the set) and `base_model` "
            "(the encoding its check counts tokens with). The file is streamed to disk while Fineprint computes "
            "its SHA-256. New bytes are the set's next version (201; the set is created with its first version); "
            "the same bytes again answer 200 with the version they already are. A file with any bad line is "
            "refused whole (400, `error.fields.file` naming each line). The items' text is kept only with "
            "GOLDEN_KEEP_TEXT; their ids, intents and prompt hashes always."
        ),
        parameters=[NAME_PARAMETER],
        request={"multipart/form-data": GoldenVersionUploadSerializer},
        responses={
            200: GoldenVersionSerializer,
            201: GoldenVersionSerializer,
            409: OpenApiResponse(
                description="These bytes are already a version of another golden set, or a training or "
                "validation dataset; or the same bytes are being uploaded at this very moment."
            ),
            413: OpenApiResponse(
                description="Larger than DATASET_MAX_BYTES or GOLDEN_MAX_BYTES (`error.limit_bytes`)."
            ),
            415: OpenApiResponse(description="Not a multipart/form-data request."),
            **ERRORS,
        },
    )
    def post(self, request, name: str):
        data = validated(GoldenVersionUploadSerializer, request.data)
        options = {key: data[key] for key in ("description", "base_model") if key in data}
        result = services.golden_version_upload(name=name, upload=data["file"], actor=request.user, **options)
        version = golden_selectors.golden_version_get(name=name, number=result.dataset.golden_version)
        body = GoldenVersionSerializer(version, context={"request": request}).data
        if not result.created:
            return Response(body, status=status.HTTP_200_OK)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class GoldenVersionDetailView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = GoldenVersionSerializer

    @extend_schema(
        summary="Get a version of a golden set",
        parameters=[NAME_PARAMETER, NUMBER_PARAMETER],
        responses={200: GoldenVersionSerializer, **ERRORS, **GOLDEN_NOT_FOUND},
    )
    def get(self, request, name: str, number: int):
        version = golden_selectors.golden_version_get(name=name, number=number)
        return Response(GoldenVersionSerializer(version, context={"request": request}).data)


class GoldenItemListView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = GoldenItemSerializer
    pagination_class = PositionCursorPagination

    @extend_schema(
        summary="List a golden set version's items",
        description="In file order, cursor pages (`page_size` up to 500, default 100); `intent` keeps the items "
        "tagged with it.",
        parameters=[NAME_PARAMETER, NUMBER_PARAMETER, GoldenItemQuerySerializer],
        responses={200: GoldenItemSerializer(many=True), **ERRORS, **GOLDEN_NOT_FOUND},
    )
    def get(self, request, name: str, number: int):
        query = validated(GoldenItemQuerySerializer, request.query_params)
        version = golden_selectors.golden_version_get(name=name, number=number)
        page = self.paginate_queryset(golden_selectors.golden_item_list(dataset=version, intent=query.get("intent")))
        return self.get_paginated_response(GoldenItemSerializer(page, many=True).data)
