from __future__ import annotations

from django.db import models


class WebhookReceipt(models.Model):
    """Each webhook accepted from the provider, by its id: a replay is refused."""

    webhook_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=100)
    job_id = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_type} {self.job_id} ({self.webhook_id})"
