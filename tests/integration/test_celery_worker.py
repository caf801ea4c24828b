"""A real Celery worker on Redis, sharing the PostgreSQL test database."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from core.models import IdempotencyRecord
from core.tasks import idempotency_records_purge
from tests.conftest import make_user


def test_a_worker_runs_a_task_against_the_shared_database(worker):
    engineer = make_user("celery-engineer")
    old = IdempotencyRecord.objects.create(user=engineer, key="old", fingerprint="f" * 64, status_code=201, response={})
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    IdempotencyRecord.objects.create(user=engineer, key="fresh", fingerprint="f" * 64, status_code=201, response={})

    result = idempotency_records_purge.delay()
    deadline = time.monotonic() + 60
    while not result.ready() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)

    assert worker.poll() is None, "the worker died"
    assert result.get(timeout=1) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
