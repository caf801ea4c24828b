from __future__ import annotations

from registry.models import RegisteredModel, RiskTier
from tests.conftest import model_payload

URL = "/api/v1/models/"


def test_it_registers_a_model_with_the_engineer_as_technical_owner(api, engineer):
    response = api(engineer).post(URL, model_payload(name="support-bot"), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "support-bot"
    assert body["technical_owner"] == engineer.username
    assert body["risk_tier"] == RiskTier.UNCLASSIFIED
    assert RegisteredModel.objects.get(name="support-bot").created_by == engineer


def test_it_refuses_a_duplicate_name_with_409(api, engineer):
    client = api(engineer)
    client.post(URL, model_payload(name="support-bot"), format="json")

    response = client.post(URL, model_payload(name="support-bot"), format="json")

    assert response.status_code == 409
    assert response.json()["error"]["fields"] == {"name": ["Already exists."]}
    assert RegisteredModel.objects.filter(name="support-bot").count() == 1


def test_it_names_each_invalid_field(api, engineer):
    response = api(engineer).post(URL, {"name": "Not A Slug", "purpose": ""}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"name", "purpose", "display_name", "base_model"}
    assert not RegisteredModel.objects.exists()


def test_it_lets_an_engineer_name_owners_at_registration_but_not_the_risk_tier(api, engineer, compliance):
    client = api(engineer)

    named = client.post(URL, model_payload(business_owner=compliance.username), format="json")
    tiered = client.post(URL, model_payload(risk_tier=RiskTier.HIGH), format="json")

    assert named.status_code == 201
    assert named.json()["business_owner"] == compliance.username
    assert tiered.status_code == 403
    assert tiered.json()["error"]["fields"] == {"risk_tier": ["Governance field: compliance staff only."]}


def test_it_rejects_an_unknown_owner(api, engineer):
    response = api(engineer).post(URL, model_payload(business_owner="nobody"), format="json")

    assert response.status_code == 400
    assert "business_owner" in response.json()["error"]["fields"]


def test_it_lets_an_engineer_edit_descriptive_fields(api, engineer, registered_model):
    response = api(engineer).patch(
        f"{URL}{registered_model.name}/", {"purpose": "Billing only.", "reason": "Scope narrowed"}, format="json"
    )

    assert response.status_code == 200
    registered_model.refresh_from_db()
    assert registered_model.purpose == "Billing only."
    assert registered_model.history.first().history_change_reason == "Scope narrowed"


def test_it_refuses_governance_fields_to_an_engineer(api, engineer, compliance, registered_model):
    response = api(engineer).patch(
        f"{URL}{registered_model.name}/",
        {"risk_tier": RiskTier.MINIMAL, "business_owner": engineer.username},
        format="json",
    )

    assert response.status_code == 403
    assert set(response.json()["error"]["fields"]) == {"risk_tier", "business_owner"}
    registered_model.refresh_from_db()
    assert registered_model.risk_tier == RiskTier.UNCLASSIFIED
    assert registered_model.business_owner is None


def test_it_lets_compliance_set_governance_fields(api, compliance, registered_model):
    response = api(compliance).patch(
        f"{URL}{registered_model.name}/",
        {"risk_tier": RiskTier.HIGH, "business_owner": compliance.username, "reason": "Tier review 2026-Q4"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["risk_tier"] == RiskTier.HIGH
    latest = registered_model.history.first()
    assert latest.history_user == compliance
    assert latest.history_change_reason == "Tier review 2026-Q4"


def test_it_refuses_to_rename_a_model(api, compliance, registered_model):
    response = api(compliance).patch(f"{URL}{registered_model.name}/", {"name": "renamed"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"name": ["Unknown field."]}


def test_it_answers_404_for_an_unknown_model(api, engineer):
    response = api(engineer).get(f"{URL}does-not-exist/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
