"""Celery tasks of the registry: thin, idempotent, safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from core.audit import Source, audit_source
from registry import fine_tuning


@shared_task(name="registry.tasks.fine_tune_jobs_sync")
def fine_tune_jobs_sync() -> dict:
    """The periodic tick: bring every in-flight fine-tune job up to date."""
    with audit_source(Source.TASK):
        return asdict(fine_tuning.jobs_sync_tick())


@shared_task(name="registry.tasks.fine_tune_job_sync")
def fine_tune_job_sync(job_id: str, on_behalf_of_id: int | None = None) -> bool:
    """Sync one job now: after its webhook arrived, or when someone asked (on_behalf_of_id)."""
    with audit_source(Source.TASK, on_behalf_of_id=on_behalf_of_id):
        return fine_tuning.job_sync_one(job_id)
