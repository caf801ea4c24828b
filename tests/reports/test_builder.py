"""The report's data builder on a fixed world: counts, bands, trends, acceptances, reconstruction from history."""

from __future__ import annotations

import pytest

from core.demo import demo_clock
from reports.builder import data_sha256, report_data
from risks import services as risk_services
from tests.reports.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db


def test_it_counts_the_inventory_of_the_period(world, in_october):
    data = report_data(OCTOBER, now=in_october)

    counts = data["inventory"]["counts"]
    assert (counts["registered"], counts["promoted"], counts["rolled_back"], counts["retired"]) == (1, 1, 0, 0)
    assert (counts["models"], counts["versions"]) == (1, 2)  # v3 came in November
    assert [r["version"] for r in data["inventory"]["registered"]] == ["support-bot:v2"]
    assert data["inventory"]["promoted"][0]["version"] == "support-bot:v2"
    assert data["period_label"] == "October 2026"


def test_it_reads_the_register_as_it_stood_at_the_end_of_the_period(world, in_october):
    data = report_data(OCTOBER, now=in_october)
    risks = data["risks"]

    # In October: the September risk (Medium), the High one, two accepted Medium ones. In November the
    # High one became Low and the September one was closed: the October report does not see that.
    assert risks["open"] == 4
    assert risks["by_band"] == {"low": 0, "medium": 3, "high": 1, "critical": 0}
    assert risks["by_band_previous"] == {"low": 0, "medium": 1, "high": 0, "critical": 0}
    assert risks["heatmap"]["residual"][3][3] == 1  # likelihood 4, impact 4
    # The heat maps' colours come with the data, from the matrix in force: impact 5 is never below High.
    assert (risks["matrix_bands"][0][4], risks["matrix_bands"][4][4], risks["matrix_bands"][0][0]) == (
        "high",
        "critical",
        "low",
    )
    assert risks["heatmap"]["inherent"][4][3] == 1  # likelihood 5, impact 4
    assert sum(map(sum, risks["heatmap"]["residual"])) == 4
    # The trend starts where the register's data starts (its first risk, in September), not with empty months.
    assert [t["period"] for t in risks["trend"]] == ["2026-09", "2026-10"]
    assert [t["medium"] for t in risks["trend"]] == [1, 3]
    assert risks["likelihood_names"] == ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
    assert risks["impact_names"] == ["Negligible", "Minor", "Moderate", "Major", "Catastrophic"]
    assert risks["top"][0]["title"] == "Leaks <script>card</script> numbers"
    assert risks["top"][0]["owner"] == "erin-engineer"
    assert risks["top"][0]["residual"] == "High 16"
    assert [c["name"] for c in risks["breached_controls"]] == ["p95 within SLA"]
    assert [a["action"] for a in risks["overdue_actions"]] == ["Add guard chats"]


def test_a_report_regenerated_later_shows_the_same_month(world, in_october, compliance):
    first = report_data(OCTOBER, now=in_october)
    with demo_clock(at(11, 20)):
        risk_services.risk_update(
            risk=world["accepted"], actor=compliance, data={"title": "Renamed in November"}, reason="Tidy"
        )
    again = report_data(OCTOBER, now=at(11, 25))

    assert again["generated_at"] != first["generated_at"]
    assert data_sha256(again) == data_sha256(first)
    assert "Renamed in November" not in str(again)


def test_it_lists_what_needs_a_decision(world, in_october):
    decisions = report_data(OCTOBER, now=in_october)["decisions"]

    assert [r["title"] for r in decisions["over_appetite"]] == ["Leaks <script>card</script> numbers"]
    # Expiring by 2026-12-01 (30 days after the period): the one expiring on 11-10, not the one on 12-15.
    assert [(a["risk"], a["expires"], a["conditions"]) for a in decisions["acceptances_expiring"]] == [
        (world["accepted"].reference, "2026-11-10", "Watch it")
    ]
    assert decisions["overdue_reviews"] == []
    assert decisions["pending_promotions"] == []


def test_it_shows_the_win_rate_trend_and_regressions_of_production_models(world, in_october):
    [trend] = report_data(OCTOBER, now=in_october)["evaluations"]

    assert (trend["model"], trend["production_version"]) == ("support-bot", "v2")
    assert [(p["version"], p["win_rate"]) for p in trend["points"]] == [("v1", 0.62), ("v2", 0.55)]
    assert trend["baseline"] == "gpt-4.1-nano-2025-04-14"
    # Both typed in by hand: no interval, so their drop is never called a win-rate regression; latency still is.
    assert [(p["lower"], p["upper"], p["supported"]) for p in trend["points"]] == [(None, None, False)] * 2
    assert trend["typed"] == 2
    assert [r for r in trend["regressions"] if r.startswith("win rate")] == []
    assert any(r.startswith("p95 latency 900 -> 1200") for r in trend["regressions"])


def test_it_reports_incidents_with_examples_and_their_clock(world, in_october):
    incidents = report_data(OCTOBER, now=in_october)["incidents"]

    [opened] = incidents["opened"]
    assert opened["reference"] == world["incident"].reference
    # Aware on 10-14, "other" serious kind: 15 days, so due on 10-29, before the end of the month.
    assert opened["clock"] == "deadline 2026-10-29 passed without a report"
    assert opened["examples"][0]["prompt"] == "Refund to [email]?"
    assert incidents["serious_open"][0]["reference"] == world["incident"].reference


def test_it_counts_the_audit_trail_of_the_period(world, in_october):
    audit = report_data(OCTOBER, now=in_october)["audit"]

    people = dict(audit["by_user"])
    assert audit["changes"] == sum(audit["by_source"].values()) > 0
    assert people["carla-compliance"] > 0 and people["erin-engineer"] > 0
    # No developer note ("not in place yet") travels with the data into the report.
    assert "integrity" not in audit
