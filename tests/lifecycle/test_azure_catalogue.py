"""The Azure catalogue: Azure's model list, through the real SDK, with its two-phase retirement of fine-tunes.

Azure fine-tuned models retire in two phases: training follows the base model's training
retirement (`deprecation.fine_tune`), and, for fine-tunes made generally available since
gpt-4o-2024-08-06, serving stops a year after that (docs/lifecycle.md, "Azure fine-tuned models").
"""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings

from core.audit import Source, audit_source
from lifecycle.models import CatalogueSync, LifecycleState, ModelKind, ProviderModel, ValueSource, base_of
from lifecycle.selectors import runway
from lifecycle.services import catalogue_sync, catalogues_sync
from providers.fake_azure import AZURE_MODELS
from providers.fake_openai import OPENAI_MODELS, Fault

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)
MINI = "gpt-4.1-mini-2025-04-14"
NANO = "gpt-4.1-nano-2025-04-14"


def entry(model_id: str) -> ProviderModel:
    return ProviderModel.objects.get(provider="azure", model_id=model_id)


def fine_tune(fake, base: str) -> str:
    """Train a fine-tune on the fake the way Azure does (a job that succeeds): its model is listed."""
    training = fake.file_create(filename="t.jsonl", purpose="fine-tune", content=b"{}\n")
    job = fake.job_create({"model": base, "training_file": training["id"]})
    fake.advance(1000)
    model = fake.jobs[job["id"]]["fine_tuned_model"]
    assert model and model.startswith(f"{base}.ft-")
    return model


def test_it_fills_the_azure_catalogue_from_azures_model_list_in_one_call(fake_azure):
    with audit_source(Source.TASK):
        report = catalogue_sync(provider="azure", on=TODAY)

    assert report.ok and report.calls == 1 and report.listed == len(AZURE_MODELS)
    assert fake_azure.requests == {"model_list": 1}
    assert ProviderModel.objects.filter(provider="azure").count() == len(AZURE_MODELS)
    assert not ProviderModel.objects.filter(provider="openai").exists()
    mini = entry(MINI)
    # deprecation.inference and deprecation.fine_tune, unix seconds in Azure's list, as days.
    assert (mini.kind, mini.state, mini.shutdown_date, mini.training_retires_on, mini.shutdown_date_source) == (
        ModelKind.BASE,
        LifecycleState.DEPRECATED,
        date.fromisoformat(AZURE_MODELS[MINI]),
        date.fromisoformat(AZURE_MODELS[MINI]),
        ValueSource.PROVIDER,
    )
    nano = entry(NANO)
    assert (nano.state, nano.shutdown_date, nano.training_retires_on) == (LifecycleState.ACTIVE, None, None)
    row = mini.history.get()
    assert row.history_user.username == settings.FINEPRINT_SERVICE_USERNAME
    assert row.history_change_reason == "Listed by Azure OpenAI: shutdown 2027-01-14; training retires 2027-01-14"
    assert CatalogueSync.objects.get(provider="azure").ok


def test_a_second_azure_sync_writes_nothing(fake_azure):
    fine_tune(fake_azure, MINI)
    catalogue_sync(provider="azure", on=TODAY)
    rows = ProviderModel.history.count()

    report = catalogue_sync(provider="azure", on=TODAY)

    assert report.ok and (report.created, report.changed) == (0, 0)
    assert ProviderModel.history.count() == rows


def test_an_azure_fine_tune_stops_serving_a_year_after_its_base_stops_training(fake_azure):
    fake_azure.model_set(MINI, "2027-01-14", training_retires_on="2026-12-31")
    model = fine_tune(fake_azure, MINI)

    catalogue_sync(provider="azure", on=TODAY)

    tuned = entry(model)
    assert (tuned.kind, tuned.base_model_id) == (ModelKind.FINE_TUNED, MINI)
    # Not the base's 2027-01-14 that Azure's list repeats on the fine-tune: a year after 2026-12-31.
    assert (tuned.shutdown_date, tuned.shutdown_date_source) == (date(2027, 12, 31), ValueSource.AZURE_FINE_TUNED)
    assert tuned.provider_shutdown_date == date(2027, 1, 14)  # what Azure listed, kept beside
    assert tuned.state == LifecycleState.DEPRECATED
    assert tuned.history.get().history_change_reason == (
        f"Listed by Azure OpenAI: shutdown 2027-12-31 (stops serving a year after training retires on its base "
        f"model {MINI})"
    )
    # The runway of a version running that fine-tune reads the same date.
    assert runway(provider="azure", base_model=MINI, fine_tuned_model=model, on=TODAY).shutdown_date == date(
        2027, 12, 31
    )


def test_the_fine_tune_follows_a_new_training_retirement_of_its_base_in_the_same_sync(fake_azure):
    model = fine_tune(fake_azure, MINI)
    catalogue_sync(provider="azure", on=TODAY)
    assert entry(model).shutdown_date == date(2028, 1, 14)

    fake_azure.model_set(MINI, "2027-06-30", training_retires_on="2027-03-31")
    report = catalogue_sync(provider="azure", on=TODAY)

    assert report.changed == 2  # the base, and its fine-tune
    tuned = entry(model)
    assert (tuned.shutdown_date, tuned.shutdown_date_source) == (date(2028, 3, 31), ValueSource.AZURE_FINE_TUNED)
    assert tuned.history.first().history_change_reason == (
        f"Stops serving a year after training retires on its base model {MINI}: 2028-03-31"
    )
    base_reason = entry(MINI).history.first().history_change_reason
    assert "Azure OpenAI now says shutdown 2027-06-30" in base_reason
    assert "training retires 2027-03-31" in base_reason


