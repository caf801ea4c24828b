"""Model cards come from the records, in Markdown and PDF, with every text escaped."""

from __future__ import annotations

import html
import io
import re

import pypdf
from markdown_it import MarkdownIt

from registry import releases, services
from tests.conftest import evaluation_payload, model_payload, version_payload
from tests.registry.test_releases import evaluated

# What the attacker's report (issue 10, finding 4) put in names and changelogs.
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(1))"
AUTOLINK = "<javascript:alert(1)>"
ANCHOR = '<a href="javascript:alert(1)">here</a>'  # reportlab's own link markup
HOSTILE = (SCRIPT, IMG, LINK, AUTOLINK, ANCHOR)
RAW_MARKUP = ("<script", "<img", "](javascript:", "<javascript:", "<a ")


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def words(text: str) -> str:
    return " ".join(text.split())


def rendered_text(markdown: str) -> tuple[str, str]:
    """The card as a Markdown reader shows it: (the HTML, its visible text).

    CommonMark with raw HTML allowed, as permissive as renderers come, plus GFM tables.
    """
    page = MarkdownIt("commonmark").enable("table").render(markdown)
    return page, words(html.unescape(re.sub(r"<[^>]*>", " ", page)))


def hostile_version(engineer):
    model = services.model_create(
        actor=engineer,
        **model_payload(display_name=f"Support {SCRIPT}", purpose=f"Answers {IMG} and {LINK} | {AUTOLINK}"),
    )
    return services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload(suite=f"golden {IMG}", per_intent={SCRIPT: 0.6, AUTOLINK: 0.7})],
        **version_payload(version="v1", changelog=f"First line {LINK}\n\n{SCRIPT} | {IMG}\n{AUTOLINK} {ANCHOR}"),
    )


def test_the_card_tells_the_whole_record(api, executive, engineer, compliance, registered_model):
    version = evaluated(registered_model, engineer, "v1")
    promotion = releases.promotion_request(version=version, actor=engineer, target="production", justification="Wins")
    releases.promotion_approve(promotion=promotion, actor=compliance, reason="Signed off in CAB-3")
    url = f"/api/v1/models/{registered_model.name}/versions/v1/card/"

    md = api(executive).get(url)
    pdf = api(executive).get(url, {"as": "pdf"})

    assert md.status_code == 200
    assert md["Content-Type"].startswith("text/markdown")
    text = md.content.decode()
    assert text.startswith("# Model card:")
    assert "## Release gate: passed (the default policy)" in text
    _, shown = rendered_text(text)
    for expected in (
        registered_model.purpose,
        version.training_file_sha256,
        version.changelog,
        "win_rate >= 0.55",  # escaped in the Markdown (&gt;), shown as typed
        "approved for production",
        "Signed off in CAB-3",
        "production at 100%",
        "not edited by hand",
    ):
        assert expected in shown, expected
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["X-Card-SHA256"] == md["X-Card-SHA256"]
    read = pdf_text(pdf.content)
    for expected in ("Model card:", "Release gate: passed", "Signed off in CAB-3", "Approvals", "Deployments"):
        assert expected in read, expected


def test_it_escapes_every_record_text_in_the_markdown(api, engineer):
    version = hostile_version(engineer)

    response = api(engineer).get(f"/api/v1/models/{version.model.name}/versions/v1/card/")

    assert response.status_code == 200
    text = response.content.decode()
    for markup in RAW_MARKUP:
        assert markup not in text, markup
    page, shown = rendered_text(text)
    for markup in ("<script", "<img", "<a ", 'javascript:alert(1)"'):
        assert markup not in page, markup
    for hostile in HOSTILE:
        assert hostile in shown, hostile  # readable: the reader sees the text as it was typed
    assert f"Answers {IMG} and {LINK} | {AUTOLINK}" in shown  # the pipe did not split the cell
    assert f"First line {LINK} {SCRIPT} | {IMG} {AUTOLINK}" in shown  # newlines became spaces


def test_it_escapes_risk_lines_metrics_and_table_cells(api, engineer):
    from registry import cards

    version = hostile_version(engineer)
    data = cards.card_data(version)
    data["risks"] = [f"R-1 {LINK} | {SCRIPT}\nsecond line"]
    data["gate"]["rules"][0]["detail"] = f"{IMG} | \\| back"

    page, shown = rendered_text(cards.card_markdown(data))

    assert "<script" not in page and "<img" not in page
    assert f"R-1 {LINK} | {SCRIPT} second line" in shown
    assert f"{IMG} | \\| back" in shown
    cells = re.findall(r"<td>(.*?)</td>", page)
    assert any(html.unescape(cell) == f"{IMG} | \\| back" for cell in cells), cells


def test_record_text_cannot_inject_markup_into_the_pdf(api, engineer, registered_model):
    services.version_register(
        model=registered_model,
        actor=engineer,
        **version_payload(version="v9", changelog="<b>bold</b> & <font size=40>big</font> <para>"),
    )

    response = api(engineer).get(f"/api/v1/models/{registered_model.name}/versions/v9/card/", {"as": "pdf"})

    assert response.status_code == 200
    assert "<b>bold</b> & <font size=40>big</font> <para>" in pdf_text(response.content)


def test_it_names_an_unknown_format(api, engineer, registered_version):
    response = api(engineer).get(
        f"/api/v1/models/{registered_version.model.name}/versions/{registered_version.version}/card/", {"as": "docx"}
    )

    assert response.status_code == 400
    assert "as" in response.json()["error"]["fields"]


def test_it_shows_hostile_text_in_the_pdf_as_text_without_links_or_scripts(api, engineer):
    version = hostile_version(engineer)

    response = api(engineer).get(f"/api/v1/models/{version.model.name}/versions/v1/card/", {"as": "pdf"})

    assert response.status_code == 200
    shown = words(pdf_text(response.content))
    for hostile in HOSTILE:
        assert hostile in shown, hostile
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert all("/Annots" not in page for page in reader.pages)  # no link annotation, javascript: or other
    for action in (b"/URI", b"/JavaScript", b"/JS", b"/OpenAction", b"/Launch"):
        assert action not in response.content, action


def test_each_changelog_line_stays_an_item_of_its_own(engineer):
    from registry import cards

    version = hostile_version(engineer)

    page, _ = rendered_text(cards.card_markdown(cards.card_data(version)))

    # The changelog opens the card's training data, one list item a line.
    paragraphs = [words(html.unescape(re.sub(r"<[^>]*>", " ", p))) for p in re.findall(r"<li>(.*?)</li>", page, re.S)]
    assert f"First line {LINK}" in paragraphs
    assert f"{SCRIPT} | {IMG}" in paragraphs
    assert f"{AUTOLINK} {ANCHOR}" in paragraphs
