"""Four eyes are two people: nobody decides a promotion they could have requested, whatever token they hold."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from rest_framework.test import APIClient

from core.models import ApiToken
from core.roles import SERVICE_ACCOUNTS, Role
from registry.models import Promotion, PromotionStatus
from tests.conftest import make_user
from tests.registry.test_releases import evaluated, url


def operator_token(capsys, username: str, operator: str) -> tuple[APIClient, ApiToken]:
    """A token an operator issued at the shell with `issue_token --operator`."""
    call_command("issue_token", username, "--operator", operator)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {capsys.readouterr().out.strip()}")
    return client, ApiToken.objects.filter(user__username=username).latest("id")


def request_production(client: APIClient, version) -> dict:
    response = client.post(url(version), {"target": "production", "justification": "Wins"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_issuer_of_the_requests_token_cannot_approve_it(api, capsys, engineer, compliance, registered_model):
    # The reported bypass: compliance mints a token for an engineer, requests "as" them, then approves.
    version = evaluated(registered_model, engineer, "v1")
    as_engineer, token = operator_token(capsys, engineer.username, operator=compliance.username)
    promotion = request_production(as_engineer, version)

    refused = api(compliance).post(url(version, f"{promotion['id']}/approve/"), {"reason": "ok"}, format="json")

    assert promotion["requested_by"] == engineer.username
    assert promotion["requested_with_token"] == token.prefix
    assert refused.status_code == 403
    assert "issued the token" in refused.json()["error"]["message"]
    assert Promotion.objects.get(pk=promotion["id"]).status == PromotionStatus.PENDING


def test_nobody_approves_with_a_token_the_requester_issued(api, capsys, engineer, compliance, registered_model):
    # The same bypass the other way round: an operator mints a compliance token and approves their own request.
    version = evaluated(registered_model, engineer, "v1")
    promotion = request_production(api(engineer), version)
    as_compliance, _ = operator_token(capsys, compliance.username, operator=engineer.username)

    refused = as_compliance.post(url(version, f"{promotion['id']}/approve/"), {"reason": "ok"}, format="json")

    assert refused.status_code == 403
    assert "issued by the person who requested" in refused.json()["error"]["message"]


def test_an_approval_records_the_tokens_of_both_sides(api, engineer, compliance, registered_model):
    version = evaluated(registered_model, engineer, "v1")
    engineer_client, compliance_client = api(engineer), api(compliance)
    promotion = request_production(engineer_client, version)

    approved = compliance_client.post(url(version, f"{promotion['id']}/approve/"), {"reason": "Gate passed"})

    assert approved.status_code == 200, approved.json()
    stored = Promotion.objects.select_related("requested_with_token", "decided_with_token").get(pk=promotion["id"])
    assert stored.requested_with_token.user == engineer
    assert stored.decided_with_token.user == compliance
    assert approved.json()["requested_with_token"] == stored.requested_with_token.prefix
    assert approved.json()["decided_with_token"] == stored.decided_with_token.prefix
    assert stored.history.first().decided_with_token_id == stored.decided_with_token_id


@pytest.fixture
def service_account(db):
    account = make_user("ci-pipeline", Role.ENGINEER)
    account.groups.add(Group.objects.get(name=SERVICE_ACCOUNTS))
    return account


def test_a_service_account_registers_but_never_requests_a_promotion(capsys, service_account, registered_model):
    version = evaluated(registered_model, service_account, "v1")
    call_command("issue_token", service_account.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {capsys.readouterr().out.strip()}")

    registered = client.get(f"/api/v1/models/{registered_model.name}/versions/")
    refused = client.post(url(version), {"target": "production", "justification": "Wins"}, format="json")

    assert registered.status_code == 200
    assert refused.status_code == 403
    assert "Service accounts" in refused.json()["error"]["message"]
    assert not Promotion.objects.exists()


def test_a_service_account_never_decides_a_promotion(api, capsys, engineer, registered_model):
    robot = make_user("release-bot", Role.COMPLIANCE)
    robot.groups.add(Group.objects.get(name=SERVICE_ACCOUNTS))
    call_command("issue_token", robot.username)
    as_robot = APIClient()
    as_robot.credentials(HTTP_AUTHORIZATION=f"Bearer {capsys.readouterr().out.strip()}")
    version = evaluated(registered_model, engineer, "v1")
    promotion = request_production(api(engineer), version)

    refused = as_robot.post(url(version, f"{promotion['id']}/approve/"), {"reason": "ok"}, format="json")

    assert refused.status_code == 403
    assert Promotion.objects.get(pk=promotion["id"]).status == PromotionStatus.PENDING
