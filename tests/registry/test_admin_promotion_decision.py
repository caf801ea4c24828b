"""Compliance decides a promotion in the admin: the gate rule by rule, errors beside their field, a sentence after."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry import releases
from registry.models import Promotion, PromotionStatus
from tests.registry.test_releases import evaluated

LIST = "/admin/registry/promotion/"


@pytest.fixture
def admin_client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


def failing_request(model, engineer) -> Promotion:
    version = evaluated(model, engineer, "v1", p95_latency_ms=5000)  # the default gate wants at most 1200
    return releases.promotion_request(version=version, actor=engineer, target="production", justification="Pilot")


def approve_url(promotion) -> str:
    return reverse("admin:registry_promotion_approve", args=[promotion.pk])


def test_it_shows_the_gate_rule_by_rule_before_the_decision(admin_client, engineer, registered_model):
    promotion = failing_request(registered_model, engineer)

    html = admin_client.get(approve_url(promotion)).content.decode()

    assert f"Approve {registered_model.name} v1 for production" in html
    assert "Gate failed</span> against the default policy (settings)" in html
    latency = re.search(r'<tr class="fp-gate-rule fp-gate-fail">(.*?)</tr>', html, re.S).group(1)
    assert "p95_latency_ms &lt;= 1200" in latency
    assert "5,000" in latency and "at most 1,200" in latency and "Failed" in latency
    assert html.count('class="fp-gate-rule fp-gate-pass"') >= 2  # the rules that passed are shown too
    assert "fp-needed" in html  # the override field says it is needed


def test_it_keeps_the_typed_reason_and_puts_the_error_beside_the_override(admin_client, engineer, registered_model):
    promotion = failing_request(registered_model, engineer)

    response = admin_client.post(approve_url(promotion), {"apply": "1", "reason": "CAB-9 looked at it"})

    html = response.content.decode()
    assert response.status_code == 200  # the same page, not the list
    assert "CAB-9 looked at it</textarea>" in html
    override = re.search(r'id="fp-field-override_justification">(.*?)</div>', html, re.S).group(1)
    assert "The gate failed: approving needs an override justification." in override
    assert 'action="#fp-form"' in html  # the browser lands on the form, not at the top of the page
    assert Promotion.objects.get(pk=promotion.pk).status == PromotionStatus.PENDING


def test_it_says_what_an_overridden_approval_did(admin_client, engineer, registered_model):
    promotion = failing_request(registered_model, engineer)

    response = admin_client.post(
        approve_url(promotion),
        {"apply": "1", "reason": "CAB-9", "override_justification": "Pilot with ten users"},
        follow=True,
    )

    html = response.content.decode()
    assert response.redirect_chain[-1][0] == LIST
    assert f"Approved {registered_model.name} v1 for production; the gate failed and your override is recorded." in html
    assert Promotion.objects.get(pk=promotion.pk).override_justification == "Pilot with ten users"


def test_it_approves_from_the_list_action_and_says_the_gate_passed(admin_client, engineer, registered_model):
    version = evaluated(registered_model, engineer, "v1")
    canary = releases.promotion_request(
        version=version, actor=engineer, target="canary", traffic_percent=10, justification="Try it"
    )
    selection = {"action": "approve", "_selected_action": [canary.pk]}

    asked = admin_client.post(LIST, selection).content.decode()
    done = admin_client.post(LIST, {**selection, "apply": "1", "reason": "Gate passed"}, follow=True)

    assert "Gate passed</span>" in asked
    sentence = f"Approved {registered_model.name} v1 for canary at 10% of traffic; the gate passed."
    assert sentence in done.content.decode()
    assert Promotion.objects.get(pk=canary.pk).status == PromotionStatus.APPROVED


def test_it_says_what_a_rejection_did(admin_client, engineer, registered_model):
    promotion = failing_request(registered_model, engineer)
    url = reverse("admin:registry_promotion_reject", args=[promotion.pk])

    empty = admin_client.post(url, {"apply": "1", "reason": ""})
    done = admin_client.post(url, {"apply": "1", "reason": "Latency too high"}, follow=True)

    assert "This field is required." in empty.content.decode()
    assert "override_justification" not in empty.content.decode()  # rejecting overrides nothing
    assert (
        f"Rejected {registered_model.name} v1 for production; what serves production is unchanged."
        in done.content.decode()
    )
    assert Promotion.objects.get(pk=promotion.pk).status == PromotionStatus.REJECTED


def test_it_keeps_a_four_eyes_refusal_on_the_page(engineer, registered_model):
    from core.roles import Role
    from tests.conftest import make_user

    both = make_user("bo-both", Role.COMPLIANCE, is_staff=True)
    both.groups.add(*engineer.groups.all())
    version = evaluated(registered_model, engineer, "v1")
    promotion = releases.promotion_request(version=version, actor=both, target="production", justification="Mine")
    client = Client()
    client.force_login(both)

    html = client.post(approve_url(promotion), {"apply": "1", "reason": "Self-approval"}).content.decode()

    assert "Four eyes: the person who requested a promotion cannot decide it." in html
    assert "Self-approval</textarea>" in html
    assert Promotion.objects.get(pk=promotion.pk).status == PromotionStatus.PENDING


def test_it_lists_promotions_with_words_for_the_gate_in_constant_queries(
    admin_client, engineer, compliance, registered_model
):
    overridden = failing_request(registered_model, engineer)
    releases.promotion_approve(promotion=overridden, actor=compliance, reason="x", override_justification="Pilot")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(LIST)
    for label in ("v2", "v3"):
        version = evaluated(registered_model, engineer, label)
        releases.promotion_request(
            version=version, actor=engineer, target="canary", traffic_percent=5, justification="x"
        )

    with CaptureQueriesContext(connection) as many:
        html = admin_client.get(LIST).content.decode()

    assert len(many) == len(few)
    assert "Failed, overridden" in html
    assert "icon-yes.svg" not in html and "icon-no.svg" not in html  # no tick or cross to misread
    assert html.count('class="fp-approve"') == 2  # only the pending ones offer a decision
    assert "to canary, 5%" in html


def test_it_shows_the_gate_as_it_stood_at_the_decision(admin_client, engineer, compliance, registered_model):
    promotion = failing_request(registered_model, engineer)
    releases.promotion_approve(promotion=promotion, actor=compliance, reason="x", override_justification="Pilot")

    html = admin_client.get(reverse("admin:registry_promotion_change", args=[promotion.pk])).content.decode()

    assert "Gate failed</span>" in html
    assert "p95_latency_ms &lt;= 1200" in html
    assert '"rules":' not in html and "&quot;rules&quot;" not in html  # a table, not the stored JSON
