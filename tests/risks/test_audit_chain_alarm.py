"""A failed verification of the audit trail: one Critical incident by the service account, Compliance
emailed, a red banner on every admin page until the incident is closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core import chain
from core.audit import Source
from core.errors import ValidationFailed
from core.models import AuditVerification
from core.roles import Role
from risks import incidents
from risks.models import Incident, IncidentStatus, Risk, Severity
from risks.tasks import audit_chain_verify
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

BANNER = "Audit trail verification failed at"


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_CHECKPOINT_S3_BUCKET = ""


@pytest.fixture
def compliance_people(compliance):
    """Who gets the mail: active Compliance staff with an address, nobody else."""
    compliance.email = "carla@example.com"
    compliance.save()
    make_user("cody-compliance", Role.COMPLIANCE, email="cody@example.com")
    make_user("nora-no-mail", Role.COMPLIANCE)
    make_user("ivy-inactive", Role.COMPLIANCE, email="ivy@example.com", is_active=False)
    make_user("erin-mail-engineer", Role.ENGINEER, email="erin@example.com")
    return ["carla@example.com", "cody@example.com"]


def tamper(history_row, **columns) -> None:
    """Change a history row behind the application's back, as a superuser with the triggers off would."""
    table = history_row._meta.db_table
    assignments = ", ".join(f'"{name}" = %s' for name in columns)
    with chain.history_rewrite(), connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" SET {assignments} WHERE history_id = %s',  # noqa: S608 (test-chosen names)
            [*columns.values(), history_row.pk],
        )


@pytest.fixture
def broken(risk):
    """The risk's first history row edited in the database: the chain no longer verifies there."""
    row = Risk.history.filter(id=risk.pk).earliest("history_date")
    tamper(row, title="Forged title")
    return row


def admin_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def audit_trail_incidents():
    return Incident.objects.filter(version__isnull=True)


def test_it_opens_one_critical_incident_by_the_service_account_when_verification_fails(compliance_people, broken):
    result = audit_chain_verify(scope="full")

    assert result["ok"] is False
    [incident] = audit_trail_incidents()
    assert incident.severity == Severity.CRITICAL
    assert incident.status == IncidentStatus.OPEN
    assert incident.serious is False
    assert incident.reporter.username == settings.FINEPRINT_SERVICE_USERNAME
    assert incident.title == "Audit trail verification failed"
    assert incident.subject == "Fineprint audit trail"
    # The first broken link in words: where, and both hashes.
    verification = AuditVerification.objects.get()
    assert verification.ok is False
    assert verification.break_table == broken._meta.db_table
    assert f"Table: {broken._meta.db_table}" in incident.description
    assert f"Row: {broken.pk}" in incident.description
    assert f"Object: {verification.break_object_id}" in incident.description
    assert f"Expected hash: {verification.expected_hash}" in incident.description
    assert f"Found hash: {verification.found_hash}" in incident.description
    assert verification.expected_hash and verification.found_hash
    # Its history says who and why, like every write.
    record = incident.history.get()
    assert record.history_user.username == settings.FINEPRINT_SERVICE_USERNAME
    assert record.history_source == Source.TASK
    assert record.history_change_reason.startswith(
        f"Incident {incident.reference} opened by the audit trail's verifier: "
    )
    # The run names the incident that answers it.
    assert verification.incident_reference == incident.reference
    assert result["incident"] == incident.reference


def test_it_emails_active_compliance_staff_once(compliance_people, broken):
    audit_chain_verify(scope="full")

    [message] = mail.outbox
    incident = audit_trail_incidents().get()
    assert sorted(message.to) == compliance_people
    assert incident.reference in message.subject
    verification = AuditVerification.objects.get()
    assert verification.expected_hash in message.body and verification.found_hash in message.body
    assert broken._meta.db_table in message.body


def test_a_second_failure_while_the_incident_is_open_opens_no_other(compliance_people, broken):
    audit_chain_verify(scope="full")
    audit_chain_verify(scope="since")

    [incident] = audit_trail_incidents()
    runs = list(AuditVerification.objects.order_by("started_at", "id"))
    assert [run.ok for run in runs] == [False, False]
    assert [run.incident_reference for run in runs] == [incident.reference] * 2
    assert len(mail.outbox) == 1


def test_a_failure_after_the_incident_is_closed_opens_a_new_one(compliance, compliance_people, broken):
    audit_chain_verify(scope="full")
    first = audit_trail_incidents().get()
    incidents.incident_close(incident=first, actor=compliance, reason="Restored from backup and checkpoint")

    audit_chain_verify(scope="full")

    second = audit_trail_incidents().exclude(pk=first.pk).get()
    assert second.status == IncidentStatus.OPEN
    assert len(mail.outbox) == 2


def test_a_passing_run_opens_nothing_and_mails_nobody(compliance_people, risk):
    result = audit_chain_verify(scope="full")

    assert result == {"ok": True, "rows_checked": result["rows_checked"], "problem": "", "incident": ""}
    assert result["rows_checked"] > 0
    assert not audit_trail_incidents().exists()
    assert mail.outbox == []


