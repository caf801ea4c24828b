"""Generating reports: one revision per trigger, a new revision per regeneration, the command, the history."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.core.management import call_command

from core.audit import service_user
from core.leases import lease_claim
from reports import services
from reports.builder import data_sha256
from reports.models import Report, ReportRevision, Trigger
from reports.periods import Period
from reports.tasks import report_monthly
from tests.reports.conftest import OCTOBER

pytestmark = pytest.mark.django_db


def test_two_scheduled_triggers_for_one_period_make_one_revision(world, eager_celery, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    first = report_monthly.delay("2026-10").get()
    second = report_monthly.delay("2026-10").get()

    assert (first["revision"], first["created"]) == (1, True)
    assert (second["revision"], second["created"]) == (1, False)
    assert ReportRevision.objects.count() == 1
    revision = ReportRevision.objects.get()
    assert revision.trigger == Trigger.SCHEDULE
    assert revision.triggered_by == service_user()
    with revision.pdf.open("rb") as pdf:
        assert hashlib.sha256(pdf.read()).hexdigest() == revision.pdf_sha256
    assert data_sha256(revision.data) == revision.data_sha256
    assert revision.pages >= 5


def test_a_trigger_claimed_elsewhere_is_left_to_that_process(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert lease_claim(f"report:{services.schedule_trigger_key(OCTOBER)}", seconds=60)

    result = services.report_generate(
        period=OCTOBER,
        actor=service_user(),
        trigger=Trigger.SCHEDULE,
        trigger_key=services.schedule_trigger_key(OCTOBER),
    )

    assert result is None
    assert not ReportRevision.objects.exists()


def test_regenerating_makes_the_next_revision_and_keeps_the_earlier_ones(world, settings, tmp_path, capsys, compliance):
    settings.MEDIA_ROOT = tmp_path
    call_command("generate_report", "2026-10")
    call_command("generate_report", "2026-10", "--as", compliance.username)

    out = capsys.readouterr().out
    revisions = list(ReportRevision.objects.order_by("number"))
    assert [r.number for r in revisions] == [1, 2]
    assert Report.objects.count() == 1
    assert f"Report 2026-10 revision 2: id {revisions[1].pk}," in out
    assert f"PDF SHA-256:  {revisions[1].pdf_sha256}" in out
    # The same month from the same records: the same data, whatever the generation time.
    assert revisions[0].data_sha256 == revisions[1].data_sha256
    assert revisions[1].triggered_by == compliance
    row = revisions[1].history.first()
    assert (row.history_user, row.history_source) == (compliance, "command")
    assert row.history_change_reason == "Report 2026-10 regenerated as revision 2 (Command line)"
    assert Report.history.first().history_change_reason == "First report for 2026-10"


def test_the_command_refuses_a_bad_period(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("generate_report", "October")


def test_the_schedule_runs_at_six_on_the_first_in_the_configured_time_zone(db, settings):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="reports.tasks.report_monthly")
    assert task.enabled
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year) == ("0", "6", "1", "*")
    assert str(crontab.timezone) == settings.TIME_ZONE


def test_the_scheduled_run_reports_on_the_previous_month(db):
    from datetime import UTC, datetime

    assert Period.previous_month(datetime(2026, 11, 1, 6, tzinfo=UTC)) == Period(2026, 10)
    assert Period.previous_month(datetime(2027, 1, 1, 6, tzinfo=UTC)) == Period(2026, 12)
    assert re.match(r"^\d{4}-\d{2}$", str(Period.previous_month()))


def test_make_run_makes_the_demo_report_once(world, settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path
    call_command("generate_report", "2026-10", "--send", "--if-missing")
    call_command("generate_report", "2026-10", "--send", "--if-missing")

    out = capsys.readouterr().out
    assert ReportRevision.objects.count() == 1
    assert "sent to eve@example.com: sent" in out
    assert "exists already; nothing to do" in out
