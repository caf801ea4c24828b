"""Admin login lockout: wrong passwords for one username from one address lock it out for a while, and say so."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from core.demo import DemoClock
from core.models import SecurityEvent

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "pw-for-tests"  # tests.conftest.make_user's


@pytest.fixture(autouse=True)
def thresholds(settings):
    # Pinned here so the counts below do not follow whatever the environment sets.
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.fixture
def clock():
    """One clock for Django and for axes, which imported `now` before any test could patch it."""
    clock = DemoClock(timezone.now())
    with mock.patch("django.utils.timezone.now", clock.now), mock.patch("axes.handlers.proxy.now", clock.now):
        yield clock


def sign_in(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, username: str, times: int, **extra):
    responses = [sign_in(client, username, "not-the-password", **extra) for _ in range(times)]
    return responses[-1]


def test_it_refuses_the_right_password_after_five_wrong_ones(db, compliance, clock):
    client = Client()
    first_four = [sign_in(client, compliance.username, "wrong").status_code for _ in range(4)]
    fifth = sign_in(client, compliance.username, "wrong")
    right = sign_in(client, compliance.username, PASSWORD)

    assert first_four == [200, 200, 200, 200]  # the login form again, with its error
    assert fifth.status_code == 429
    assert right.status_code == 429
    assert not signed_in(client)


def test_it_shows_when_to_try_again_and_whom_to_ask(db, compliance, clock):
    locked = fail(Client(), compliance.username, 5)

    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    page = " ".join(locked.content.decode().split())
    retry_at = timezone.localtime(clock.current + timedelta(minutes=15))
    assert f"You can try again at <strong>{retry_at:%H:%M}" in page
    assert "ask a compliance officer or an administrator" in page
    assert 'id="site-name"' in page  # the admin's header: it looks like the admin


def test_it_records_one_security_event_per_lockout(db, compliance, clock):
    fail(Client(), compliance.username, 5 + 3)  # three more while locked out

    event = SecurityEvent.objects.get()
    assert event.kind == SecurityEvent.Kind.ADMIN_LOCKOUT
    assert event.username == compliance.username
    assert event.ip_address == "127.0.0.1"
    assert "5 failed admin sign-ins" in event.detail
    assert [row.history_type for row in event.history.all()] == ["+"]


def test_it_records_a_lockout_that_goes_on_after_the_cool_off_again(db, compliance, clock):
    client = Client()
    fail(client, compliance.username, 5)
    clock.advance(minutes=14)
    fail(client, compliance.username, 1)  # still locked: the wait starts again
    clock.advance(minutes=14)
    fail(client, compliance.username, 1)

    assert SecurityEvent.objects.count() == 2


def test_it_lets_the_right_password_in_once_the_cool_off_has_passed(db, compliance, clock):
    client = Client()
    fail(client, compliance.username, 5)

    clock.advance(minutes=15, seconds=1)
    response = sign_in(client, compliance.username, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_it_restarts_the_wait_on_an_attempt_made_while_locked_out(db, compliance, clock):
    client = Client()
    fail(client, compliance.username, 5)

    clock.advance(minutes=14)
    early = sign_in(client, compliance.username, PASSWORD)
    clock.advance(minutes=14)
    still_early = sign_in(client, compliance.username, PASSWORD)
    clock.advance(minutes=15, seconds=1)
    late = sign_in(client, compliance.username, PASSWORD)

    assert [early.status_code, still_early.status_code, late.status_code] == [429, 429, 302]


def test_it_does_not_lock_another_user_out_from_the_same_address(db, compliance, admin_user, clock):
    fail(Client(), compliance.username, 5)

    response = sign_in(Client(), admin_user.username, "password")  # pytest-django's admin_user

    assert response.status_code == 302


def test_it_does_not_lock_the_user_out_from_another_address(db, compliance, clock):
    fail(Client(), compliance.username, 5)

    client = Client(REMOTE_ADDR="192.0.2.44")
    response = sign_in(client, compliance.username, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_it_forgets_wrong_passwords_after_a_successful_sign_in(db, compliance, clock):
    client = Client()
    fail(client, compliance.username, 4)
    assert sign_in(client, compliance.username, PASSWORD).status_code == 302
    client.logout()

    again = fail(Client(), compliance.username, 4)

    assert again.status_code == 200


def test_it_takes_the_address_from_the_trusted_proxy_not_from_the_client(db, compliance, settings, clock):
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(REMOTE_ADDR="10.0.0.1")  # the proxy
    # The attacker writes a different address into the header each time; the proxy appends the real one.
    for n in range(5):
        sign_in(client, compliance.username, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7")

    refused = sign_in(client, compliance.username, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.7")
    colleague = sign_in(
        Client(REMOTE_ADDR="10.0.0.1"), compliance.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8"
    )

    assert refused.status_code == 429
    assert colleague.status_code == 302
    assert SecurityEvent.objects.get().ip_address == "203.0.113.7"


def test_it_unlocks_with_axes_reset_username(db, compliance, clock):
    client = Client()
    fail(client, compliance.username, 5)

    call_command("axes_reset_username", compliance.username, stdout=mock.Mock())

    assert sign_in(client, compliance.username, PASSWORD).status_code == 302
