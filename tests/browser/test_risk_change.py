"""Compliance changes a risk's score with a reason, and finds the reason in its history."""

from __future__ import annotations

from risks import services
from risks.models import Risk
from tests.risks.conftest import risk_payload


def test_it_changes_a_risk_with_a_reason_and_shows_it_in_the_history(browser, compliance):
    risk = services.risk_create(actor=compliance, owner=compliance, **risk_payload())
    change_page = f"/admin/risks/risk/{risk.pk}/change/"

    browser.log_in(compliance)
    browser.open(change_page)
    browser.select("residual_likelihood", "1")
    browser.submit("input[name=_save]")
    # Refused without a reason: the error is where the eye is, not 2,700 px above the field.
    assert Risk.objects.get(pk=risk.pk).residual_likelihood == 2
    reason_errors = browser.all(
        ".errors.field-change_reason .errorlist, #change_reason-errors, .field-change_reason ul"
    )
    assert reason_errors, f"no error at the reason field; the page reads:\n{browser.text[:2000]}"
    browser.assert_in_view(browser.find("[name=change_reason]"), "The reason field, after a save refused for it")
    browser.screenshot("no-reason")

    browser.select("residual_likelihood", "1")
    browser.type("change_reason", "Guard chats cut refund promises to near zero")
    browser.submit("input[name=_save]")

    [message] = browser.messages("success")
    assert risk.reference in message
    assert "changed successfully" in message
    assert Risk.objects.get(pk=risk.pk).residual_likelihood == 1
    browser.open(f"/admin/risks/risk/{risk.pk}/history/")
    [row] = [row for row in browser.rows("table tbody tr") if "Guard chats" in row]
    assert compliance.username in row
    browser.screenshot("risk-history")
