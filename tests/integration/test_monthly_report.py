"""The monthly report on PostgreSQL, generated and sent by a real Celery worker on Redis."""

from __future__ import annotations

import time

import pytest

from core.roles import Role
from reports.models import Delivery, DeliveryStatus, ReportRevision
from reports.tasks import report_monthly
from tests.conftest import make_user
from tests.reports.conftest import build_world


@pytest.fixture
def shared_media(tmp_path, settings, monkeypatch):
    """The worker writes the PDF where this process can read it."""
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path))
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _wait(result, worker, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while not result.ready() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)
    assert worker.poll() is None, "the worker died"
    return result.get(timeout=1)


def test_a_worker_generates_the_month_once_and_sends_it(shared_media, worker):
    world = build_world(make_user("pg-engineer", Role.ENGINEER), make_user("pg-compliance", Role.COMPLIANCE))

    first = _wait(report_monthly.delay("2026-10"), worker)
    second = _wait(report_monthly.delay("2026-10"), worker)

    assert (first["revision"], first["created"], second["created"]) == (1, True, False)
    revision = ReportRevision.objects.get()
    assert revision.pages >= 5
    assert revision.data["risks"]["by_band"] == {"low": 0, "medium": 3, "high": 1, "critical": 0}
    with revision.pdf.open("rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    deadline = time.monotonic() + 60
    while Delivery.objects.exclude(status=DeliveryStatus.SENT).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(Delivery.objects.values_list("email", "status")) == [(world["executive"].email, "sent")]