def test_the_banner_is_on_every_admin_page_until_the_incident_is_closed(compliance, compliance_people, broken):
    audit_chain_verify(scope="full")
    incident = audit_trail_incidents().get()
    verification = AuditVerification.objects.get()
    client = admin_for(compliance)
    link = reverse("admin:risks_incident_change", args=[incident.pk])

    for url in (reverse("admin:index"), reverse("admin:risks_risk_changelist")):
        page = client.get(url).content.decode()
        assert 'class="fp-alert"' in page, url
        assert BANNER in page
        assert f"Incident {incident.reference} is open." in page
        assert f'href="{link}"' in page
    index = client.get(reverse("admin:index")).content.decode()
    at = timezone.localtime(verification.started_at)
    assert f"{BANNER} {at:%Y-%m-%d %H:%M}: " in index
    assert broken._meta.db_table in index  # the problem, in words

    incidents.incident_close(incident=incident, actor=compliance, reason="Rows restored, verified again")

    for url in (reverse("admin:index"), reverse("admin:risks_risk_changelist")):
        page = client.get(url).content.decode()
        assert 'class="fp-alert"' not in page and BANNER not in page, url


def test_the_banner_is_not_shown_to_someone_who_cannot_see_incidents(compliance_people, broken):
    audit_chain_verify(scope="full")
    executive = make_user("ed-staff-executive", Role.EXECUTIVE, is_staff=True)

    page = admin_for(executive).get(reverse("admin:index")).content.decode()

    assert BANNER not in page


def test_the_dashboard_shows_the_latest_verification(compliance, compliance_people, risk):
    client = admin_for(compliance)
    assert "Not verified yet" in client.get(reverse("admin:index")).content.decode()

    audit_chain_verify(scope="full")
    verification = AuditVerification.objects.get()

    [note] = client.get(reverse("admin:index")).context["notes"]
    assert (note.label, note.badge, note.tone) == ("Audit trail", "Passed", "good")
    assert note.text.startswith(f"Last verified {timezone.localtime(verification.started_at):%Y-%m-%d %H:%M} (today)")
    assert f"whole chain: {verification.rows_checked} rows checked up to link {verification.last_seq}." in note.text
    assert note.url == reverse("admin:core_auditverification_changelist")


def test_the_dashboard_shows_a_failed_verification_with_its_broken_link(compliance, compliance_people, broken):
    audit_chain_verify(scope="full")
    verification = AuditVerification.objects.get()

    page = admin_for(compliance).get(reverse("admin:index"))

    [note] = page.context["notes"]
    assert (note.badge, note.tone) == ("Failed", "bad")
    assert note.text.endswith(f"{verification.summary}.")
    assert verification.expected_hash not in note.text  # the hashes are on the run's page, not the home page
    assert note.text in page.content.decode().replace("&#x27;", "'")


def test_the_incident_shows_what_it_is_about_in_the_admin_and_the_api(api, compliance, compliance_people, broken):
    audit_chain_verify(scope="full")
    incident = audit_trail_incidents().get()
    client = admin_for(compliance)

    listing = client.get(reverse("admin:risks_incident_changelist")).content.decode()
    change = client.get(reverse("admin:risks_incident_change", args=[incident.pk]))
    body = api(compliance).get(f"/api/v1/incidents/{incident.reference}/").json()

    assert "Fineprint audit trail" in listing
    assert change.status_code == 200 and "Fineprint audit trail" in change.content.decode()
    assert body["version"] is None and body["subject"] == "Fineprint audit trail"


def test_an_incident_about_the_audit_trail_cannot_be_made_serious(compliance, compliance_people, broken):
    audit_chain_verify(scope="full")
    incident = audit_trail_incidents().get()

    with pytest.raises(ValidationFailed) as refused:
        incidents.incident_update(
            incident=incident, actor=compliance, data={"serious": True, "serious_kind": "other"}, reason="Escalate"
        )

    assert "serious" in refused.value.fields


def test_a_person_must_still_name_a_version(engineer):
    aware = timezone.now() - timedelta(hours=1)
    with pytest.raises(ValidationFailed) as refused:
        incidents.incident_report(
            actor=engineer,
            title="Something",
            version=None,
            occurred_at=aware - timedelta(hours=1),
            aware_at=aware,
            description="Happened.",
            severity=Severity.LOW,
        )
    assert "version" in refused.value.fields


def test_the_admin_form_still_asks_a_person_for_the_version(compliance):
    page = admin_for(compliance).post(
        reverse("admin:risks_incident_add"),
        {
            "change_reason": "Reported by phone",
            "title": "Something",
            "occurred_at_0": "2026-10-01",
            "occurred_at_1": "10:00:00",
            "aware_at_0": "2026-10-01",
            "aware_at_1": "11:00:00",
            "description": "Happened.",
            "severity": "low",
            "status": "open",
            "examples-TOTAL_FORMS": "0",
            "examples-INITIAL_FORMS": "0",
        },
    )

    assert page.status_code == 200
    assert not Incident.objects.exists()
    assert "version" in page.context["adminform"].form.errors
