"""The PDF read back: the sections, the numbers and names, escaped markup shown as text."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from reports.builder import data_sha256, report_data
from reports.render import render_pdf
from tests.reports.conftest import OCTOBER

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdf_text(world, in_october):
    data = report_data(OCTOBER, now=in_october)
    sha = data_sha256(data)
    reader = PdfReader(io.BytesIO(render_pdf(data, sha256=sha)))
    pages = [page.extract_text() for page in reader.pages]
    return sha, pages, re.sub(r"\s+", " ", " ".join(pages))


def test_it_has_a_cover_summary_and_every_section_in_order(pdf_text):
    sha, pages, text = pdf_text
    assert "AI models and risks" in pages[0]
    assert "October 2026" in pages[0]
    assert sha in pages[0].replace("\n", "")
    assert "The month in figures" in pages[1]
    titles = [
        "1. Inventory changes",
        "2. Risk heat maps, inherent and residual",
        "3. Top risks",
        "4. Treatment actions overdue",
        "5. Evaluation trends of production models",
        "6. Incidents",
        "7. Runway of live deployments",
        "8. Audit trail",
    ]
    positions = [text.index(title) for title in titles]
    assert positions == sorted(positions)
    assert f"page 2 of {len(pages)}" in pages[1]


def test_it_prints_the_figures_and_names_of_the_month(pdf_text, world):
    _, _, text = pdf_text
    assert "Risks over appetite, not accepted 1" in text
    assert "Acceptances expiring within 30 days 1" in text
    assert world["incident"].reference in text
    assert "Refund to [email]?" in text
    assert "support-bot:v2" in text
    assert "erin-engineer" in text
    assert "p95 latency 900 -> 1200 ms" in text
    assert "2 of the 2 win rates plotted were typed in, not supported by verdicts" in text
    assert "p95 within SLA" in text


def test_it_carries_no_developer_notes_and_proper_plurals(pdf_text):
    _, _, text = pdf_text
    assert "not in place yet" not in text
    assert "(s)" not in text
    assert "1 serious incident still open" in text


def test_it_shows_markup_from_records_as_text(pdf_text):
    _, _, text = pdf_text
    assert "Leaks <script>card</script> numbers" in text
    assert "Added <b>bold</b> & <i>chats</i>" in text


def test_it_renders_an_empty_month_without_failing(db):
    data = report_data(OCTOBER)
    reader = PdfReader(io.BytesIO(render_pdf(data, sha256=data_sha256(data))))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "No open risk." in text
    assert "No model was in production at the end of the month." in text
