"""Who reads reports: Executives and Compliance over REST and in the admin; engineers see none."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from core.audit import service_user
from reports import services
from reports.models import ReportRevision, Trigger
from tests.conftest import client_for
from tests.reports.conftest import OCTOBER

ROLES = ["anonymous", "outsider", "engineer", "compliance", "executive"]
READ = {"anonymous": 401, "outsider": 403, "engineer": 403, "compliance": 200, "executive": 200}


@pytest.fixture
def revision(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return services.report_generate(period=OCTOBER, actor=service_user(), trigger=Trigger.COMMAND).revision


@pytest.fixture
def personas(engineer, compliance, executive, outsider):
    return {
        "anonymous": None,
        "outsider": outsider,
        "engineer": engineer,
        "compliance": compliance,
        "executive": executive,
    }


@pytest.mark.parametrize("path", ["/api/v1/reports/", "/api/v1/reports/2026-10/", "/api/v1/reports/2026-10/pdf/"])
@pytest.mark.parametrize("role", ROLES)
def test_only_executives_and_compliance_read_reports(personas, revision, path, role):
    response = client_for(personas[role]).get(path)

    assert response.status_code == READ[role]
    if READ[role] >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_it_lists_revisions_and_downloads_the_pdf(api, executive, revision):
    client = api(executive)
    [listed] = client.get("/api/v1/reports/").json()["results"]
    assert (listed["period"], listed["revision"], listed["pdf_sha256"]) == ("2026-10", 1, revision.pdf_sha256)
    assert listed["download"].endswith("/api/v1/reports/2026-10/pdf/?revision=1")

    response = client.get("/api/v1/reports/2026-10/pdf/?revision=1")
    content = b"".join(response.streaming_content)
    assert response["Content-Type"] == "application/pdf"
    assert hashlib.sha256(content).hexdigest() == revision.pdf_sha256 == response["X-Content-SHA256"]


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/api/v1/reports/2026-13/", 400, "period"),
        ("/api/v1/reports/october/pdf/", 400, "period"),
        ("/api/v1/reports/2026-10/pdf/?revision=0", 400, "revision"),
        ("/api/v1/reports/2026-10/pdf/?colour=red", 400, "colour"),
        ("/api/v1/reports/2026-09/", 404, None),
        ("/api/v1/reports/2026-10/pdf/?revision=7", 404, None),
    ],
)
def test_it_answers_bad_periods_and_missing_reports_clearly(api, compliance, revision, path, status, field):
    response = api(compliance).get(path)

    assert response.status_code == status
    if field:
        assert field in response.json()["error"]["fields"]


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_compliance_lists_downloads_and_generates_in_the_admin(
    compliance, executive, revision, eager_celery, django_capture_on_commit_callbacks, mailoutbox
):
    executive.email = "ed@example.com"
    executive.save()
    client = _admin(compliance)
    listing = client.get(reverse("admin:reports_reportrevision_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "2026-10" in page and ">not sent<" in page and "Generate now" in page

    download = client.get(reverse("admin:reports_reportrevision_download", args=[revision.pk]))
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == revision.pdf_sha256

    generate = reverse("admin:reports_reportrevision_generate")
    assert client.get(generate).status_code == 200
    refused = client.post(generate, {"period": "2026-13", "reason": "x"})
    assert "YYYY-MM" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(generate, {"period": "2026-10", "reason": "Board asked again"}, follow=True)
    assert done.status_code == 200
    latest = ReportRevision.objects.order_by("-number").first()
    assert (latest.number, latest.trigger, latest.triggered_by) == (2, Trigger.ADMIN, compliance)
    assert not latest.deliveries.exists()  # "email it" left unticked
    row = latest.history.first()
    assert (row.history_source, row.history_on_behalf_of_id) == ("task", compliance.pk)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(generate, {"period": "2026-10", "send": "on", "reason": "Corrected"}, follow=True)
    third = ReportRevision.objects.get(number=3)
    assert list(third.deliveries.values_list("email", "status")) == [("ed@example.com", "sent")]
    assert [m.to for m in mailoutbox] == [["ed@example.com"]]
    assert ">1 of 1 sent<" in client.get(reverse("admin:reports_reportrevision_changelist")).content.decode()


def test_the_schedule_page_asks_why_and_logs_it(compliance):
    from django.contrib.admin.models import LogEntry
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="reports.tasks.report_monthly")
    client = _admin(compliance)
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
    assert client.get(url).status_code == 200

    form = {
        "name": task.name,
        "regtask": task.task,
        "task": "",
        "enabled": "",
        "crontab": task.crontab_id,
        "args": "[]",
        "kwargs": "{}",
        "expire_seconds": "",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "priority": "",
        "headers": "{}",
        "description": task.description,
    }
    refused = client.post(url, form)
    assert "change_reason" in refused.content.decode() and PeriodicTask.objects.get(pk=task.pk).enabled
    saved = client.post(url, {**form, "change_reason": "Board pause for December"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert not PeriodicTask.objects.get(pk=task.pk).enabled
    entry = LogEntry.objects.get(object_id=str(task.pk))
    assert entry.user == compliance
    message = entry.get_change_message()
    assert message.startswith("Changed ") and "enabled" in message
    assert message.endswith(". Reason: Board pause for December")


def test_an_engineer_with_admin_access_sees_no_reports(engineer, revision):
    engineer.is_staff = True
    engineer.save()
    client = _admin(engineer)

    assert client.get(reverse("admin:reports_reportrevision_changelist")).status_code == 403
    assert client.get(reverse("admin:reports_reportrevision_download", args=[revision.pk])).status_code == 403
    assert client.get(reverse("admin:reports_reportrevision_generate")).status_code == 403
