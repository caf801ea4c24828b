"""The demo risk register `make run` loads reads like a real one."""

from __future__ import annotations

from django.core.management import call_command

from core.audit import Source
from risks import selectors
from risks.models import Control, Incident, Risk


def test_it_seeds_a_register_that_reads_like_a_real_one_once(db, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")

    call_command("seed_demo_risks")
    call_command("seed_demo_risks")

    assert Risk.objects.count() == 7
    categories = set(Risk.objects.values_list("category", flat=True))
    assert categories == {
        "policy_violation",
        "data_drift",
        "latency_spikes",
        "quota_exhaustion",
        "data_leak",
        "misclassification",
        "safety_breach",
    }
    assert all(risk.mitigation and risk.owner_id for risk in Risk.objects.all())
    overdue = selectors.risk_list(filters=selectors.RiskFilters(overdue=True))
    assert [r.title for r in overdue] == ["Provider quota exhausted during sales peaks"]
    breached = Control.objects.filter(breached=True)
    assert [c.name for c in breached] == ["p95 latency within SLA"]
    # The production version since the migration: support-assistant v3 (p95 1010 ms, above the 900 ms SLA).
    assert "p95_latency_ms = 1010 on support-assistant:v3" in breached.get().breach_detail
    assert Risk.objects.get(title__startswith="Latency spikes").breached
    assert Control.objects.filter(metric_checks__isnull=False).distinct().count() == 3
    incident = Incident.objects.get()
    assert incident.examples.count() == 2
    assert "[email]" in incident.examples.first().prompt
    assert set(Risk.history.values_list("history_source", flat=True)) == {Source.COMMAND}
    assert "nothing to seed" in capsys.readouterr().out
