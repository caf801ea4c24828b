from __future__ import annotations

from django.contrib import admin

from providers.models import WebhookReceipt


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(admin.ModelAdmin):
    list_display = ["received_at", "event_type", "job_id", "webhook_id"]
    list_filter = ["event_type", "received_at"]
    search_fields = ["job_id", "webhook_id"]
    readonly_fields = ["webhook_id", "event_type", "job_id", "received_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
