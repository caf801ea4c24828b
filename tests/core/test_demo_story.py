"""The demo `make run` seeds tells one story: dates in order, released versions that name what they serve,
owned and classified models, and a restart that changes nothing but the demo token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from core.models import ApiToken
from lifecycle.models import ProviderModel
from lifecycle.selectors import runway
from registry.management.commands.seed_demo import DEMO_PASSWORD
from registry.models import (
    Deployment,
    EvaluationResult,
    ModelVersion,
    Promotion,
    RegisteredModel,
    RiskTier,
    VersionStatus,
)
from risks.models import Acceptance, DocumentEvidence, Incident, Risk, TreatmentAction

# What `make run` (scripts/run-dev) seeds, in its order.
SEEDS = ("seed_demo", "seed_sbs_demo", "seed_demo_risks", "seed_demo_jobs")


def seed_all() -> None:
    for command in SEEDS:
        call_command(command)


@pytest.fixture
def story(db, settings, fake_openai, fake_azure):
    settings.DEBUG = True
    seed_all()


def _number(label: str) -> int:
    return int(label.removeprefix("v"))


def test_it_registers_versions_in_label_order_and_evaluates_each_after_its_registration(story):
    for model in RegisteredModel.objects.all():
        versions = list(model.versions.order_by("created_at"))
        labels = [_number(v.version) for v in versions]
        assert labels == sorted(labels), model.name
        assert all(v.created_at >= model.created_at for v in versions)
    late = [
        (e.version.model.name, e.version.version, e.suite)
        for e in EvaluationResult.objects.select_related("version__model")
        if e.ran_at < e.version.created_at
    ]
    assert late == []
    for promotion in Promotion.objects.select_related("version"):
        assert promotion.requested_at >= promotion.version.created_at
        assert promotion.decided_at is None or promotion.decided_at >= promotion.requested_at
    for deployment in Deployment.objects.select_related("version"):
        assert deployment.started_at >= deployment.version.created_at
        assert deployment.ended_at is None or deployment.ended_at >= deployment.started_at


def test_it_dates_every_risk_record_between_what_it_follows_and_today(story):
    now = timezone.now()
    for risk in Risk.objects.all():
        assert risk.created_at <= now
        if risk.last_reviewed_at is not None:
            assert risk.created_at <= risk.last_reviewed_at <= now, risk.title
            assert risk.next_review_at > risk.last_reviewed_at
        assert risk.history.filter(history_date__gt=now).count() == 0
    # The one overdue review is of a risk recorded long before it: overdue, but not before it existed.
    overdue = [r for r in Risk.objects.all() if r.next_review_at < now]
    assert [r.title for r in overdue] == ["Provider quota exhausted during sales peaks"]
    assert overdue[0].created_at < overdue[0].last_reviewed_at < overdue[0].next_review_at
    for action in TreatmentAction.objects.all():
        assert action.due_on >= timezone.localdate(action.created_at)
    # The acceptance is still in force, and up for renewal within 30 days, as the demo says.
    acceptance = Acceptance.objects.get()
    assert acceptance.accepted_at >= acceptance.risk.created_at
    assert now < acceptance.expires_at <= now + timedelta(days=30)
    for evidence in DocumentEvidence.objects.all():
        assert evidence.period_start <= evidence.period_end <= timezone.localdate(evidence.reviewed_at)
    incident = Incident.objects.select_related("version").get()
    assert incident.occurred_at <= incident.aware_at <= incident.created_at <= now
    went_live = Deployment.objects.get(version=incident.version, environment="production").started_at
    assert went_live <= incident.occurred_at


def test_every_released_version_names_what_it_serves(story):
    released = ModelVersion.objects.filter(pk__in=Deployment.objects.values("version")) | ModelVersion.objects.filter(
        status__in=(VersionStatus.PRODUCTION, VersionStatus.CANARY)
    )
    assert released.exists()
    # A job Fineprint followed, or a registration naming the fine-tuned model trained elsewhere.
    unnamed = [(v.model.name, v.version) for v in released.distinct() if not (v.provider_job_id or v.fine_tuned_model)]
    assert unnamed == []


def test_every_model_has_owners_and_a_risk_tier(story):
    for model in RegisteredModel.objects.all():
        assert model.business_owner is not None and model.technical_owner is not None, model.name
        assert model.risk_tier != RiskTier.UNCLASSIFIED, model.name
        classified = model.history.exclude(risk_tier=RiskTier.UNCLASSIFIED).earliest("history_date")
        assert classified.history_change_reason and classified.history_user.username == "compliance"


def test_models_on_the_same_base_model_have_the_same_retirement_dates(story):
    by_base: dict[str, set] = {}
    for model in RegisteredModel.objects.all():
        # The provider's catalogue entry: when the base stops serving, and when it stops taking fine-tuning jobs.
        entry = ProviderModel.objects.get(provider=model.provider, model_id=model.base_model)
        found = runway(provider=model.provider, base_model=model.base_model)
        by_base.setdefault(model.base_model, set()).add((entry.shutdown_date, entry.training_retires_on, found.state))
    assert all(len(dates) == 1 for dates in by_base.values()), by_base


def test_the_demo_executive_signs_in_to_the_admin(story):
    client = Client()

    client.post("/admin/login/?next=/admin/", {"username": "executive", "password": DEMO_PASSWORD})

    assert client.get("/admin/").status_code == 200


def _counts() -> dict[str, int]:
    tokens = ("core.ApiToken", "core.HistoricalApiToken")
    return {
        m._meta.label: m.objects.count()
        for m in apps.get_models()
        if m._meta.label not in tokens and not m._meta.label.startswith(("sessions.", "axes."))
    }


def test_a_restart_changes_nothing_but_the_demo_token(story):
    before = _counts()
    (first,) = ApiToken.objects.filter(name="demo", revoked_at=None)

    seed_all()

    assert _counts() == before
    (live,) = ApiToken.objects.filter(name="demo", revoked_at=None)
    assert live.pk != first.pk and live.user.username == "engineer"
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert first.history.first().history_change_reason == "Replaced by the demo token of a newer `make run`"
