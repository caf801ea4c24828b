"""`update_lifecycle_risks`: the hourly tick, run now from the shell (make run does it after the sync)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from core.audit import Source
from risks.models import RunwayRisk

pytestmark = pytest.mark.django_db


def test_it_opens_the_demo_runway_risks_from_the_command_line(settings, fake_openai, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("sync_catalogue")
    capsys.readouterr()

    call_command("update_lifecycle_risks")

    out = capsys.readouterr().out
    from lifecycle.selectors import runway

    # Independently of the code under test: which demo deployments are within the warning window today.
    days = {
        name: runway(provider="openai", base_model=base).days_left
        for name, base in (("support-assistant", "gpt-4.1-mini-2025-04-14"), ("pharmacy-faq", "gpt-4o-mini-2024-07-18"))
    }
    expected = {n for n, d in days.items() if d is not None and d <= settings.LIFECYCLE_WARN_DAYS}
    opened = set(RunwayRisk.objects.values_list("model__name", flat=True))
    assert opened == expected
    assert f"opened {len(expected)}" in out
    for link in RunwayRisk.objects.select_related("risk"):
        assert link.risk.history.first().history_source == Source.COMMAND
