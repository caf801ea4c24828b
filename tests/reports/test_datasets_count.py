"""The monthly report counts new versions trained without a dataset check, or on data with overridden findings.

A version counts in the month its fine-tune job started, and its data is judged as it stood then:
a check or an override recorded after the job started does not change what it was trained on.
"""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from core.demo import demo_clock
from datasets.models import DatasetKind
from datasets.services import dataset_override_create
from registry import services
from reports.builder import data_sha256, report_data
from reports.periods import Period
from reports.render import render_pdf
from tests.conftest import model_payload, version_payload
from tests.registry.test_data_card import checked, with_clean_data
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db

NOVEMBER = Period(2026, 11)
BLOCKING = [{"code": "pii_email", "line": 7}, {"code": "too_few_examples", "line": None}]


def trained(model, engineer, label: str, *, job: str | None = None):
    """A version registered with a fine-tune job already run (its job starts when it is recorded), or a draft."""
    return services.version_register(
        model=model, actor=engineer, evaluations=[], provider_job_id=job, **version_payload(version=label)
    )


@pytest.fixture
def november(engineer, compliance):
    """October: v1 trained unchecked. November: v2 unchecked (checked later that month), v3 on overridden data,
    v4 clean, v5 a draft never trained, v6 overridden only after its job started. December: v7 unchecked."""
    with demo_clock(at(10, 20)) as clock:
        model = services.model_create(actor=engineer, **model_payload(name="claims-triage"))
        trained(model, engineer, "v1", job="ftjob-v1")

        clock.at(at(11, 5))
        v2 = trained(model, engineer, "v2", job="ftjob-v2")

        clock.at(at(11, 6))
        v3_data = version_payload(version="v3")
        dataset = checked(v3_data["training_file_sha256"], engineer, blocking=BLOCKING)
        checked(v3_data["validation_file_sha256"], engineer, kind=DatasetKind.VALIDATION)
        dataset_override_create(dataset=dataset, justification="Synthetic e-mails only", actor=compliance)
        clock.at(at(11, 7))
        services.version_register(model=model, actor=engineer, evaluations=[], provider_job_id="ftjob-v3", **v3_data)

        clock.at(at(11, 8))
        v4_data = version_payload(version="v4")
        checked(v4_data["training_file_sha256"], engineer)
        checked(v4_data["validation_file_sha256"], engineer, kind=DatasetKind.VALIDATION)
        services.version_register(model=model, actor=engineer, evaluations=[], provider_job_id="ftjob-v4", **v4_data)

        trained(model, engineer, "v5")

        clock.at(at(11, 9))
        v6_data = version_payload(version="v6")
        late = checked(v6_data["training_file_sha256"], engineer, blocking=BLOCKING)
        checked(v6_data["validation_file_sha256"], engineer, kind=DatasetKind.VALIDATION)
        v6 = services.version_register(
            model=model, actor=engineer, evaluations=[], provider_job_id="ftjob-v6", **v6_data
        )

        clock.at(at(11, 20))
        with_clean_data(v2, engineer)  # after its job started: it was still trained unchecked
        dataset_override_create(dataset=late, justification="Decided afterwards", actor=compliance)

        clock.at(at(12, 3))
        trained(model, engineer, "v7", job="ftjob-v7")
    return {"model": model, "v2": v2, "v3": v3_data, "v6": v6}


def test_it_counts_the_versions_trained_this_month_without_a_check(november):
    data = report_data(NOVEMBER, now=at(12, 10))["training_data"]

    assert data["trained"] == 4  # v2, v3, v4, v6: not v1 (October), v5 (never trained), v7 (December)
    [row] = data["unchecked"]
    assert row["version"] == "claims-triage:v2"
    assert row["job_started"].startswith("2026-11-05")
    assert [(f["role"], f["sha256"], f["state"]) for f in row["files"]] == [
        ("training", november["v2"].training_file_sha256, "not uploaded"),
        ("validation", november["v2"].validation_file_sha256, "not uploaded"),
    ]


def test_it_counts_the_versions_trained_on_overridden_findings_only_when_overridden_before_the_job(november):
    data = report_data(NOVEMBER, now=at(12, 10))["training_data"]

    # v6's findings were overridden after its job started: it was trained on blocked data, not overridden data.
    [row] = data["overridden"]
    assert row["version"] == "claims-triage:v3"
    [training] = row["files"]
    assert (training["role"], training["sha256"]) == ("training", november["v3"]["training_file_sha256"])
    assert (training["blocking"], training["overridden_by"], training["overridden_on"]) == (
        2,
        "carla-compliance",
        "2026-11-06",
    )
    assert training["justification"] == "Synthetic e-mails only"


def test_a_later_check_does_not_change_a_past_months_count(november, engineer):
    before = report_data(NOVEMBER, now=at(12, 10))

    with demo_clock(at(12, 12)):
        with_clean_data(trained(november["model"], engineer, "v8", job="ftjob-v8"), engineer)

    after = report_data(NOVEMBER, now=at(12, 20))
    assert data_sha256(after) == data_sha256(before)


def test_the_pdf_shows_both_counts_and_the_versions(november):
    data = report_data(NOVEMBER, now=at(12, 10))
    reader = PdfReader(io.BytesIO(render_pdf(data, sha256=data_sha256(data))))
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]
    text = " ".join(pages)

    assert "New versions trained without a dataset check / with overridden findings 1 / 1" in pages[1]
    assert "4 new versions started training: 1 without a dataset check, 1 on data with overridden" in text
    unchecked = text[text.index("Trained without a dataset check") : text.index("Trained on data with overridden")]
    assert "claims-triage:v2" in unchecked
    assert f"training {november['v2'].training_file_sha256[:12]}… (not uploaded)" in unchecked
    overridden = text[text.index("Trained on data with overridden") : text.index("Registered")]
    assert "claims-triage:v3" in overridden
    assert "2 blocking, overridden by carla-compliance on 2026-11-06: Synthetic e-mails only" in overridden
    assert "claims-triage:v6" not in overridden
