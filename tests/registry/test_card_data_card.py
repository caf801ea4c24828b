"""The model card has a data card section: each data file's check, in Markdown and in the PDF read back."""

from __future__ import annotations

import io

import pypdf
import pytest

from datasets.models import PriceRow
from datasets.services import dataset_override_create
from registry import cards, services
from tests.conftest import evaluation_payload, version_payload
from tests.registry.test_admin_data_card import checked_upload, golden_set, training_lines

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


def card(version) -> tuple[dict, str, str]:
    data = cards.card_data(version)
    pdf = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(cards.card_pdf(data))).pages)
    return data, cards.card_markdown(data), " ".join(pdf.split())


def version_trained_on(model, engineer, training: str):
    return services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload()],
        **version_payload(training_file_sha256=training),
    )


def test_it_states_what_the_check_measured(engineer, registered_model):
    training = checked_upload(training_lines(), engineer)
    version = version_trained_on(registered_model, engineer, training.sha256)

    data, markdown, pdf = card(version)

    report = training.report
    tokens, cost = report["tokens"], report["cost"]
    price = PriceRow.objects.get(pk=cost["price"]["id"])  # the row in force when the check ran
    entry = data["data_card"][0]
    assert entry["role"] == "training" and entry["checked"]
    facts = entry["facts"]
    assert facts["Examples"] == str(len(training_lines()))
    assert facts["Tokens per example"] == f"p50 {tokens['p50']:,}, p95 {tokens['p95']:,}, max {tokens['max']:,}"
    assert facts["Billed tokens and cost"].startswith(
        f"{cost['billed_tokens']:,} billed tokens ({cost['epochs']} epochs)"
    )
    assert f"${price.usd_per_million_training_tokens} per 1M training tokens" in facts["Billed tokens and cost"]
    assert facts["Findings"] == f"{training.blocking} blocking, {training.warnings} warnings"
    assert facts["Golden-set leakage"] == "not compared against any golden set"
    # The validation file was never uploaded.
    assert data["data_card"][1]["facts"] == {"Check": "not checked (no dataset with this SHA-256 was uploaded)"}

    assert "## Data card" in markdown
    assert f"### Training file `{training.sha256}`" in markdown
    assert f"| Tokens per example | {facts['Tokens per example']} |" in markdown
    assert f"| Findings | {facts['Findings']} |" in markdown
    assert "| Check | not checked (no dataset with this SHA-256 was uploaded) |" in markdown
    assert "Data card" in pdf
    assert f"Training file {training.sha256}" in pdf
    assert facts["Tokens per example"] in pdf
    assert f"{cost['billed_tokens']:,} billed tokens" in pdf
    assert "not checked (no dataset with this SHA-256 was uploaded)" in pdf
    assert "jane.doe@example.com" not in markdown + pdf  # the planted e-mail address: counted, never shown


def test_it_flags_an_override_of_blocking_findings(engineer, compliance, registered_model):
    training = checked_upload(training_lines(), engineer, goldens=[golden_set(engineer).sha256])
    assert training.blocking > 0
    dataset_override_create(dataset=training, justification="PII scrubbed before upload to OpenAI", actor=compliance)
    version = version_trained_on(registered_model, engineer, training.sha256)

    _, markdown, pdf = card(version)

    assert "**Findings overridden:** by carla-compliance on " in markdown
    assert "PII scrubbed before upload to OpenAI" in markdown
    assert "Findings overridden: by carla-compliance" in pdf and "PII scrubbed before upload to OpenAI" in pdf


def test_it_says_not_checked_when_no_dataset_has_the_hashes(registered_version):
    data, markdown, pdf = card(registered_version)

    assert [e["checked"] for e in data["data_card"]] == [False, False]
    assert markdown.count("| Check | not checked (no dataset with this SHA-256 was uploaded) |") == 2
    assert "Findings overridden" not in markdown
    assert pdf.count("not checked (no dataset with this SHA-256 was uploaded)") == 2
