"""An address that keeps sending bad tokens is locked out: 429 with Retry-After, and a record of it.

A valid token still works from a locked-out address: it cannot be guessed, and one broken pipeline
must not lock out everyone behind the same address."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.demo import demo_clock
from core.models import SecurityEvent
from core.services import token_issue

URL = "/api/v1/models/"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.API_AUTH_FAILURE_LIMIT = 5
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 300
    settings.API_AUTH_LOCKOUT_SECONDS = 900


def client(secret: str, address: str = "203.0.113.7", **headers) -> APIClient:
    api = APIClient(REMOTE_ADDR=address, **headers)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@pytest.fixture
def good_secret(engineer) -> str:
    return token_issue(user=engineer, name="ci", issued_by=engineer, via="tests").secret


def test_it_locks_out_an_address_that_keeps_sending_bad_tokens(db):
    answers = [client(f"fp_guess-{n}").get(URL).status_code for n in range(4)]

    fifth, sixth = client("fp_guess-5").get(URL), client("fp_guess-6").get(URL)

    assert answers == [401] * 4
    assert fifth.status_code == sixth.status_code == 429
    assert sixth.json()["error"]["code"] == "throttled"
    assert 890 <= int(sixth.headers["Retry-After"]) <= 900
    event = SecurityEvent.objects.get()
    assert (event.kind, event.ip_address) == (SecurityEvent.Kind.API_AUTH_LOCKOUT, "203.0.113.7")
    assert "5 failed API authentications" in event.detail
    assert event.history.get().history_type == "+"


def test_a_valid_token_still_works_from_a_locked_out_address(good_secret):
    for n in range(6):
        client(f"fp_guess-{n}").get(URL)

    assert client(good_secret).get(URL).status_code == 200
    assert client("fp_guess-7").get(URL).status_code == 429


def test_it_records_one_lockout_and_keeps_other_addresses_out_of_it(db):
    for n in range(8):
        client(f"fp_guess-{n}").get(URL)

    assert client("fp_guess-9", address="198.51.100.1").get(URL).status_code == 401
    assert SecurityEvent.objects.count() == 1


def test_bad_tokens_are_answered_401_again_once_the_lockout_is_over(db):
    start = timezone.now()
    with demo_clock(start) as clock:
        for n in range(5):
            client(f"fp_guess-{n}").get(URL)
        clock.advance(seconds=899)
        still_locked = client("fp_guess-6").get(URL).status_code
        clock.advance(seconds=2)
        after = client("fp_guess-7").get(URL).status_code

    assert (still_locked, after) == (429, 401)


def test_behind_a_trusted_proxy_it_counts_the_forwarded_client_not_the_proxy(settings, db):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for n in range(5):
        client(f"fp_guess-{n}", address=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9").get(URL)

    other_client = client("fp_typo", address=proxy, HTTP_X_FORWARDED_FOR="203.0.113.10")
    attacker = client("fp_guess-9", address=proxy, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")

    assert other_client.get(URL).status_code == 401
    assert attacker.get(URL).status_code == 429  # a forged left-most address changes nothing
    assert SecurityEvent.objects.get().ip_address == "203.0.113.9"


def test_it_does_not_count_a_request_without_credentials(db):
    for _ in range(10):
        assert APIClient(REMOTE_ADDR="203.0.113.7").get(URL).status_code == 401

    assert not SecurityEvent.objects.exists()


def test_fewer_failures_than_the_limit_lock_nobody_out(good_secret):
    for n in range(4):
        client(f"fp_guess-{n}").get(URL)

    assert client(good_secret).get(URL).status_code == 200
    assert not SecurityEvent.objects.exists()
