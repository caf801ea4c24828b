"""The report's and the model card's PDFs rendered to images (poppler's pdftoppm), checked as a reader sees
them: how many pages, no page left nearly empty before the last, and the first page's text in reading order."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from registry.cards import card_data, card_pdf
from reports.builder import data_sha256, report_data
from reports.render import render_pdf
from tests.reports.conftest import OCTOBER

pytestmark = [pytest.mark.django_db, pytest.mark.pdf_pages]

# A pixel this light or lighter is paper.
NEAR_WHITE = 245
MOST_BLANK = 0.80
# The body of an A4 page between its margins, as a share of the page: a page whose body is empty but for
# its footer still counts as blank, however wide its margins.
BODY = (0.09, 0.06, 0.91, 0.9)
# A full page of text is mostly paper between its letters: what a reader sees as blank is the height left
# empty, so the measure is the share of the body's pixel rows with no ink at all.


def page_images(pdf: bytes) -> list[Image.Image]:
    """Every page in grey at 40 dpi, as pdftoppm draws it."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-gray", "-r", "40", str(source), str(Path(folder) / "page")], check=True)
        files = sorted(Path(folder).glob("page-*.pgm"), key=lambda p: int(p.stem.split("-")[-1]))
        return [Image.open(f).copy() for f in files]


def blank_share(image: Image.Image) -> float:
    """The share of the page body's pixel rows that are all paper."""
    width, height = image.size
    left, top, right, bottom = BODY
    body = image.crop((int(left * width), int(top * height), int(right * width), int(bottom * height)))
    pixels = list(body.getdata())
    row = body.size[0]
    rows = [pixels[start : start + row] for start in range(0, len(pixels), row)]
    return sum(1 for line in rows if min(line) >= NEAR_WHITE) / len(rows)


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def assert_no_blank_page_but_the_last(pdf: bytes) -> list[Image.Image]:
    images = page_images(pdf)
    shares = [round(blank_share(image), 3) for image in images]
    assert all(share <= MOST_BLANK for share in shares[:-1]), shares
    return images


def test_it_checks_blank_pages_against_a_page_that_is_blank(world, in_october):
    # The measure itself: an empty page is nearly all paper, a report page is not.
    blank = Image.new("L", (331, 468), 255)
    assert blank_share(blank) == 1.0
    data = report_data(OCTOBER, now=in_october)
    [first, *_] = page_images(render_pdf(data, sha256=data_sha256(data)))
    assert blank_share(first) < MOST_BLANK


def test_it_renders_the_report_with_no_page_left_nearly_empty(world, in_october):
    data = report_data(OCTOBER, now=in_october)
    pdf = render_pdf(data, sha256=data_sha256(data))

    images = assert_no_blank_page_but_the_last(pdf)

    assert len(images) == len(PdfReader(io.BytesIO(pdf)).pages)
    assert 4 <= len(images) <= 8


def test_it_opens_the_report_with_the_decision_page_in_reading_order(world, in_october):
    data = report_data(OCTOBER, now=in_october)
    sha = data_sha256(data)
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-", "-"],
        input=render_pdf(data, sha256=sha),
        capture_output=True,
        check=True,
    ).stdout.decode()
    page = words(first)

    expected_in_order = [
        "AI models and risks: October 2026",
        "Period",
        "2026-10-01 to 2026-11-01",
        "Generated",
        "SHA-256 of the data",
        sha,
        "Status of the month",
        "RED",
        "1 risk over appetite, not accepted",
        "Decisions required",
        "Treat or accept RISK-",
        "erin-engineer",
        "Renew or treat the acceptance of",
        "carla-compliance",
        "2026-11-10",
        "Changes since last month",
        "Open risks 4 1 \u2191 +3",
        # The world's first incident is in October: nothing before it to compare with.
        "Incidents opened 1 - first month",
        "Versions registered 1 1 = unchanged",
    ]
    positions = [page.find(piece) for piece in expected_in_order]
    assert -1 not in positions, [p for p, at in zip(expected_in_order, positions, strict=True) if at == -1]
    assert positions == sorted(positions)
    assert "(s)" not in page


def test_it_says_first_month_rather_than_a_rise_when_nothing_came_before(world, in_october):
    # September is the world's first month: its risk register and versions have nothing earlier.
    data = report_data(OCTOBER.shift(-1), now=in_october)
    page = words(
        subprocess.run(
            ["pdftotext", "-f", "1", "-l", "1", "-", "-"],
            input=render_pdf(data, sha256=data_sha256(data)),
            capture_output=True,
            check=True,
        ).stdout.decode()
    )

    assert "Open risks 1 - first month" in page
    assert "\u2191" not in page and "+1" not in page
    assert [row["previous"] for row in data["changes"]] == [None] * len(data["changes"])
    assert data["risks"]["by_band_previous"] is None
    assert [month["period"] for month in data["risks"]["trend"]] == ["2026-09"]


def test_it_renders_the_model_card_with_no_page_left_nearly_empty(world):
    version = world["v2"]
    pdf = card_pdf(card_data(version))

    images = assert_no_blank_page_but_the_last(pdf)

    reader = PdfReader(io.BytesIO(pdf))
    pages = [words(page.extract_text().replace("\xa0", " ")) for page in reader.pages]
    assert len(images) == len(pages) >= 2
    assert [f"page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1)] == [True] * len(pages)
    title = f"Model card: {version.model.display_name} ({version.model.name}) version v2"
    assert pages[0].startswith(title)
    assert "Intended use" in pages[0]
    whole = " ".join(pages)
    sections = [
        "Intended use",
        "Out-of-scope use",
        "Training data",
        "Evaluation data",
        "Release gate",
        "Limitations",
        "Ethical considerations",
        "Approvals",
        "Sign-off",
    ]
    positions = [whole.index(section) for section in sections]
    assert positions == sorted(positions)
    # Metric names are words; the approval is a row of a table and a line of the sign-off.
    assert "win rate 0.55" in whole and "win_rate 0.55" not in whole
    assert "Approver, production" in whole