def test_the_listed_date_of_an_azure_fine_tune_is_kept_beside_the_rules(fake_azure):
    model = fine_tune(fake_azure, MINI)
    fake_azure.model_set(model, "2027-09-30", training_retires_on=None)

    catalogue_sync(provider="azure", on=TODAY)

    tuned = entry(model)
    assert (tuned.shutdown_date, tuned.shutdown_date_source) == (date(2028, 1, 14), ValueSource.AZURE_FINE_TUNED)
    assert tuned.provider_shutdown_date == date(2027, 9, 30)


def test_without_an_announced_training_retirement_the_fine_tune_keeps_the_listed_date(fake_azure):
    fake_azure.model_set(MINI, "2027-01-14", training_retires_on=None)
    model = fine_tune(fake_azure, MINI)

    catalogue_sync(provider="azure", on=TODAY)

    assert (entry(model).shutdown_date, entry(model).shutdown_date_source) == (date(2027, 1, 14), ValueSource.PROVIDER)


def test_an_older_family_on_azure_shuts_down_with_its_base(fake_azure):
    # Fine-tunes GA before gpt-4o-2024-08-06 (gpt-35-turbo...) keep their base model's schedule.
    fake_azure.model_set("gpt-35-turbo-0125", "2026-12-15", training_retires_on="2026-11-01", fine_tunable=True)
    fake_azure.model_set("gpt-35-turbo-0125.ft-0123456789abcdef0123456789abcdef", None, training_retires_on=None)

    catalogue_sync(provider="azure", on=TODAY)

    tuned = entry("gpt-35-turbo-0125.ft-0123456789abcdef0123456789abcdef")
    assert (tuned.base_model_id, tuned.shutdown_date, tuned.shutdown_date_source) == (
        "gpt-35-turbo-0125",
        date(2026, 12, 15),
        ValueSource.BASE_MODEL,
    )


def test_the_daily_sync_covers_both_providers_each_in_one_call(fake_openai, fake_azure):
    reports = {r.provider: r for r in catalogues_sync(on=TODAY)}

    assert {p: (r.ok, r.calls, r.listed) for p, r in reports.items()} == {
        "openai": (True, 1, len(OPENAI_MODELS)),
        "azure": (True, 1, len(AZURE_MODELS)),
    }
    assert ProviderModel.objects.filter(provider="openai").count() == len(OPENAI_MODELS)
    assert ProviderModel.objects.filter(provider="azure").count() == len(AZURE_MODELS)


def test_an_azure_outage_leaves_its_catalogue_as_it_was_and_openai_synced(fake_openai, fake_azure, caplog):
    fake_azure.inject(Fault(status=503, path="/openai/models"))

    reports = {r.provider: r for r in catalogues_sync(on=TODAY)}

    assert reports["openai"].ok and not reports["azure"].ok and "503" in reports["azure"].error
    assert not ProviderModel.objects.filter(provider="azure").exists()
    assert CatalogueSync.objects.get(provider="azure").ok is False
    assert "left as it was" in caplog.text


def test_a_provider_that_is_not_configured_is_skipped_and_logged_never_an_error(fake_openai, settings, caplog):
    settings.AZURE_OPENAI_ENDPOINT = ""
    caplog.set_level("INFO", logger="lifecycle.services")

    reports = {r.provider: r for r in catalogues_sync(on=TODAY)}

    assert reports["openai"].ok
    assert (reports["azure"].ok, reports["azure"].error, reports["azure"].skipped) == (
        False,
        "",
        "AZURE_OPENAI_ENDPOINT",
    )
    assert not CatalogueSync.objects.filter(provider="azure").exists()  # not a failed run
    assert "catalogue sync of azure skipped: AZURE_OPENAI_ENDPOINT is not set" in caplog.text


def test_the_beat_entry_syncs_every_configured_provider_as_the_service_account(fake_openai, fake_azure, eager_celery):
    from lifecycle.tasks import catalogues_sync_task

    entry_ = settings.CELERY_BEAT_SCHEDULE["sync-provider-catalogue"]
    assert entry_["task"] == catalogues_sync_task.name

    results = catalogues_sync_task.delay().get()

    assert [(r["provider"], r["ok"]) for r in results] == [("openai", True), ("azure", True)]
    row = entry(MINI).history.get()
    assert (row.history_source, row.history_user.username) == (Source.TASK, settings.FINEPRINT_SERVICE_USERNAME)


def test_the_command_syncs_every_provider_and_says_which_it_skipped(fake_openai, settings, capsys):
    from django.core.management import call_command

    settings.AZURE_OPENAI_ENDPOINT = ""

    call_command("sync_catalogue")

    out = capsys.readouterr().out
    assert f"openai: {len(OPENAI_MODELS)} models listed" in out
    assert "azure: not configured (AZURE_OPENAI_ENDPOINT is not set), skipped." in out


@pytest.mark.parametrize(
    ("model_id", "base"),
    [
        ("gpt-4.1-mini-2025-04-14.ft-0a1b2c3d4e5f60718293a4b5c6d7e8f9", "gpt-4.1-mini-2025-04-14"),
        ("gpt-4o-2024-08-06.ft-0a1b2c3d4e5f60718293a4b5c6d7e8f9-claims", "gpt-4o-2024-08-06"),
        ("ft:gpt-4.1-mini-2025-04-14:acme:support:abc123", "gpt-4.1-mini-2025-04-14"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini-2025-04-14"),
    ],
)
def test_base_of_reads_both_providers_fine_tuned_names(model_id, base):
    assert base_of(model_id) == base
