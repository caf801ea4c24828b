"""Monthly reports over REST: for Executives and Compliance; engineers see none."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from core.api import StableCursorPagination
from core.errors import NotFound
from core.roles import Role
from core.serializers import validated
from reports.api.serializers import PdfQuerySerializer, RevisionSerializer
from reports.models import ReportRevision
from reports.periods import Period

READERS = {Role.EXECUTIVE, Role.COMPLIANCE}
ERRORS = {
    400: OpenApiResponse(description="Invalid input: `error.fields` names each field and the reason."),
    401: OpenApiResponse(description="No valid token."),
    403: OpenApiResponse(description="Reports are for Executives and Compliance."),
    404: OpenApiResponse(description="No report for that period (or revision)."),
}


def _revisions():
    return ReportRevision.objects.select_related("report", "triggered_by").prefetch_related("deliveries")


class ReportListView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = RevisionSerializer
    pagination_class = StableCursorPagination

    @extend_schema(
        summary="List the report revisions, newest first", responses={200: RevisionSerializer(many=True), **ERRORS}
    )
    def get(self, request):
        page = self.paginate_queryset(_revisions())
        return self.get_paginated_response(RevisionSerializer(page, many=True, context={"request": request}).data)


class ReportDetailView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = RevisionSerializer

    @extend_schema(
        operation_id="reports_period_revisions",
        summary="Every revision of a month's report, newest first",
        responses={200: RevisionSerializer(many=True), **ERRORS},
    )
    def get(self, request, period: str):
        target = Period.parse(period)
        revisions = list(_revisions().filter(report__period=target.first_day).order_by("-number"))
        if not revisions:
            raise NotFound(f"No report for {target}.")
        return Response(RevisionSerializer(revisions, many=True, context={"request": request}).data)


class ReportPdfView(generics.GenericAPIView):
    roles = {"GET": READERS}
    serializer_class = PdfQuerySerializer

    @extend_schema(
        summary="Download a month's report as PDF (the latest revision, or ?revision=n)",
        parameters=[PdfQuerySerializer],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERRORS},
    )
    def get(self, request, period: str):
        target = Period.parse(period)
        query = validated(PdfQuerySerializer, request.query_params.dict())
        revisions = ReportRevision.objects.select_related("report").filter(report__period=target.first_day)
        if "revision" in query:
            revisions = revisions.filter(number=query["revision"])
        revision = revisions.order_by("-number").first()
        if revision is None:
            raise NotFound(
                f"No report for {target}" + (f" revision {query['revision']}." if "revision" in query else ".")
            )
        response = FileResponse(
            revision.pdf.open("rb"),
            as_attachment=True,
            filename=f"fineprint-report-{target}-r{revision.number}.pdf",
            content_type="application/pdf",
        )
        response["X-Content-SHA256"] = revision.pdf_sha256
        return response
