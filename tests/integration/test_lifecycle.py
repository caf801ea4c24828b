"""The provider lifecycle on real services: the catalogue sync and the runway risk in a Celery worker on Redis.

The worker's clock is the real one, so the test moves the shutdown DATE on the
fake OpenAI server instead (today + 80, + 20, + 5 days): each sync brings it into
the catalogue, and each risk update raises the runway risk a stage, in history by
the service account from a task. The worker sends its emails to its own
in-memory outbox; the notices it records as sent stand for them here.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from core.roles import Role
from lifecycle.models import ProviderModel
from lifecycle.tasks import catalogue_sync_task
from providers.fake_openai import FakeOpenAI, serve
from registry import services
from risks.models import NoticeStatus, Risk, RiskStatus, RunwayNotice, RunwayRisk, TreatmentAction
from risks.tasks import lifecycle_risks_update_task
from tests.conftest import evaluation_payload, make_user, version_payload
from tests.integration.conftest import CeleryProcesses
from tests.risks.conftest import deploy

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-integration-" + uuid.uuid4().hex
MINI = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def fake(settings):
    state = FakeOpenAI(api_key=KEY, last_job_day=None)
    server, _ = serve(state)
    settings.OPENAI_API_KEY = KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def queue(transactional_db, fake):
    """A worker on a queue of its own, against the test database, Redis and the fake server."""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "the integration suite runs Celery on Redis"
    processes = CeleryProcesses(
        "lifecycle", OPENAI_API_KEY=KEY, OPENAI_BASE_URL=settings.OPENAI_BASE_URL, OPENAI_TIMEOUT_SECONDS="5"
    )
    worker = processes.worker()
    yield processes.queue, worker
    processes.stop()


def run_in_worker(task, queue) -> dict:
    name, worker = queue
    result = task.apply_async(queue=name)
    deadline = time.monotonic() + 90
    while not result.ready() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)
    assert worker.poll() is None, "the worker died"
    return result.get(timeout=1)


def test_a_real_worker_syncs_the_date_and_raises_the_runway_risk(fake, queue):
    engineer = make_user("life-engineer", Role.ENGINEER)
    compliance = make_user("life-compliance", Role.COMPLIANCE)
    technical = make_user("life-technical", Role.ENGINEER, email="technical@example.org")
    business = make_user("life-business", Role.EXECUTIVE, email="business@example.org")
    model = services.model_create(
        actor=engineer,
        name="support-assistant",
        display_name="Support assistant",
        purpose="Answers billing questions.",
        base_model=MINI,
        technical_owner=technical,
        business_owner=business,
    )
    v4 = services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(baseline_version=MINI)],
        **version_payload(version="v4"),
    )
    deploy(v4, engineer=engineer, approver=compliance)
    today = timezone.localdate()  # the worker's today too: same clock, same TIME_ZONE
    service = settings.FINEPRINT_SERVICE_USERNAME

    stages = []
    for days, band in ((80, "medium"), (20, "high"), (5, "critical")):
        shutdown = today + timedelta(days=days)
        fake.model_set(MINI, shutdown.isoformat())

        synced = run_in_worker(catalogue_sync_task, queue)
        ran = run_in_worker(lifecycle_risks_update_task, queue)

        assert synced["ok"], synced
        assert ProviderModel.objects.get(model_id=MINI).shutdown_date == shutdown
        risk = Risk.objects.get()
        assert (risk.residual_band, risk.status) == (band, RiskStatus.IN_TREATMENT)
        assert risk.title == f"support-assistant: base model {MINI} shuts down {shutdown:%Y-%m-%d}"
        assert TreatmentAction.objects.get().due_on == shutdown - timedelta(days=1)
        stages.append((ran["opened"], ran["rescored"]))
        row = risk.history.first()
        assert (row.history_user.username, row.history_source) == (service, "task")
        assert f"{days} days left" in row.history_change_reason

    reference = Risk.objects.get().reference
    assert stages == [([reference], []), ([], [reference]), ([], [reference])]
    assert {(r.history_user.username, r.history_source) for r in Risk.history.all()} == {(service, "task")}
    notices = RunwayNotice.objects.order_by("id")
    assert [(n.stage, n.email, n.status) for n in notices] == [
        (stage, email, NoticeStatus.SENT)
        for stage in ("warning", "near", "imminent")
        for email in ("technical@example.org", "business@example.org")
    ]

    # Another tick on the same day: nothing more in history, nothing more owed.
    rows = (Risk.history.count(), TreatmentAction.history.count(), RunwayRisk.history.count(), notices.count())
    again = run_in_worker(lifecycle_risks_update_task, queue)
    assert (again["opened"], again["rescored"], again["restated"], again["closed"]) == ([], [], [], [])
    assert (Risk.history.count(), TreatmentAction.history.count(), RunwayRisk.history.count(), notices.count()) == rows


def test_a_real_worker_syncs_both_providers_catalogues(transactional_db, fake, settings):
    """The daily task in a worker: OpenAI's and Azure's model lists, each into its own catalogue."""
    from lifecycle.tasks import catalogues_sync_task
    from tests.fakes import AZURE_CANARY_KEY, AZURE_CANARY_TOKEN, azure_fake_running

    with azure_fake_running(settings) as azure:
        processes = CeleryProcesses(
            "catalogues",
            OPENAI_API_KEY=KEY,
            OPENAI_BASE_URL=settings.OPENAI_BASE_URL,
            AZURE_OPENAI_ENDPOINT=settings.AZURE_OPENAI_ENDPOINT,
            AZURE_OPENAI_API_KEY=AZURE_CANARY_KEY,
            AZURE_MANAGEMENT_TOKEN=AZURE_CANARY_TOKEN,
            OPENAI_TIMEOUT_SECONDS="5",
        )
        worker = processes.worker()
        try:
            reports = run_in_worker(catalogues_sync_task, (processes.queue, worker))
        finally:
            processes.stop()

    assert [(r["provider"], r["ok"]) for r in reports] == [("openai", True), ("azure", True)]
    azure_ids = set(ProviderModel.objects.filter(provider="azure").values_list("model_id", flat=True))
    assert azure_ids == set(azure.models)
    assert ProviderModel.objects.filter(provider="openai").count() == len(fake.models)
    assert not ProviderModel.history.exclude(history_user__username=settings.FINEPRINT_SERVICE_USERNAME).exists()
    assert AZURE_CANARY_KEY not in str(reports)
