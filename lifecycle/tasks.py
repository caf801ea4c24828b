"""Celery tasks of the provider catalogue: thin, idempotent, safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from core.audit import Source, audit_source
from lifecycle import services
from lifecycle.models import Provider


@shared_task(name="lifecycle.tasks.catalogue_sync_task")
def catalogue_sync_task(provider: str = Provider.OPENAI, on_behalf_of_id: int | None = None) -> dict:
    """One provider's sync: the admin's "sync now" (on_behalf_of_id: who asked), or a retry of one provider."""
    with audit_source(Source.TASK, on_behalf_of_id=on_behalf_of_id):
        return asdict(services.catalogue_sync(provider=provider))


@shared_task(name="lifecycle.tasks.catalogues_sync_task")
def catalogues_sync_task() -> list[dict]:
    """The daily sync of every provider's catalogue, one after the other (one list call each).

    One task looping rather than one per provider: a sync is a single call, and a provider that
    is not configured or is down is reported in its own entry without touching the others.
    """
    with audit_source(Source.TASK):
        return [asdict(report) for report in services.catalogues_sync()]
