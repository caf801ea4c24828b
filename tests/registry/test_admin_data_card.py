"""The version's admin page shows its data card: the token histogram drawn as SVG, findings by severity, no PII text.

The datasets are uploaded and checked by the real engine (datasets.services), synchronously:
the panel reads real reports, with their open histogram bucket, policy severities and PII block.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from datasets.models import Dataset
from datasets.services import dataset_check_run, dataset_override_create, dataset_upload
from registry import services
from tests.conftest import evaluation_payload, version_payload

pytestmark = pytest.mark.django_db

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
GOLDEN_PROMPTS = [f"How do I get a refund for order number {i} placed last week?" for i in range(12)]


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.DATASET_STORAGE = tmp_path / "datasets"
    settings.DATASET_KEEP_FILES = False


@pytest.fixture
def admin_client(compliance) -> Client:
    client = Client()
    client.force_login(compliance)
    return client


def chat(user: str, answer: str = "Happy to help with that.") -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": "You are the billing assistant."},
                {"role": "user", "content": user},
                {"role": "assistant", "content": answer},
            ]
        }
    )


def checked_upload(lines: list[str], actor, *, kind: str = "training", goldens=()) -> Dataset:
    """Upload the lines and run their check now, as the task would after commit."""
    content = ("\n".join(lines) + "\n").encode()
    result = dataset_upload(
        upload=SimpleUploadedFile("data.jsonl", content, "application/jsonl"),
        kind=kind,
        base_model="gpt-4.1-nano-2025-04-14",
        actor=actor,
        goldens=goldens,
    )
    dataset_check_run(check_id=result.check.pk)
    return Dataset.objects.get(pk=result.dataset.pk)


def training_lines() -> list[str]:
    """61 examples of three lengths, one with an e-mail address and a phone number, two golden prompts leaked."""
    lines = [chat(f"Question {i} about invoice {i * 7}?") for i in range(40)]
    lines += [chat(f"Longer question {i}: " + " ".join(f"word{i}x{j}" for j in range(120))) for i in range(15)]
    lines += [chat(f"Very long question {i}: " + " ".join(f"term{i}y{j}" for j in range(400))) for i in range(3)]
    lines.append(chat(f"My address is {EMAIL}, call me on {PHONE}."))
    lines.append(chat(GOLDEN_PROMPTS[0]))
    lines.append(chat(GOLDEN_PROMPTS[1]))
    return lines


def golden_set(actor) -> Dataset:
    return checked_upload([json.dumps({"prompt": p}) for p in GOLDEN_PROMPTS], actor, kind="golden")


@pytest.fixture
def golden(engineer) -> Dataset:
    return golden_set(engineer)


def version_trained_on(model, engineer, training: str):
    return services.version_register(
        model=model,
        actor=engineer,
        evaluations=[evaluation_payload()],
        **version_payload(training_file_sha256=training),
    )


def page(client, version) -> str:
    response = client.get(f"/admin/registry/modelversion/{version.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def panel(html: str) -> str:
    """The data card's fieldset, so counts elsewhere on the page cannot satisfy an assertion."""
    start = html.index("Data card (pre-checks")
    return html[start : html.index("</fieldset>", start)]


def test_it_draws_the_token_histogram_with_one_bar_per_bucket(admin_client, engineer, registered_model, golden):
    training = checked_upload(training_lines(), engineer, goldens=[golden.sha256])
    version = version_trained_on(registered_model, engineer, training.sha256)

    html = panel(page(admin_client, version))

    counts = [count for _, count in training.report["tokens"]["histogram"]]
    filled = [i for i, count in enumerate(counts) if count]
    expected = counts[filled[0] : filled[-1] + 1]  # from the first to the last bucket holding examples
    assert len(filled) >= 3  # three lengths planted: the chart has something to show
    assert "<svg" in html and 'class="fp-histogram"' in html
    assert html.count('class="fp-bar"') == len(expected)
    titles = re.findall(r"<title>[^<]* tokens: (\d+) examples?</title>", html)
    assert [int(n) for n in titles] == expected
    assert sum(expected) == len(training_lines())


def test_it_counts_findings_by_severity_with_cost_leakage_and_pii_counts(
    admin_client, engineer, registered_model, golden
):
    training = checked_upload(training_lines(), engineer, goldens=[golden.sha256])
    version = version_trained_on(registered_model, engineer, training.sha256)

    html = panel(page(admin_client, version))

    report = training.report
    assert report["pii"]["email"] == 1 and report["pii"]["phone"] == 1
    assert report["leakage"]["exact"] == 2
    assert f"{training.blocking} blocking" in html
    assert f"{training.warnings} warnings" in html
    assert "<code>golden_leak_exact</code>" in html and "<code>pii_email</code>" in html
    assert "2 exact, 0 near, against 1 golden set" in html
    assert "E-mail addresses 1" in html and "Phone numbers 1" in html
    assert f"{report['cost']['billed_tokens']:,} billed tokens" in html
    assert f"p50 {report['tokens']['p50']:,}, p95 {report['tokens']['p95']:,}, max {report['tokens']['max']:,}" in html
    assert "Blocking findings overridden" not in html


def test_it_says_one_warning_in_the_singular(admin_client, engineer, registered_model):
    lines = [chat(f"Question {i} about invoice {i * 7}?") for i in range(60)]
    lines.append(lines[0])  # one exact duplicate: the file's one warning
    training = checked_upload(lines, engineer)
    assert (training.blocking, training.warnings) == (0, 1)
    version = version_trained_on(registered_model, engineer, training.sha256)

    html = panel(page(admin_client, version))

    assert ">1 warning</span>" in html and "1 warnings" not in html
    assert ">0 blocking</span>" in html


def test_it_never_shows_personal_data_text(admin_client, engineer, registered_model, golden):
    training = checked_upload(training_lines(), engineer, goldens=[golden.sha256])
    version = version_trained_on(registered_model, engineer, training.sha256)

    html = page(admin_client, version)

    assert EMAIL not in html and "jane.doe" not in html
    assert PHONE not in html and "7946" not in html
    assert GOLDEN_PROMPTS[0] not in html  # nor a leaked prompt


def test_it_flags_compliance_override_of_blocking_findings(
    admin_client, engineer, compliance, registered_model, golden
):
    training = checked_upload(training_lines(), engineer, goldens=[golden.sha256])
    assert training.blocking > 0
    dataset_override_create(dataset=training, justification="Leaked items removed upstream", actor=compliance)
    version = version_trained_on(registered_model, engineer, training.sha256)

    html = panel(page(admin_client, version))

    assert "Blocking findings overridden" in html
    assert "carla-compliance" in html and "Leaked items removed upstream" in html


def test_it_says_not_checked_when_no_dataset_has_the_hash(admin_client, registered_version):
    html = panel(page(admin_client, registered_version))

    assert "Not checked: no dataset with this SHA-256 was uploaded" in html
    assert html.count("fp-not-checked") == 2  # training and validation files
    assert "<svg" not in html
