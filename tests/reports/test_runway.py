"""The runway section and the runway decisions: each live deployment's days left at month end, as it stood then."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from pypdf import PdfReader

from core.demo import demo_clock
from registry import services
from reports.builder import data_sha256, report_data
from reports.periods import Period
from reports.render import render_pdf
from tests.conftest import model_payload
from tests.reports.conftest import MINI, NANO, NOVEMBER, OCTOBER, _evaluated, _release, at, december_changes

pytestmark = pytest.mark.django_db

SEPTEMBER = Period(2026, 9)
DECEMBER = Period(2026, 12)
STATEMENT = (
    f"support-assistant v3 in production: base {MINI} shuts down 2027-01-14, 45 days after month end; "
    "no candidate passes the gate (v4 fails it)"
)


def rows_by_model(data: dict) -> dict[str, dict]:
    return {row["model"]: row for row in data["runway"]["deployments"]}


def pdf_text(data: dict) -> tuple[list[str], str]:
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(data, sha256=data_sha256(data)))).pages]
    return pages, re.sub(r"\s+", " ", " ".join(pages))


def test_it_shows_each_live_deployment_with_its_days_left_at_month_end(runway_world):
    data = report_data(NOVEMBER, now=at(12, 1, 6))

    rows = rows_by_model(data)
    assert list(rows) == ["support-assistant", "faq-bot"]  # soonest shutdown first
    retiring = rows["support-assistant"]
    assert (retiring["environment"], retiring["version"], retiring["base_model"]) == ("production", "v3", MINI)
    assert (retiring["state"], retiring["shutdown_date"]) == ("deprecated", "2027-01-14")
    # Counted from the month's last day.
    assert retiring["days_left"] == (date(2027, 1, 14) - date(2026, 11, 30)).days == 45
    assert retiring["urgency"] == "warning"
    assert retiring["candidate"]["version"] == "v4"
    assert retiring["candidate"]["base_model"] == NANO
    assert retiring["gate"] == "failed"
    assert "win_rate >= 0.55" in retiring["candidate"]["failing"]
    steady = rows["faq-bot"]
    assert (steady["state"], steady["shutdown_date"], steady["days_left"], steady["gate"]) == (
        "active",
        None,
        None,
        None,
    )
    assert data["runway"]["counted_from"] == "2026-11-30"


def test_the_decisions_page_lists_a_production_version_without_a_passing_candidate(runway_world):
    decisions = report_data(NOVEMBER, now=at(12, 1, 6))["decisions"]

    [row] = decisions["runway_without_candidate"]
    assert row["statement"] == STATEMENT
    assert (row["version"], row["days_left"], row["candidate"]) == ("support-assistant:v3", 45, "v4")


def test_a_month_with_more_than_the_warning_window_left_has_no_runway_decision(runway_world):
    data = report_data(SEPTEMBER, now=at(10, 1, 6))

    retiring = rows_by_model(data)["support-assistant"]
    assert retiring["days_left"] == (date(2027, 1, 14) - date(2026, 9, 30)).days == 106
    # v4 was registered in November: in September there was no candidate.
    assert (retiring["candidate"], retiring["gate"]) == (None, "none")
    assert data["decisions"]["runway_without_candidate"] == []


def test_a_model_missing_from_the_catalogue_is_unknown_not_retiring(world, in_october):
    [row] = report_data(OCTOBER, now=in_october)["runway"]["deployments"]

    assert (row["model"], row["version"], row["state"], row["days_left"], row["gate"]) == (
        "support-bot",
        "v2",
        "unknown",
        None,
        None,
    )


def test_a_change_after_the_month_end_does_not_change_that_months_runway(runway_world):
    before = report_data(NOVEMBER, now=at(12, 1, 6))

    december_changes(runway_world)
    after = report_data(NOVEMBER, now=at(12, 10))

    assert data_sha256(after) == data_sha256(before)
    assert rows_by_model(after)["support-assistant"]["shutdown_date"] == "2027-01-14"
    assert rows_by_model(after)["support-assistant"]["gate"] == "failed"
    # December itself sees the new date and the passing candidate: nothing to decide.
    december = report_data(DECEMBER, now=at(12, 10))
    retiring = rows_by_model(december)["support-assistant"]
    days = (date(2027, 6, 30) - date(2026, 12, 31)).days
    assert (retiring["shutdown_date"], retiring["days_left"]) == ("2027-06-30", days)
    assert (retiring["candidate"]["version"], retiring["gate"]) == ("v4", "passed")
    assert december["decisions"]["runway_without_candidate"] == []


def test_the_pdf_shows_the_runway_and_the_decision(runway_world):
    pages, text = pdf_text(report_data(NOVEMBER, now=at(12, 1, 6)))

    assert STATEMENT in re.sub(r"\s+", " ", pages[1])  # the summary: decisions required
    assert "Production versions within 90 days of shutdown, no candidate ready 1" in text
    runway = text[text.index("7. Runway of live deployments") : text.index("8. Audit trail")]
    assert "support-assistant v3 production" in runway
    assert "45 days WARNING" in runway
    assert "2027-01-14" in runway
    assert "none announced" in runway  # faq-bot's base
    assert "failed" in runway


def test_the_pdf_of_a_month_without_a_retiring_production_version_has_no_runway_decision(runway_world):
    _, text = pdf_text(report_data(SEPTEMBER, now=at(10, 1, 6)))

    assert "support-assistant v3 in production" not in text
    assert "Production versions within 90 days of shutdown, no candidate ready 0" in text
    assert "106 days" in text


def test_a_production_version_whose_base_has_shut_down_is_a_decision_too(runway_world, engineer):
    approver = get_user_model().objects.get(username="ada-approver")
    with demo_clock(at(9, 5)):  # before gpt-3.5-turbo-0125 shut down on 2026-10-23
        legacy = services.model_create(actor=engineer, **model_payload(name="legacy", base_model="gpt-3.5-turbo-0125"))
        _release(_evaluated(legacy, engineer, "v7", 0.6), engineer, approver)

    data = report_data(NOVEMBER, now=at(12, 1, 6))

    row = rows_by_model(data)["legacy"]
    assert (row["state"], row["days_left"], row["urgency"]) == ("shutdown", -38, "shut_down")
    statements = [r["statement"] for r in data["decisions"]["runway_without_candidate"]]
    assert statements[0] == (
        "legacy v7 in production: base gpt-3.5-turbo-0125 shut down 2026-10-23, 38 days before month end; "
        "no candidate passes the gate (none on an active base model)"
    )
    _, text = pdf_text(data)
    assert "38 days ago SHUT DOWN" in text
