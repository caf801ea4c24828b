"""A version's model card lists the risks of its model and the incidents of the version."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from risks import incidents, services
from tests.risks.conftest import risk_payload

pytestmark = pytest.mark.django_db


def test_the_card_lists_open_risks_and_incidents(api, executive, compliance, engineer, registered_version):
    model = registered_version.model
    risk = services.risk_create(actor=compliance, owner=compliance, registered_models=[model], **risk_payload())
    closed = services.risk_create(
        actor=compliance, owner=compliance, registered_models=[model], **risk_payload(title="Old and gone")
    )
    services.risk_close(risk=closed, actor=compliance, reason="Obsolete")
    incident = incidents.incident_report(
        actor=engineer,
        title="Promised a <b>refund</b>",
        version=registered_version,
        occurred_at=timezone.now() - timedelta(hours=3),
        aware_at=timezone.now() - timedelta(hours=1),
        description="d",
        severity="high",
    )
    url = f"/api/v1/models/{model.name}/versions/{registered_version.version}/card/"

    text = api(executive).get(url).content.decode()
    pdf = api(executive).get(url, {"as": "pdf"})

    assert (
        f"- {risk.reference} Refund promises outside policy: residual Medium (6), open, owner carla-compliance" in text
    )
    # Escaped like every record text: shown as typed, never as markup.
    assert f"- {incident.reference} Promised a &lt;b&gt;refund&lt;/b&gt;: high severity, open" in text
    assert "Old and gone" not in text
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert risk.reference in pages
    assert "Promised a <b>refund</b>" in pages  # escaped: shown as text, not markup
