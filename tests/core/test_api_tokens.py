from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core import services
from core.models import ApiToken

URL = "/api/v1/models/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_it_stores_only_a_digest_of_the_token(engineer):
    issued = services.token_issue(user=engineer, name="ci", actor=None)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
        cursor.execute("SELECT * FROM core_historicalapitoken")
        history = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert issued.secret not in stored
    assert issued.secret not in history
    assert issued.token.digest == services.token_digest(issued.secret)


def test_it_authenticates_a_bearer_token(engineer):
    issued = services.token_issue(user=engineer, name="ci", actor=None)

    assert bearer(issued.secret).get(URL).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer fp_not-a-real-token", "Bearer", "Bearer a b", "Token abc", "Basic dXNlcjpwdw=="],
)
def test_it_answers_401_to_a_bad_credential(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(URL)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_refuses_a_revoked_token(engineer, compliance):
    issued = services.token_issue(user=engineer, name="ci", actor=compliance)
    services.token_revoke(token=issued.token, actor=compliance, reason="Laptop lost")

    assert bearer(issued.secret).get(URL).status_code == 401
    assert issued.token.history.first().history_change_reason == "Laptop lost"


def test_it_refuses_an_expired_token(engineer):
    issued = services.token_issue(
        user=engineer, name="ci", actor=None, expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert bearer(issued.secret).get(URL).status_code == 401


def test_it_refuses_the_token_of_a_deactivated_user(engineer):
    issued = services.token_issue(user=engineer, name="ci", actor=None)
    engineer.is_active = False
    engineer.save()

    assert bearer(issued.secret).get(URL).status_code == 401


def test_the_command_prints_a_working_token_once(engineer, capsys):
    call_command("issue_token", engineer.username, "--name", "laptop")
    secret = capsys.readouterr().out.strip()

    assert secret.startswith("fp_")
    assert bearer(secret).get(URL).status_code == 200
    assert ApiToken.objects.get().name == "laptop"


def test_the_command_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("issue_token", "ghost")
