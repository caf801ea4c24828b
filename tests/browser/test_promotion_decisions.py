"""Compliance approves and rejects promotions; a failing gate needs an override, and nothing typed is lost."""

from __future__ import annotations

from registry import releases
from registry.models import Promotion, PromotionStatus
from tests.registry.test_releases import evaluated


def _pending(version, engineer, target="production") -> Promotion:
    return releases.promotion_request(version=version, actor=engineer, target=target, justification="Beats baseline")


def test_it_approves_a_promotion_whose_gate_fails_only_with_an_override(
    browser, compliance, engineer, registered_model
):
    weak = _pending(evaluated(registered_model, engineer, "v-weak", win_rate=0.2), engineer)

    browser.log_in(compliance)
    browser.open("/admin/registry/promotion/")
    browser.assert_within_width(browser.column_headers()["status"], "The promotion list's Status column")
    browser.screenshot("promotion-list")
    browser.list_action("approve", weak)
    assert "win_rate" in browser.text or "Win rate" in browser.text, "the decision page shows the gate rule by rule"
    browser.screenshot("decide")

    browser.type("reason", "CAB 14 Nov: ship despite the dip")
    browser.submit("input[type=submit].default, form input[type=submit]")
    assert Promotion.objects.get(pk=weak.pk).status == PromotionStatus.PENDING
    assert "override" in browser.text.lower()
    assert browser.value("reason") == "CAB 14 Nov: ship despite the dip", "what was typed is kept"
    browser.screenshot("refused-without-override")

    browser.type("override_justification", "Pilot with 20 agents; win rate measured on old intents")
    browser.submit("input[type=submit].default, form input[type=submit]")

    [message] = browser.messages("success")
    assert message.startswith("Approved"), message
    assert "v-weak" in message
    assert Promotion.objects.get(pk=weak.pk).status == PromotionStatus.APPROVED
    browser.screenshot("approved")


def test_it_approves_a_passing_promotion_and_rejects_another(browser, compliance, engineer, registered_model):
    good = _pending(evaluated(registered_model, engineer, "v-good"), engineer)

    browser.log_in(compliance)
    browser.open("/admin/registry/promotion/")
    browser.list_action("approve", good)
    browser.type("reason", "Gate passed; CAB agreed")
    browser.submit("input[type=submit].default, form input[type=submit]")
    [approved] = browser.messages("success")
    assert approved.startswith("Approved") and "v-good" in approved, approved
    assert Promotion.objects.get(pk=good.pk).status == PromotionStatus.APPROVED

    other = _pending(evaluated(registered_model, engineer, "v-next"), engineer)
    browser.open("/admin/registry/promotion/")
    browser.list_action("reject", other)
    browser.type("reason", "Wait for the December golden set")
    browser.submit("input[type=submit].default, form input[type=submit]")
    [rejected] = browser.messages("success")
    assert rejected.startswith("Rejected") and "v-next" in rejected, rejected
    assert Promotion.objects.get(pk=other.pk).status == PromotionStatus.REJECTED
    assert Promotion.objects.get(pk=good.pk).status == PromotionStatus.APPROVED
    browser.screenshot("rejected")
