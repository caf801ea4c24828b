"""The catalogue sync: the provider's model list, through the real SDK, into history-tracked entries."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings

from core.audit import Source, audit_source
from lifecycle.models import CatalogueSync, LifecycleState, ModelKind, ProviderModel, ValueSource
from lifecycle.services import catalogue_entry_correct, catalogue_sync
from providers.fake_openai import OPENAI_MODELS, Fault

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 30)
FINE_TUNED = "ft:gpt-4.1-mini-2025-04-14:fake-org:support-v4:abc123"


def entry(model_id: str) -> ProviderModel:
    return ProviderModel.objects.get(provider="openai", model_id=model_id)


def test_it_fills_the_catalogue_from_the_model_list_in_one_call(fake_openai):
    with audit_source(Source.TASK):
        report = catalogue_sync(on=TODAY)

    assert report.ok and report.calls == 1
    assert fake_openai.requests == {"model_list": 1}
    assert ProviderModel.objects.count() == len(OPENAI_MODELS)
    gpt35 = entry("gpt-3.5-turbo-0125")
    assert (gpt35.shutdown_date, gpt35.state, gpt35.shutdown_date_source) == (
        date(2026, 10, 23),
        LifecycleState.SHUTDOWN,
        ValueSource.PROVIDER,
    )
    assert (entry("gpt-4.1-mini-2025-04-14").state, entry("gpt-4.1-mini-2025-04-14").shutdown_date) == (
        LifecycleState.DEPRECATED,
        date(2027, 1, 14),
    )
    nano = entry("gpt-4.1-nano-2025-04-14")
    assert (nano.state, nano.shutdown_date) == (LifecycleState.ACTIVE, None)
    row = gpt35.history.get()
    assert row.history_user.username == settings.FINEPRINT_SERVICE_USERNAME
    assert row.history_source == Source.TASK
    assert row.history_change_reason == "Listed by OpenAI: shutdown 2026-10-23"
    assert gpt35.last_synced_at is not None
    assert CatalogueSync.objects.get().ok


def test_a_second_sync_writes_no_history(fake_openai):
    catalogue_sync(on=TODAY)
    rows = ProviderModel.history.count()

    report = catalogue_sync(on=TODAY)

    assert report.ok and (report.created, report.changed) == (0, 0)
    assert ProviderModel.history.count() == rows


def test_a_date_changed_by_the_provider_is_one_history_row(fake_openai):
    catalogue_sync(on=TODAY)
    fake_openai.model_set("gpt-4o-2024-08-06", "2027-03-31")

    report = catalogue_sync(on=TODAY)

    assert report.changed == 1
    gpt4o = entry("gpt-4o-2024-08-06")
    assert gpt4o.shutdown_date == date(2027, 3, 31)
    latest = gpt4o.history.first()
    assert gpt4o.history.count() == 2
    assert latest.history_change_reason == "OpenAI now says shutdown 2027-03-31"


def test_a_fine_tuned_model_inherits_its_base_model_date(fake_openai):
    fake_openai.model_set(FINE_TUNED, None, owned_by="fake-org")

    catalogue_sync(on=TODAY)

    fine_tuned = entry(FINE_TUNED)
    assert (fine_tuned.kind, fine_tuned.base_model_id) == (ModelKind.FINE_TUNED, "gpt-4.1-mini-2025-04-14")
    assert (fine_tuned.shutdown_date, fine_tuned.shutdown_date_source) == (date(2027, 1, 14), ValueSource.BASE_MODEL)


def test_a_provider_outage_leaves_the_catalogue_as_it_was(fake_openai, caplog):
    catalogue_sync(on=TODAY)
    fake_openai.model_set("gpt-4o-2024-08-06", "2027-03-31")
    fake_openai.inject(Fault(status=500, path="/v1/models"))
    rows = ProviderModel.history.count()

    report = catalogue_sync(on=TODAY)

    assert not report.ok and "500" in report.error
    assert entry("gpt-4o-2024-08-06").shutdown_date == date(2027, 1, 14)
    assert ProviderModel.history.count() == rows
    assert "left as it was" in caplog.text
    assert CatalogueSync.objects.filter(ok=False).count() == 1


def test_a_sync_keeps_a_manual_date_and_records_the_disagreement(fake_openai, compliance):
    catalogue_sync(on=TODAY)
    gpt4o = entry("gpt-4o-2024-08-06")
    catalogue_entry_correct(
        entry=gpt4o, actor=compliance, reason="Account team confirmed an extension", shutdown_date=date(2027, 2, 28)
    )
    fake_openai.model_set("gpt-4o-2024-08-06", "2027-01-31")

    catalogue_sync(on=TODAY)

    gpt4o.refresh_from_db()
    assert (gpt4o.shutdown_date, gpt4o.shutdown_date_source) == (date(2027, 2, 28), ValueSource.MANUAL)
    assert gpt4o.provider_shutdown_date == date(2027, 1, 31)
    assert gpt4o.disagrees
    reason = gpt4o.history.first().history_change_reason
    assert "OpenAI now says shutdown 2027-01-31" in reason
    assert f"the manual date 2027-02-28 (set by {compliance.username}) stays in force" in reason


def test_the_state_turns_to_shutdown_when_the_day_comes(fake_openai):
    catalogue_sync(on=date(2027, 1, 13))
    assert entry("gpt-4.1-2025-04-14").state == LifecycleState.DEPRECATED

    report = catalogue_sync(on=date(2027, 1, 14))

    assert entry("gpt-4.1-2025-04-14").state == LifecycleState.SHUTDOWN
    assert report.changed == sum(1 for d in OPENAI_MODELS.values() if d == "2027-01-14")


def test_a_manual_date_on_a_base_model_reaches_its_fine_tuned_models(fake_openai, compliance):
    fake_openai.model_set(FINE_TUNED, None, owned_by="fake-org")
    catalogue_sync(on=TODAY)

    catalogue_entry_correct(
        entry=entry("gpt-4.1-mini-2025-04-14"),
        actor=compliance,
        reason="Extension agreed with OpenAI",
        shutdown_date=date(2027, 4, 30),
        replacement="gpt-4.1-nano-2025-04-14",
    )

    fine_tuned = entry(FINE_TUNED)
    assert (fine_tuned.shutdown_date, fine_tuned.shutdown_date_source) == (date(2027, 4, 30), ValueSource.BASE_MODEL)
    row = fine_tuned.history.first()
    assert row.history_user.username == settings.FINEPRINT_SERVICE_USERNAME
    assert "base model gpt-4.1-mini-2025-04-14" in row.history_change_reason
    base = entry("gpt-4.1-mini-2025-04-14")
    assert (base.replacement, base.replacement_source, base.manual_by) == (
        "gpt-4.1-nano-2025-04-14",
        ValueSource.MANUAL,
        compliance,
    )
    assert base.history.first().history_change_reason == "Extension agreed with OpenAI"


def test_handing_a_date_back_to_the_provider_takes_the_provider_date_again(fake_openai, compliance):
    catalogue_sync(on=TODAY)
    gpt4o = entry("gpt-4o-2024-08-06")
    catalogue_entry_correct(entry=gpt4o, actor=compliance, reason="Extension", shutdown_date=date(2027, 6, 1))

    catalogue_entry_correct(entry=gpt4o, actor=compliance, reason="Extension withdrawn", use_provider_date=True)

    gpt4o.refresh_from_db()
    assert (gpt4o.shutdown_date, gpt4o.shutdown_date_source) == (date(2027, 1, 14), ValueSource.PROVIDER)
    assert not gpt4o.disagrees


def test_only_compliance_corrects_and_always_with_a_reason(fake_openai, engineer, compliance):
    from core.errors import PermissionDenied, ValidationFailed

    catalogue_sync(on=TODAY)
    gpt4o = entry("gpt-4o-2024-08-06")

    with pytest.raises(PermissionDenied):
        catalogue_entry_correct(entry=gpt4o, actor=engineer, reason="Mine", shutdown_date=date(2027, 6, 1))
    with pytest.raises(ValidationFailed) as raised:
        catalogue_entry_correct(entry=gpt4o, actor=compliance, reason="  ", shutdown_date=date(2027, 6, 1))

    assert "reason" in raised.value.fields
    gpt4o.refresh_from_db()
    assert gpt4o.shutdown_date == date(2027, 1, 14) and gpt4o.history.count() == 1


def test_the_command_syncs_and_fails_loudly_on_an_outage(fake_openai, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("sync_catalogue")

    assert f"{len(OPENAI_MODELS)} models listed, {len(OPENAI_MODELS)} new" in capsys.readouterr().out
    assert set(ProviderModel.history.values_list("history_source", flat=True)) == {Source.COMMAND}
    fake_openai.inject(Fault(status=503, path="/v1/models"))
    with pytest.raises(CommandError, match="left as it was"):
        call_command("sync_catalogue")


def test_the_task_syncs_as_the_service_account_for_whoever_asked(fake_openai, eager_celery, compliance):
    from lifecycle.tasks import catalogue_sync_task

    result = catalogue_sync_task.delay(on_behalf_of_id=compliance.pk).get()

    assert result["ok"] and result["created"] == len(OPENAI_MODELS)
    row = entry("gpt-4o-2024-08-06").history.get()
    assert (row.history_source, row.history_on_behalf_of) == (Source.TASK, compliance)
    assert row.history_user.username == settings.FINEPRINT_SERVICE_USERNAME


def test_an_unreadable_shutdown_date_is_an_outage_not_a_half_written_catalogue(fake_openai):
    fake_openai.model_set("gpt-4o-2024-08-06", "soon")

    report = catalogue_sync(on=TODAY)

    assert not report.ok and "unreadable shutdown_date" in report.error
    assert ProviderModel.objects.count() == 0


def test_the_secret_never_reaches_the_sync_log(fake_openai, settings):
    settings.OPENAI_API_KEY = "sk-wrong-key-that-must-not-leak"

    report = catalogue_sync(on=TODAY)

    assert not report.ok and "401" in report.error
    assert "sk-wrong" not in report.error and "sk-wrong" not in CatalogueSync.objects.get().error


def test_its_history_reads_as_audit_entries_without_the_bookkeeping(fake_openai):
    from core.history import history_entries

    catalogue_sync(on=TODAY)
    fake_openai.model_set("gpt-4o-2024-08-06", "2027-03-31")
    catalogue_sync(on=TODAY)

    entries = history_entries(entry("gpt-4o-2024-08-06").history.all())

    assert [e["action"] for e in entries] == ["created", "changed"]
    changed = {c["field"]: (c["old"], c["new"]) for c in entries[1]["changes"]}
    assert changed == {
        "shutdown_date": ("2027-01-14", "2027-03-31"),
        "provider_shutdown_date": ("2027-01-14", "2027-03-31"),
    }
