"""Who holds which role is audited like any registry record."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.test import Client

from core.audit import Source
from core.roles import Role
from tests.conftest import make_user


def _latest(user):
    return user.history.order_by("-history_date", "-history_id").first()


def test_it_records_a_role_granted_in_the_admin_with_who_and_why(db):
    admin_user = make_user("root-admin", is_superuser=True, is_staff=True)
    person = make_user("new-hire")
    client = Client()
    client.force_login(admin_user)
    compliance = Group.objects.get(name=Role.COMPLIANCE)

    response = client.post(
        f"/admin/auth/user/{person.pk}/change/",
        {
            "username": person.username,
            "is_active": "on",
            "is_staff": "on",
            "groups": [compliance.pk],
            "date_joined_0": "2026-11-26",
            "date_joined_1": "09:00:00",
            "change_reason": "Joined the compliance team (ticket HR-12)",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    row = _latest(person)
    assert row.history_user == admin_user
    assert row.history_source == Source.ADMIN
    assert row.history_change_reason == "Joined the compliance team (ticket HR-12)"
    assert [g.group_id for g in row.groups.all()] == [compliance.pk]


def test_it_requires_a_reason_to_change_a_user_in_the_admin(db):
    admin_user = make_user("root-admin", is_superuser=True, is_staff=True)
    person = make_user("new-hire")
    client = Client()
    client.force_login(admin_user)

    response = client.post(
        f"/admin/auth/user/{person.pk}/change/",
        {"username": person.username, "is_staff": "on", "date_joined_0": "2026-11-26", "date_joined_1": "09:00:00"},
    )

    assert response.status_code == 200
    person.refresh_from_db()
    assert not person.is_staff


def test_it_records_a_role_granted_from_the_group_side(db):
    person = make_user("new-hire")
    before = person.history.count()

    Group.objects.get(name=Role.ENGINEER).user_set.add(person)

    assert person.history.count() == before + 1
    assert [g.group.name for g in _latest(person).groups.all()] == [Role.ENGINEER]


def test_it_keeps_password_hashes_out_of_the_history(db):
    person = make_user("new-hire")
    person.set_password("a-new-long-password")
    person.save()

    assert "password" not in {f.name for f in type(_latest(person))._meta.fields}


def test_it_records_a_group_emptied_from_the_group_side(db):
    person = make_user("leaver", Role.ENGINEER)
    before = person.history.count()

    Group.objects.get(name=Role.ENGINEER).user_set.clear()

    assert person.history.count() == before + 1
    assert list(_latest(person).groups.all()) == []
