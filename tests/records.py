"""A record of every kind the API serves, for the tests that walk every endpoint (schema, fuzz, hostile input)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from datasets import services as dataset_services
from datasets.models import DatasetKind
from registry import demo_datasets, releases
from registry.models import ModelVersion, Promotion, RegisteredModel
from reports.models import Trigger
from reports.periods import Period
from reports.services import report_generate
from risks import controls, incidents
from risks import services as risk_services
from risks.models import Control, Risk
from sbs import services as sbs_services
from tests.registry.test_releases import evaluated
from tests.risks.conftest import risk_payload


@dataclass(frozen=True)
class OneOfEach:
    model: RegisteredModel
    pending: ModelVersion  # v2, with a pending canary promotion; v1 is in production
    promotion: Promotion
    risk: Risk
    action_id: int
    control: Control
    incident_ref: str
    dataset_sha256: str  # the golden set the evaluations cite, checked (its file kept, so it can be re-checked)
    golden_number: int  # the same bytes as version 1 of the golden set named like the model
    sbs_run_id: int  # the later of two side-by-side runs of v2 on it (compare finds the earlier)

    def path_parameters(self) -> dict[str, str | int]:
        """Values for the path parameters of every endpoint, by the names the schema gives them."""
        return {
            "name": self.model.name,
            "version": self.pending.version,
            "promotion_id": self.promotion.pk,
            "action_id": self.action_id,
            "period": f"{date.today():%Y-%m}",
            "risks": self.risk.reference,
            "controls": self.control.reference,
            "incidents": self.incident_ref,
            "sha256": self.dataset_sha256,
            "number": self.golden_number,
            "run_id": self.sbs_run_id,
        }


def one_of_each(*, model: RegisteredModel, engineer, compliance) -> OneOfEach:
    """v1 released to production, v2 waiting for a canary, a risk with an action, a control, an incident, a report."""
    live = evaluated(model, engineer, "v1")
    released = releases.promotion_request(version=live, actor=engineer, target="production", justification="Go")
    releases.promotion_approve(promotion=released, actor=compliance, reason="CAB")
    pending = evaluated(model, engineer, "v2")
    promotion = releases.promotion_request(
        version=pending, actor=engineer, target="canary", traffic_percent=5, justification="Try"
    )
    risk = risk_services.risk_create(actor=compliance, owner=compliance, registered_models=[model], **risk_payload())
    action = risk_services.action_create(
        risk=risk, actor=compliance, action="Guard examples", owner=compliance, due_on=date.today() + timedelta(30)
    )
    control = controls.control_create(actor=compliance, name="Refusal rate", description="2-8%.", risks=[risk])
    incident = incidents.incident_report(
        actor=engineer,
        title="Promised a refund",
        version=pending,
        occurred_at=timezone.now() - timedelta(hours=3),
        aware_at=timezone.now() - timedelta(hours=1),
        description="It promised a refund outside policy.",
        severity="low",
    )
    report_generate(period=Period.of(date.today()), actor=None, trigger=Trigger.SCHEDULE)
    golden = dataset_services.dataset_upload(
        upload=SimpleUploadedFile(
            "golden.jsonl", demo_datasets.golden_file("records"), content_type="application/jsonl"
        ),
        kind=DatasetKind.GOLDEN,
        base_model=model.base_model,
        actor=engineer,
    )
    dataset_services.dataset_check_run(check_id=golden.check.pk)
    version_1 = dataset_services.golden_version_upload(
        name=model.name, upload=SimpleUploadedFile("golden.jsonl", demo_datasets.golden_file("records")), actor=engineer
    ).dataset
    runs = [
        sbs_services.sbs_run_create(
            version=pending,
            actor=engineer,
            golden=version_1,
            baseline=model.base_model,
            judge="human",
            verdicts=[{"item": "records-000", "outcome": outcome, "rater": "ann"}],
        )
        for outcome in ("loss", "win")
    ]
    return OneOfEach(
        model=model,
        pending=pending,
        promotion=promotion,
        risk=risk,
        action_id=action.pk,
        control=control,
        incident_ref=incident.reference,
        dataset_sha256=golden.dataset.sha256,
        golden_number=version_1.golden_version,
        sbs_run_id=runs[-1].pk,
    )
