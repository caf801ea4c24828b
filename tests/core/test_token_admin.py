"""The API token pages of the admin: you issue tokens to yourself; compliance lists and revokes anyone's."""

from __future__ import annotations

import pytest
from django.test import Client

from core import services
from core.models import ApiToken


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_engineer(engineer):
    engineer.is_staff = True
    engineer.save()
    return engineer


def test_the_add_page_asks_for_no_user(compliance):
    html = logged_in(compliance).get("/admin/core/apitoken/add/").content.decode()

    assert 'name="name"' in html
    assert 'name="user"' not in html


def test_a_token_added_in_the_admin_is_always_ones_own(compliance, engineer):
    # The attack: a compliance officer mints a token "for" an engineer and acts as them.
    response = logged_in(compliance).post(
        "/admin/core/apitoken/add/",
        {"user": engineer.pk, "name": "CI", "change_reason": "New pipeline"},
        follow=True,
    )

    token = ApiToken.objects.get()
    html = response.content.decode()
    assert token.user == compliance
    assert token.created_by == compliance
    assert token.issued_via == "admin"
    assert token.prefix in html and "shown only once" in html
    assert not engineer.api_tokens.exists()
    assert token.history.get().history_change_reason == "New pipeline"


def test_people_see_only_their_own_tokens_and_compliance_sees_all(staff_engineer, other_engineer, compliance):
    mine = services.token_issue(user=staff_engineer, name="mine", issued_by=staff_engineer, via="tests").token
    theirs = services.token_issue(user=other_engineer, name="theirs", issued_by=other_engineer, via="tests").token

    engineer_page = logged_in(staff_engineer).get("/admin/core/apitoken/").content.decode()
    compliance_page = logged_in(compliance).get("/admin/core/apitoken/").content.decode()

    assert mine.prefix in engineer_page and theirs.prefix not in engineer_page
    assert mine.prefix in compliance_page and theirs.prefix in compliance_page
    assert logged_in(staff_engineer).get(f"/admin/core/apitoken/{theirs.pk}/change/").status_code == 302  # not found


def test_compliance_revokes_anyones_token_with_a_reason(compliance, engineer):
    token = services.token_issue(user=engineer, name="ci", issued_by=engineer, via="tests").token

    logged_in(compliance).post(
        "/admin/core/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk], "apply": "1", "reason": "Left the team"},
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.history.first().history_change_reason == "Left the team"
    assert token.history.first().history_user == compliance


def test_the_list_filters_tokens_by_state(compliance, engineer):
    active = services.token_issue(user=engineer, name="active", issued_by=engineer, via="tests").token
    revoked = services.token_issue(user=engineer, name="revoked", issued_by=engineer, via="tests").token
    services.token_revoke(token=revoked, actor=engineer, reason="Rotated")

    active_page = logged_in(compliance).get("/admin/core/apitoken/?state=active").content.decode()
    revoked_page = logged_in(compliance).get("/admin/core/apitoken/?state=revoked").content.decode()

    assert active.prefix in active_page and revoked.prefix not in active_page
    assert revoked.prefix in revoked_page and active.prefix not in revoked_page
