from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from core.serializers import StrictInputSerializer
from reports.models import DeliveryStatus, ReportRevision, Trigger


class DeliverySummarySerializer(serializers.Serializer):
    email = serializers.EmailField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    sent_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class RevisionSerializer(serializers.ModelSerializer):
    period = serializers.SerializerMethodField()
    revision = serializers.IntegerField(source="number")
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    triggered_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    deliveries = DeliverySummarySerializer(many=True, read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = ReportRevision
        fields = [
            "period",
            "revision",
            "generated_at",
            "trigger",
            "triggered_by",
            "pages",
            "pdf_bytes",
            "pdf_sha256",
            "data_sha256",
            "build_seconds",
            "render_seconds",
            "deliveries",
            "download",
        ]

    def get_period(self, revision) -> str:
        return f"{revision.report.period:%Y-%m}"

    def get_download(self, revision) -> str:
        """The PDF of this revision."""
        url = reverse("report-pdf", args=[f"{revision.report.period:%Y-%m}"]) + f"?revision={revision.number}"
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class PdfQuerySerializer(StrictInputSerializer):
    revision = serializers.IntegerField(min_value=1, required=False, help_text="Latest when omitted.")
