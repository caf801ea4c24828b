from __future__ import annotations

from celery import shared_task

from core.audit import Source, audit_source
from core.idempotency import idempotency_records_purge as _purge


@shared_task(name="core.tasks.idempotency_records_purge")
def idempotency_records_purge() -> int:
    with audit_source(Source.TASK):
        return _purge()
