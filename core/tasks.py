from __future__ import annotations

from celery import shared_task

from core.audit import Source, audit_source, service_user
from core.checkpoints import checkpoint_make
from core.idempotency import idempotency_records_purge as _purge
from core.services import token_expiry_notices_send


@shared_task(name="core.tasks.idempotency_records_purge")
def idempotency_records_purge() -> int:
    with audit_source(Source.TASK):
        return _purge()


@shared_task(name="core.tasks.token_expiry_notices_send_task")
def token_expiry_notices_send_task() -> int:
    """Daily: email the owners of tokens that expire within API_TOKEN_EXPIRY_NOTICE_DAYS."""
    with audit_source(Source.TASK):
        return token_expiry_notices_send()


@shared_task(name="core.tasks.audit_checkpoint_make_task")
def audit_checkpoint_make_task() -> int:
    """Daily: a signed checkpoint of the audit chain's head, written outside the database. Returns its id."""
    with audit_source(Source.TASK):
        return checkpoint_make(actor=service_user()).pk
