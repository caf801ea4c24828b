"""Celery tasks of datasets: thin, and safe to run twice (a check is claimed before it runs)."""

from __future__ import annotations

from celery import shared_task

from core.audit import Source, audit_source
from datasets import services


@shared_task(name="datasets.tasks.dataset_check_task")
def dataset_check_task(check_id: int) -> dict | None:
    """Run one queued dataset check; a second delivery finds it claimed and does nothing."""
    with audit_source(Source.TASK):
        check = services.dataset_check_run(check_id=check_id)
    if check is None:
        return None
    return {"check": check.pk, "status": check.status, "progress": check.progress}
