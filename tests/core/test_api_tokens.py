"""API tokens: issued only to their user, expiring, revocable, their last use recorded cheaply."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core import errors, services
from core.demo import demo_clock
from core.models import ApiToken
from core.roles import SERVICE_ACCOUNTS, Role
from core.tasks import token_expiry_notices_send_task
from tests.conftest import make_user

URL = "/api/v1/models/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def own_token(user, **extra) -> services.IssuedToken:
    return services.token_issue(user=user, name="ci", issued_by=user, via="tests", **extra)


def test_it_stores_only_a_digest_of_the_token(engineer):
    issued = own_token(engineer)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
        cursor.execute("SELECT * FROM core_historicalapitoken")
        history = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert issued.secret not in stored
    assert issued.secret not in history
    assert issued.token.digest == services.token_digest(issued.secret)


def test_it_authenticates_a_bearer_token(engineer):
    issued = own_token(engineer)

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


def test_it_never_issues_a_token_for_someone_else(engineer, compliance):
    with pytest.raises(errors.PermissionDenied, match="only to the person who will use it"):
        services.token_issue(user=engineer, name="ci", issued_by=compliance, via="admin")

    assert not ApiToken.objects.exists()


def test_it_expires_a_token_after_the_default_lifetime(engineer, settings):
    settings.API_TOKEN_TTL_DAYS = 90
    before = timezone.now()
    issued = own_token(engineer)

    assert before + timedelta(days=90) <= issued.token.expires_at <= timezone.now() + timedelta(days=90)
    with demo_clock(before + timedelta(days=90, minutes=1)):
        response = bearer(issued.secret).get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Token has expired."


@pytest.mark.parametrize(("days", "reason"), [(-1, "Must be in the future."), (91, "At most 90 days from now.")])
def test_it_refuses_an_expiry_in_the_past_or_beyond_the_lifetime(engineer, settings, days, reason):
    settings.API_TOKEN_TTL_DAYS = 90

    with pytest.raises(errors.ValidationFailed) as refused:
        own_token(engineer, expires_at=timezone.now() + timedelta(days=days))

    assert refused.value.fields == {"expires_at": [reason]}


def test_its_owner_and_compliance_may_revoke_it_and_nobody_else(engineer, other_engineer, compliance):
    first, second = own_token(engineer), own_token(engineer)

    with pytest.raises(errors.PermissionDenied):
        services.token_revoke(token=first.token, actor=other_engineer, reason="Not mine")
    services.token_revoke(token=first.token, actor=engineer, reason="Rotated")
    services.token_revoke(token=second.token, actor=compliance, reason="Laptop lost")

    assert bearer(first.secret).get(URL).status_code == 401
    assert bearer(second.secret).get(URL).status_code == 401
    assert second.token.history.first().history_change_reason == "Laptop lost"
    assert second.token.history.first().history_user == compliance


def test_it_refuses_the_token_of_a_deactivated_user(engineer):
    issued = own_token(engineer)
    engineer.is_active = False
    engineer.save()

    assert bearer(issued.secret).get(URL).status_code == 401


def test_it_records_the_last_use_at_most_once_an_hour_and_out_of_the_history(engineer):
    issued = own_token(engineer)
    client = bearer(issued.secret)
    start = timezone.now()

    def token_writes() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL).status_code == 200
        return sum(1 for q in queries.captured_queries if q["sql"].startswith('UPDATE "core_apitoken"'))

    with demo_clock(start) as clock:
        first, second = token_writes(), token_writes()
        clock.advance(minutes=59)
        within_the_hour = token_writes()
        clock.advance(minutes=2)
        after_the_hour = token_writes()

    assert (first, second, within_the_hour, after_the_hour) == (1, 0, 0, 1)
    issued.token.refresh_from_db()
    assert issued.token.last_used_at >= start + timedelta(minutes=61)
    assert issued.token.history.count() == 1  # issued; using it is not a change


def test_the_command_prints_a_working_token_and_records_who_ran_it(engineer, compliance, capsys):
    call_command("issue_token", engineer.username, "--name", "laptop", "--operator", compliance.username)
    secret = capsys.readouterr().out.strip()

    assert secret.startswith("fp_")
    assert bearer(secret).get(URL).status_code == 200
    token = ApiToken.objects.get()
    assert (token.name, token.user, token.created_by) == ("laptop", engineer, compliance)
    assert token.issued_via.startswith("manage.py issue_token, run by ")
    assert token.history.get().history_source == "command"


def test_only_the_command_issues_a_service_account_its_token(db, capsys):
    pipeline = make_user("ci-pipeline", Role.ENGINEER)
    pipeline.groups.add(Group.objects.get(name=SERVICE_ACCOUNTS))

    with pytest.raises(errors.PermissionDenied, match="service accounts"):
        services.token_issue(user=pipeline, name="ci", issued_by=pipeline, via="API")
    call_command("issue_token", pipeline.username, "--name", "CI")

    assert bearer(capsys.readouterr().out.strip()).get(URL).status_code == 200


def test_the_command_names_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("issue_token", "ghost")


def test_it_emails_each_owner_once_before_a_token_expires(db, settings):
    settings.API_TOKEN_EXPIRY_NOTICE_DAYS = 14
    owner = make_user("ola-owner", Role.ENGINEER, email="ola@example.com")
    now = timezone.now()
    soon = own_token(owner, expires_at=now + timedelta(days=10))
    own_token(owner, expires_at=now + timedelta(days=30))  # not yet
    revoked = own_token(owner, expires_at=now + timedelta(days=5))
    services.token_revoke(token=revoked.token, actor=owner, reason="Rotated")

    first_run, second_run = token_expiry_notices_send_task(), token_expiry_notices_send_task()

    assert (first_run, second_run) == (1, 0)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ola@example.com"]
    assert soon.token.prefix in mail.outbox[0].body
    soon.token.refresh_from_db()
    assert soon.token.expiry_notified_at is not None
    notice = soon.token.history.first()
    assert notice.history_source == "task"
    assert notice.history_change_reason.startswith("Owner emailed")
