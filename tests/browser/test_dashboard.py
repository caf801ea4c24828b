"""Compliance logs in to a Fineprint dashboard that says what needs doing, and follows a count to its list."""

from __future__ import annotations

from registry import releases
from tests.registry.test_releases import evaluated


def test_it_opens_on_a_fineprint_dashboard_of_what_needs_doing(browser, compliance, engineer, registered_model):
    pending = releases.promotion_request(
        version=evaluated(registered_model, engineer, "v-pending"),
        actor=engineer,
        target="production",
        justification="Beats baseline",
    )

    browser.log_in(compliance)
    assert browser.path == "/admin/"
    header = browser.find("#site-name").text
    assert "Fineprint" in header
    assert "Django administration" not in browser.text
    assert "Crontabs" not in browser.text, "technical models are for superusers only"
    assert "v-pending" in browser.text or "1 promotion" in browser.text.lower()
    browser.screenshot("dashboard")

    filtered = browser.all("#content a[href*='/admin/registry/promotion/?']")
    assert filtered, "the pending approvals link to the filtered promotion list"
    browser.follow(filtered[0])
    [row] = browser.rows()
    assert "v-pending" in row
    assert pending.version.model.name in row or pending.version.model.display_name in row
    browser.screenshot("pending-promotions")
