from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.audit import Source
from registry.models import EvaluationResult, ModelVersion, RegisteredModel


def test_it_seeds_one_user_per_role_and_a_small_registry_once(db, settings, capsys):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo")

    out = capsys.readouterr().out
    assert "engineer" in out and "compliance" in out and "executive" in out
    assert RegisteredModel.objects.count() == 3
    assert ModelVersion.objects.count() == 9
    # One per version, and the support assistant's v3 re-evaluated against production.
    assert EvaluationResult.objects.count() == 10
    assert set(ModelVersion.history.values_list("history_source", flat=True)) == {Source.COMMAND}


def test_it_refuses_to_seed_a_known_password_outside_debug(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")


def test_it_can_start_a_live_job_for_a_new_version_of_each_demo_model(db, settings, fake_openai, capsys):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo_jobs")

    training = ModelVersion.objects.exclude(provider_job_id=None)
    assert training.count() == 3
    assert set(training.values_list("status", flat=True)) == {"training"}
    assert len(fake_openai.jobs) == 3
    assert "Started the fine-tune job of support-assistant:v5" in capsys.readouterr().out


def test_the_demo_release_history_reads_like_a_real_one(db, settings):
    from registry.models import Deployment, Promotion

    settings.DEBUG = True
    call_command("seed_demo")

    live = {
        (d.model.name, d.environment): (d.version.version, d.version.base_model, d.traffic_percent)
        for d in Deployment.objects.filter(ended_at=None)
    }
    assert live == {
        ("support-assistant", "production"): ("v3", "gpt-4.1-mini-2025-04-14", 100),
        ("pharmacy-faq", "production"): ("v3", "gpt-4o-mini-2024-07-18", 100),
    }
    assert Deployment.objects.filter(kind="rollback").count() == 1
    assert Promotion.objects.filter(status="rejected", gate_passed=False).count() == 1
    assert Promotion.objects.exclude(override_justification="").count() == 1
    support = {v.version: v for v in ModelVersion.objects.filter(model__name="support-assistant")}
    # The migration off gpt-3.5-turbo-0125: the old versions retired, the next candidate on a base with no date.
    assert {label: (v.base_model, v.status) for label, v in support.items()} == {
        "v1": ("gpt-3.5-turbo-0125", "retired"),
        "v2": ("gpt-3.5-turbo-0125", "retired"),
        "v3": ("gpt-4.1-mini-2025-04-14", "production"),
        "v4": ("gpt-4.1-nano-2025-04-14", "draft"),
    }
    assert RegisteredModel.objects.get(name="support-assistant").base_model == "gpt-4.1-nano-2025-04-14"


def test_last_months_report_shows_the_demo_runway_as_it_stood(db, settings, fake_openai):
    from datetime import date

    from lifecycle.models import ProviderModel
    from reports.builder import report_data
    from reports.periods import Period

    settings.DEBUG = True
    call_command("seed_demo")

    period = Period.previous_month()
    # The daily sync ran during the demo month: the catalogue's history is dated then.
    assert ProviderModel.history.filter(history_date__lt=period.end).count() == ProviderModel.objects.count() > 0
    rows = {(r["model"], r["environment"]): r for r in report_data(period)["runway"]["deployments"]}
    support = rows[("support-assistant", "production")]
    assert (support["version"], support["base_model"], support["shutdown_date"]) == (
        "v3",
        "gpt-4.1-mini-2025-04-14",
        "2027-01-14",
    )
    assert support["days_left"] == (date(2027, 1, 14) - period.last_day).days
    assert (support["candidate"]["version"], support["gate"]) == ("v4", "passed")
    assert rows[("pharmacy-faq", "production")]["candidate"] is None


def test_with_azure_the_demo_trains_claims_triage_there_after_compliance_moved_it(
    db, settings, fake_openai, fake_azure, capsys
):
    settings.DEBUG = True

    call_command("seed_demo")
    call_command("seed_demo_jobs")

    claims = RegisteredModel.objects.get(name="claims-triage")
    assert claims.provider == "azure"
    moved = claims.history.filter(provider="azure").last()
    assert moved.history_user.username == "compliance"
    assert "OpenAI takes no new fine-tuning jobs after 2027-01-06" in moved.history_change_reason
    # Earlier versions stay where they were trained; the new one trains on Azure, the others on OpenAI.
    providers = {(v.model.name, v.version): v.provider for v in ModelVersion.objects.exclude(provider_job_id=None)}
    assert providers == {
        ("support-assistant", "v5"): "openai",
        ("claims-triage", "v3"): "azure",
        ("pharmacy-faq", "v4"): "openai",
    }
    assert set(ModelVersion.objects.filter(model=claims, provider_job_id=None).values_list("provider", flat=True)) == {
        "openai"
    }
    assert (len(fake_openai.jobs), len(fake_azure.jobs)) == (2, 1)
    out = capsys.readouterr().out
    assert "Moved claims-triage to Azure OpenAI" in out
    assert "Started the fine-tune job of claims-triage:v3 on Azure OpenAI" in out


def test_without_azure_every_demo_job_trains_on_openai(db, settings, fake_openai, capsys):
    settings.DEBUG = True
    settings.AZURE_OPENAI_ENDPOINT = ""

    call_command("seed_demo")
    call_command("seed_demo_jobs")

    assert RegisteredModel.objects.get(name="claims-triage").provider == "openai"
    assert len(fake_openai.jobs) == 3
    assert "Azure OpenAI is not configured: claims-triage stays on OpenAI." in capsys.readouterr().out
