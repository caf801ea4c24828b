"""An executive logs in, finds the monthly report and downloads it: the PDF is the one whose SHA-256 is shown."""

from __future__ import annotations

import hashlib
import re

import pytest

from core.audit import service_user
from reports import services
from reports.models import Trigger
from tests.reports.conftest import OCTOBER


@pytest.fixture
def executive(executive):
    """An executive given a login to the admin (staff, as Django's admin needs): it shows them the archive only."""
    executive.is_staff = True
    executive.save(update_fields=["is_staff"])
    return executive


@pytest.fixture
def revision(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return services.report_generate(period=OCTOBER, actor=service_user(), trigger=Trigger.COMMAND).revision


def test_it_lets_an_executive_download_a_report_and_check_its_hash(browser, executive, revision):
    browser.log_in(executive)
    assert "/admin/login/" not in browser.path, f"the executive was not let in:\n{browser.text[:1000]}"
    browser.open("/admin/reports/reportrevision/")
    headers = browser.column_headers()
    pdf_header = next(th for text, th in headers.items() if "pdf" in text or "download" in text)
    browser.assert_within_width(pdf_header, "The report list's PDF column")
    [row] = browser.rows()
    assert "2026-10" in row
    browser.screenshot("reports")

    [link] = browser.all("#result_list a[href$='/download/']")
    browser.assert_within_width(link, "The report's download link")
    link.click()
    pdf = browser.downloaded(f"fineprint-report-2026-10-r{revision.number}.pdf")

    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == revision.pdf_sha256
    shown = re.findall(r"\b[0-9a-f]{8,64}\b", row)
    assert any(revision.pdf_sha256.startswith(h) for h in shown), f"the row shows the SHA-256 to check against: {row}"


def test_it_shows_an_executive_the_reports_and_nothing_else(browser, executive, revision):
    browser.log_in(executive)
    for path in ("/admin/risks/risk/", "/admin/registry/promotion/", "/admin/core/apitoken/"):
        browser.open(path)
        assert not browser.all("#result_list"), f"{path} is listed to an executive"
    browser.open("/admin/")
    assert "Reports" in browser.text or "report" in browser.text.lower()
    browser.screenshot("executive-home")


def test_it_offers_an_executive_the_report_archive_alone(browser, executive, revision):
    browser.log_in(executive)
    browser.open("/admin/reports/reportrevision/")
    offered = sorted(
        {a.get_attribute("pathname") for a in browser.all("#nav-sidebar a, #content-main a") if a.is_displayed()}
    )
    elsewhere = [path for path in offered if path.startswith("/admin/") and not path.startswith("/admin/reports/")]
    assert not elsewhere, f"an executive is offered more than the report archive: {elsewhere}"
    for path in ("/admin/sbs/sbsrun/", "/admin/datasets/goldenset/", "/admin/lifecycle/providermodel/"):
        browser.open(path)
        assert not browser.all("#result_list"), f"{path} is listed to an executive"
