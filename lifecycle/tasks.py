"""Celery tasks of the provider catalogue: thin, idempotent, safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from core.audit import Source, audit_source
from lifecycle import services
from lifecycle.models import Provider


@shared_task(name="lifecycle.tasks.catalogue_sync_task")
def catalogue_sync_task(provider: str = Provider.OPENAI, on_behalf_of_id: int | None = None) -> dict:
    """The daily sync (or a "sync now" someone asked for: on_behalf_of_id)."""
    with audit_source(Source.TASK, on_behalf_of_id=on_behalf_of_id):
        return asdict(services.catalogue_sync(provider=provider))
