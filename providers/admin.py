from __future__ import annotations

from django.contrib import admin

from core.admin_audit import ReadOnlyAdmin
from providers.models import WebhookReceipt


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_type", "job_id", "webhook_id"]
    list_filter = ["event_type", "received_at"]
    search_fields = ["job_id", "webhook_id"]
    readonly_fields = ["webhook_id", "event_type", "job_id", "received_at"]
