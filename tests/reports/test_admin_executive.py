"""An executive logs in to the admin and finds the report archive, read-only, and nothing else."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.audit import service_user
from core.roles import Role
from reports import services
from reports.models import ReportRevision, Trigger
from reports.periods import Period
from risks import services as risk_services
from tests.conftest import make_user
from tests.reports.conftest import OCTOBER
from tests.risks.conftest import risk_payload

SEPTEMBER = Period(2026, 9)
CHANGELIST = "admin:reports_reportrevision_changelist"


def _generate(period: Period) -> ReportRevision:
    return services.report_generate(period=period, actor=service_user(), trigger=Trigger.COMMAND).revision


@pytest.fixture
def archive(db, settings, tmp_path):
    """October twice (a correction), September once."""
    settings.MEDIA_ROOT = tmp_path
    return {"october": [_generate(OCTOBER), _generate(OCTOBER)], "september": _generate(SEPTEMBER)}


@pytest.fixture
def board(db) -> Client:
    client = Client()
    client.force_login(make_user("eva-executive", Role.EXECUTIVE, is_staff=True))
    return client


def test_it_lists_every_revision_to_an_executive_without_generate_or_resend(board, archive):
    response = board.get(reverse(CHANGELIST))

    page = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'class="field-period"><a [^>]*>(\d{4}-\d\d)</a>', page) == ["2026-10", "2026-10", "2026-09"]
    assert reverse("admin:reports_reportrevision_generate") not in page
    assert reverse("admin:django_celery_beat_periodictask_changelist") not in page
    assert 'value="resend"' not in page
    for revision in (*archive["october"], archive["september"]):
        assert reverse("admin:reports_reportrevision_download", args=[revision.pk]) in page


def test_it_lets_an_executive_download_the_pdf_they_can_check(board, archive):
    revision = archive["october"][1]

    response = board.get(reverse("admin:reports_reportrevision_download", args=[revision.pk]))

    content = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert content.startswith(b"%PDF")
    assert hashlib.sha256(content).hexdigest() == revision.pdf_sha256
    assert 'filename="fineprint-report-2026-10-r2.pdf"' in response["Content-Disposition"]


def test_it_shows_the_months_revisions_with_their_whole_sha256(board, archive):
    first, second = archive["october"]

    response = board.get(reverse("admin:reports_reportrevision_change", args=[second.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert f"<code>{first.pdf_sha256}</code>" in page and f"<code>{second.pdf_sha256}</code>" in page
    assert archive["september"].pdf_sha256 not in page  # another month
    assert 'name="_save"' not in page  # read-only


@pytest.mark.parametrize(
    "url",
    [
        "admin:risks_risk_changelist",
        "admin:risks_risk_heatmap",
        "admin:registry_modelversion_changelist",
        "admin:registry_registeredmodel_changelist",
        "admin:datasets_dataset_changelist",
        "admin:reports_delivery_changelist",
        "admin:reports_reportrevision_generate",
        "admin:core_apitoken_changelist",
    ],
)
def test_it_refuses_an_executive_everything_else(board, url):
    assert board.get(reverse(url)).status_code == 403


def test_it_refuses_an_executive_a_risk_and_a_model_version_page(board, compliance, registered_version):
    risk = risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload())

    assert board.get(reverse("admin:risks_risk_change", args=[risk.pk])).status_code == 403
    assert board.get(reverse("admin:registry_modelversion_change", args=[registered_version.pk])).status_code == 403


def test_it_refuses_an_executive_resending(board, archive, mailoutbox):
    revision = archive["september"]

    response = board.post(
        reverse(CHANGELIST), {"action": "resend", "_selected_action": [revision.pk], "apply": "1", "reason": "Again"}
    )

    # The list offers them no action at all: the post shows the list again, nothing queued.
    assert response.status_code == 200 and 'name="action"' not in response.content.decode()
    assert not revision.deliveries.exists() and mailoutbox == []


def test_it_lists_the_archive_in_a_fixed_number_of_queries(board, db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    _generate(OCTOBER)
    board.get(reverse(CHANGELIST))  # warm the session and content types
    with CaptureQueriesContext(connection) as one:
        board.get(reverse(CHANGELIST))
    _generate(OCTOBER)
    _generate(SEPTEMBER)
    with CaptureQueriesContext(connection) as three:
        board.get(reverse(CHANGELIST))

    assert len(three.captured_queries) == len(one.captured_queries)
