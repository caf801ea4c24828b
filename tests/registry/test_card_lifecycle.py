"""The model card states the shutdown date of the model a version runs on and its replacement, from the catalogue."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pypdf
import pytest

from core.demo import demo_clock
from lifecycle.models import ProviderModel
from lifecycle.services import catalogue_entry_correct, catalogue_sync
from registry import cards, services
from tests.conftest import evaluation_payload, model_payload, version_payload

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 11, 30, 10, tzinfo=UTC)
MINI = "gpt-4.1-mini-2025-04-14"
NANO = "gpt-4.1-nano-2025-04-14"


def version_on(engineer, base_model: str, *, fine_tuned_model: str = ""):
    model = services.model_create(actor=engineer, **model_payload(base_model=base_model))
    return services.version_register(
        model=model,
        actor=engineer,
        fine_tuned_model=fine_tuned_model,
        evaluations=[evaluation_payload(baseline_version=base_model)],
        **version_payload(),
    )


def card(version) -> tuple[dict, str, str]:
    with demo_clock(TODAY):
        data = cards.card_data(version)
    pdf = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(cards.card_pdf(data))).pages)
    return data, cards.card_markdown(data), " ".join(pdf.split())


def test_it_states_the_shutdown_date_and_the_replacement(fake_openai, engineer, compliance):
    with demo_clock(TODAY):
        catalogue_sync(on=TODAY.date())
        catalogue_entry_correct(
            entry=ProviderModel.objects.get(model_id=MINI), actor=compliance, reason="OpenAI says so", replacement=NANO
        )
        version = version_on(engineer, MINI, fine_tuned_model=f"ft:{MINI}:fake-org:support:abc")

    data, markdown, pdf = card(version)

    facts = data["version"]
    days = (date(2027, 1, 14) - TODAY.date()).days
    assert facts["Base model"] == MINI
    assert facts["Runs on"] == f"ft:{MINI}:fake-org:support:abc"
    # The fine-tuned model is not in the catalogue on its own: it shuts down with its base model.
    assert facts["Shuts down"] == f"2027-01-14 ({days} days left); source: the provider"
    assert facts["Replacement"] == NANO
    assert f"| Shuts down | 2027-01-14 ({days} days left); source: the provider |" in markdown
    assert f"| Replacement | {NANO} |" in markdown
    assert f"Shuts down 2027-01-14 ({days} days left)" in pdf
    assert f"Replacement {NANO}" in pdf
    assert "retires on" not in markdown.lower() and "retires on" not in pdf.lower()


def test_a_model_without_an_announced_shutdown_says_so(fake_openai, engineer):
    with demo_clock(TODAY):
        catalogue_sync(on=TODAY.date())
        version = version_on(engineer, NANO)

    data, markdown, pdf = card(version)

    assert (data["version"]["Shuts down"], data["version"]["Replacement"]) == ("none announced", "none announced")
    assert "| Shuts down | none announced |" in markdown
    assert "Shuts down none announced" in pdf


def test_a_model_missing_from_the_catalogue_says_so(engineer):
    with demo_clock(TODAY):
        version = version_on(engineer, NANO)  # the catalogue was never synced

    data, markdown, pdf = card(version)

    assert data["version"]["Shuts down"] == f"not in the catalogue ({NANO})"
    assert data["version"]["Replacement"] == "not in the catalogue"
    assert f"| Shuts down | not in the catalogue ({NANO}) |" in markdown
    assert "Replacement not in the catalogue" in pdf


def test_each_version_card_names_the_provider_it_was_trained_on(engineer, compliance, fake_azure):
    v1 = version_on(engineer, NANO)
    services.model_update(
        model=v1.model, actor=compliance, data={"provider": "azure"}, reason="OpenAI takes no new jobs after 2027-01-06"
    )
    v2 = services.version_register(model=v1.model, actor=engineer, **version_payload(version="v2"))

    (first, first_md, _), (second, _, second_pdf) = card(v1), card(v2)

    assert (first["version"]["Provider"], second["version"]["Provider"]) == ("OpenAI", "Azure OpenAI")
    assert "OpenAI" in first_md and "Azure OpenAI" not in first_md
    assert "Provider Azure OpenAI" in second_pdf
