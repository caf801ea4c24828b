"""Every list shows its key columns at 1280 px without scrolling sideways (detail belongs on the record's page)."""

from __future__ import annotations

import pytest

from core.audit import service_user
from registry import releases
from reports import services as report_services
from reports.models import Trigger
from risks import services as risk_services
from tests.registry.test_releases import evaluated
from tests.reports.conftest import OCTOBER
from tests.risks.conftest import risk_payload

KEY_COLUMNS = {
    "/admin/risks/risk/": ["reference", "title", "residual", "next review", "review overdue", "breached"],
    "/admin/reports/reportrevision/": ["period", "delivered", "pdf"],
    "/admin/registry/promotion/": ["status"],
    "/admin/registry/modelversion/": ["status"],
}


@pytest.fixture
def one_of_each(settings, tmp_path, compliance, engineer, registered_model):
    """A row in every list: a risk, a report, a version with a pending promotion."""
    settings.MEDIA_ROOT = tmp_path
    risk_services.risk_create(actor=compliance, owner=compliance, **risk_payload())
    report_services.report_generate(period=OCTOBER, actor=service_user(), trigger=Trigger.COMMAND)
    version = evaluated(registered_model, engineer, "v-candidate")
    releases.promotion_request(version=version, actor=engineer, target="production", justification="Beats baseline")


def test_it_shows_every_lists_key_columns_at_1280_px(browser, compliance, one_of_each):
    browser.log_in(compliance)
    cut_off = []
    for path, columns in KEY_COLUMNS.items():
        browser.open(path)
        headers = browser.column_headers()
        for column in columns:
            found = [th for text, th in headers.items() if text.startswith(column)]
            if not found:
                cut_off.append(f"{path}: no '{column}' column (columns: {sorted(headers)})")
                continue
            try:
                browser.assert_within_width(found[0], f"{path} '{column}'")
            except AssertionError as exc:
                cut_off.append(str(exc).splitlines()[0])
        browser.screenshot(path.strip("/").replace("/", "-"))

    assert not cut_off, "\n".join(cut_off)
