"""Model cards come from the records, in Markdown and PDF, with every text escaped."""

from __future__ import annotations

import io

import pypdf

from registry import releases
from tests.registry.test_releases import evaluated


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


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
    for expected in (
        "# Model card:",
        registered_model.purpose,
        version.training_file_sha256,
        version.changelog,
        "## Release gate: passed (the default policy)",
        "win_rate >= 0.55",
        "approved for production",
        "Signed off in CAB-3",
        "production at 100%",
        "not edited by hand",
    ):
        assert expected in text, expected
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["X-Card-SHA256"] == md["X-Card-SHA256"]
    read = pdf_text(pdf.content)
    for expected in ("Model card:", "Release gate: passed", "Signed off in CAB-3", "Approvals", "Deployments"):
        assert expected in read, expected


def test_record_text_cannot_inject_markup_into_the_pdf(api, engineer, registered_model):
    from registry import services
    from tests.conftest import version_payload

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
