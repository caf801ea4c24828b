"""A change refused for want of a reason shows the error where the reason is typed: first on the form."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from risks.models import Risk
from tests.risks.conftest import risk_payload


@pytest.fixture
def client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


def _fields_after_the_error_note(page: str) -> list[str]:
    """The names of the form's fields in page order, from "Please correct the error below" on."""
    rest = page.split('class="errornote"', 1)[1]
    return [name for name in re.findall(r'<(?:input|textarea|select)[^>]*name="([^"]+)"', rest) if "-" not in name]


def _risk_form(compliance, **overrides) -> dict:
    payload = risk_payload()
    management = {
        f"{prefix}-{name}": "0"
        for prefix in ("actions", "acceptances")
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
    }
    return {
        **{f: payload[f] for f in ("title", "statement", "category", "treatment", "mitigation")},
        **{f: payload[f] for f in Risk.SCALE_FIELDS},
        "owner": compliance.pk,
        "delegate": "",
        "status": "open",
        "change_reason": "",
        **management,
        **overrides,
    }


def test_it_shows_the_missing_reason_right_under_the_error_note(client, compliance, risk):
    url = reverse("admin:risks_risk_change", args=[risk.pk])

    response = client.post(url, _risk_form(compliance, title="Refund promises, renamed"))

    page = response.content.decode()
    assert response.status_code == 200
    assert _fields_after_the_error_note(page)[0] == "change_reason"
    error = page.index("This field is required")
    assert page.index('class="errornote"') < error < page.index('name="change_reason"') < page.index('name="title"')
    risk.refresh_from_db()
    assert risk.title == "Refund promises outside policy"  # nothing saved


@pytest.mark.parametrize("model_name", ["risk", "treatmentaction", "control", "incident", "documentevidence"])
def test_it_asks_for_the_reason_first_on_every_form_of_the_register(client, model_name):
    page = client.get(reverse(f"admin:risks_{model_name}_add")).content.decode()

    fields = [name for name in re.findall(r'<(?:input|textarea|select)[^>]*name="([^"]+)"', page) if "-" not in name]
    assert next(f for f in fields if f != "csrfmiddlewaretoken") == "change_reason"


def test_it_asks_no_reason_of_a_reader(engineer, risk):
    engineer.is_staff = True
    engineer.save()
    reader = Client()
    reader.force_login(engineer)

    page = reader.get(reverse("admin:risks_risk_change", args=[risk.pk])).content.decode()

    assert "Reason for this change" not in page and 'name="change_reason"' not in page
