"""Demo users (one per role) and a small registry, for `make run`. Safe to run twice."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.audit import Source, audit_source
from core.demo import demo_clock, last_month
from core.errors import ApplicationError
from core.roles import Role
from core.services import token_issue
from datasets import services as dataset_services
from datasets.models import DatasetKind
from lifecycle.models import Provider, ProviderModel
from lifecycle.services import catalogues_sync
from providers.registry import configured_providers
from registry import demo_datasets, fine_tuning, releases, services
from registry.models import ModelVersion, RegisteredModel

DEMO_PASSWORD = "fineprint-demo"  # noqa: S105  (demo only; refused without DEBUG)
USERS = [
    ("engineer", Role.ENGINEER, False),
    ("compliance", Role.COMPLIANCE, True),
    ("executive", Role.EXECUTIVE, False),
]
# (name, display name, purpose, base model of its first versions)
MODELS = [
    (
        "support-assistant",
        "Customer support assistant",
        "Answers billing and returns questions in chat.",
        "gpt-3.5-turbo-0125",
    ),
    (
        "claims-triage",
        "Insurance claims triage",
        "Sorts incoming claims by urgency and route.",
        "gpt-4o-mini-2024-07-18",
    ),
    (
        "pharmacy-faq",
        "Pharmacy FAQ bot",
        "Answers opening-hours and stock questions; never gives medical advice.",
        "gpt-4o-mini-2024-07-18",
    ),
]
# The support assistant's migration: off gpt-3.5-turbo-0125 (shut down 2026-10-23) to gpt-4.1-mini,
# which in turn shuts down on 2027-01-14; its next candidate trains on a base with no announced date.
MIGRATED_TO = "gpt-4.1-mini-2025-04-14"
NEXT_BASE = "gpt-4.1-nano-2025-04-14"
# The demo model compliance moves to Azure OpenAI before its new version (with --with-jobs).
AZURE_MODEL = "claims-triage"
CHANGES = [
    "Initial curated set: 1,200 chats from the help desk. Expect polite, concise answers.",
    "Added 300 returns-policy chats after the policy change. Expect fewer wrong refund promises.",
    "Added 150 refusal examples for medical questions. Expect refusal rate up slightly.",
]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo models, versions and evaluations."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")
        parser.add_argument(
            "--with-jobs",
            action="store_true",
            help="Also register a new version of each demo model and start its fine-tune job (needs OPENAI_*).",
        )

    def handle(self, *args, force: bool, with_jobs: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo data has a known password: run with DEBUG=1, or --force.")
        # The demo happened last month (see core.demo): the monthly report has a month to tell.
        with audit_source(Source.COMMAND), transaction.atomic(), demo_clock(last_month(2)) as clock:
            self.clock = clock
            users = self._users()
            self.engineer = users["engineer"]
            self.golden = self._golden()
            engineer = users["engineer"]
            for index, (name, display, purpose, base) in enumerate(MODELS):
                if RegisteredModel.objects.filter(name=name).exists():
                    continue
                model = services.model_create(
                    actor=engineer,
                    name=name,
                    display_name=display,
                    purpose=purpose,
                    base_model=base,
                    permitted_uses="Answering customers' questions in the web chat.",
                    out_of_scope_uses="Legal, medical or financial advice.",
                    reason="Demo data",
                )
                # The support assistant's v3 was retrained on the base model it migrated to.
                self._versions(model, engineer, count=3 - index % 2, later_base=MIGRATED_TO if index == 0 else "")
                clock.advance(hours=3)
            support, pharmacy = (RegisteredModel.objects.get(name=n) for n in ("support-assistant", "pharmacy-faq"))
            if not support.deployments.exists():
                self._releases(support, engineer, users["compliance"])
                self._migration(support, engineer, users["compliance"])
            if not pharmacy.deployments.exists():
                self._pharmacy_release(pharmacy, engineer, users["compliance"])
            clock.at(last_month(27, 5))
            self._catalogue()
            token = token_issue(
                user=engineer,
                name="demo",
                issued_by=engineer,
                via="seed_demo",
                reason="Demo token for the README's curl lines",
            )
        if with_jobs:
            with audit_source(Source.COMMAND):
                self._move_to_azure(users["compliance"])
                self._jobs(engineer)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, staff in USERS:
            where = "admin at /admin/" if staff else "API with a token"
            self.stdout.write(f"  {username:<11} {role:<11} {where}")
        self.stdout.write(f"Engineer API token: {token.secret}")

    def _golden(self) -> str:
        """The golden set the demo's evaluations cite, checked as a dataset of kind golden (fingerprints only)."""
        content = demo_datasets.golden_file()
        self._check(content, kind=DatasetKind.GOLDEN, base_model="gpt-4.1-mini-2025-04-14", goldens=())
        return demo_datasets.sha256(content)

    def _dataset(self, model: str, label: str, kind: str, base_model: str) -> str:
        """A demo version's file, checked against the golden set like an uploaded one; its SHA-256."""
        content = demo_datasets.data_file(model, label, kind, examples=60 if kind == "training" else 15)
        self._check(content, kind=kind, base_model=base_model, goldens=[self.golden])
        return demo_datasets.sha256(content)

    def _check(self, content: bytes, *, kind: str, base_model: str, goldens) -> None:
        result = dataset_services.dataset_upload(
            upload=SimpleUploadedFile(f"{kind}.jsonl", content, content_type="application/jsonl"),
            kind=kind,
            base_model=base_model,
            actor=self.engineer,
            goldens=goldens,
        )
        if result.check is not None:
            # Checked now, in the demo's month (the task queued on commit then finds it done).
            dataset_services.dataset_check_run(check_id=result.check.pk)

    def _catalogue(self) -> None:
        """The provider catalogue as the daily sync left it late last month, so last month's report has a runway.

        After the demo's releases: the catalogue is new to Fineprint, and the demo month's gates ran
        without it (as they would have, a month before this feature), whatever month "last month" is.
        """
        if ProviderModel.objects.exists():
            return
        for report in catalogues_sync():
            if report.error:
                self.stdout.write(f"The {report.provider} catalogue was not synced for the demo month: {report.error}")

    def _releases(self, model: RegisteredModel, engineer, compliance) -> None:
        """A release history that reads like a real one: an override, a replacement, a rollback,
        a rejected promotion whose gate failed, and a canary at 10%."""
        v1, v2, v3 = (ModelVersion.objects.get(model=model, version=label) for label in ("v1", "v2", "v3"))

        def promote(version, target, justification, reason, traffic=None, override=""):
            promotion = releases.promotion_request(
                version=version, actor=engineer, target=target, traffic_percent=traffic, justification=justification
            )
            return releases.promotion_approve(
                promotion=promotion, actor=compliance, reason=reason, override_justification=override
            )

        self.clock.at(last_month(5, 10))
        promote(
            v1,
            "production",
            "First release for the pilot stores.",
            "Pilot approved by the CAB.",
            override="Win rate 0.54 against the base model, below 0.55: accepted for a 4-week pilot.",
        )
        self.clock.at(last_month(12, 11))
        promote(v2, "production", "Returns chats added; wins 58% against v1.", "Gate passed; CAB-12.")
        self.clock.at(last_month(14, 16))
        releases.rollback(model=model, actor=engineer, reason="Refund promises regressed in live traffic (INC-7).")
        self.clock.at(last_month(16, 9))
        rejected = releases.promotion_request(
            version=v3, actor=engineer, target="production", justification="Medical refusals added."
        )
        releases.promotion_reject(
            promotion=rejected, actor=compliance, reason="Gate failed: no win rate against the production version v1."
        )
        self.clock.at(last_month(17, 14))
        services.evaluation_record(
            version=v3,
            actor=engineer,
            suite="golden-v1",
            golden_set_sha256=self.golden,
            baseline_version="v1",
            metrics={"win_rate": 0.6, "refusal_rate": 0.05, "p95_latency_ms": 1010, "golden_score": 0.86},
            per_intent={"billing": 0.63, "returns": 0.57, "medical advice": 0.52},
        )
        self.clock.at(last_month(18, 10))
        promote(v3, "canary", "Re-evaluated against v1: wins 60%.", "Canary at 10% for two weeks.", traffic=10)
        self.clock.at(last_month(21, 10))
        promote(
            v3,
            "production",
            "Migration off gpt-3.5-turbo-0125, which OpenAI shuts down on 2026-10-23: v3 on gpt-4.1-mini held "
            "up in canary.",
            "Canary clean for three days; CAB-14.",
        )

    def _migration(self, model: RegisteredModel, engineer, compliance) -> None:
        """After the move: the old versions retired, and the next candidate on a base with no shutdown date."""
        self.clock.at(last_month(22, 9))
        for label in ("v1", "v2"):
            services.version_retire(
                version=ModelVersion.objects.get(model=model, version=label),
                actor=compliance,
                reason="Its base model gpt-3.5-turbo-0125 shuts down on 2026-10-23; v3 on gpt-4.1-mini replaces it.",
            )
        self.clock.at(last_month(26, 11))
        services.model_update(
            model=model,
            actor=engineer,
            data={"base_model": NEXT_BASE},
            reason=f"{MIGRATED_TO} shuts down on 2027-01-14 too: new versions train on {NEXT_BASE}.",
        )
        services.version_register(
            model=model,
            actor=engineer,
            version="v4",
            training_file_sha256=self._dataset(model.name, "v4", "training", NEXT_BASE),
            validation_file_sha256=self._dataset(model.name, "v4", "validation", NEXT_BASE),
            changelog=f"Same curated set as v3, retrained on {NEXT_BASE}. Expect the same behaviour.",
            evaluations=[
                {
                    "suite": "golden-v1",
                    "golden_set_sha256": self.golden,
                    "baseline_version": "v3",
                    "metrics": {"win_rate": 0.61, "refusal_rate": 0.05, "p95_latency_ms": 880, "golden_score": 0.88},
                    "per_intent": {"billing": 0.64, "returns": 0.6, "medical advice": 0.55},
                }
            ],
            reason="Demo data",
        )

    def _pharmacy_release(self, model: RegisteredModel, engineer, compliance) -> None:
        """In production on gpt-4o-mini, which shuts down on 2027-01-14, with no candidate yet."""
        self.clock.at(last_month(8, 15))
        latest = ModelVersion.objects.filter(model=model).order_by("-id").first()
        promotion = releases.promotion_request(
            version=latest, actor=engineer, target="production", justification="Stock answers refreshed."
        )
        releases.promotion_approve(promotion=promotion, actor=compliance, reason="Gate passed; CAB-9.")

    def _move_to_azure(self, compliance) -> None:
        """Compliance moves claims-triage to Azure before its new version: OpenAI's fine-tuning closes."""
        model = RegisteredModel.objects.get(name=AZURE_MODEL)
        if model.provider == Provider.AZURE:
            return
        if Provider.AZURE not in configured_providers():
            self.stdout.write(f"Azure OpenAI is not configured: {AZURE_MODEL} stays on OpenAI.")
            return
        services.model_update(
            model=model,
            actor=compliance,
            data={"provider": Provider.AZURE},
            reason="OpenAI takes no new fine-tuning jobs after 2027-01-06: claims-triage trains on Azure OpenAI "
            "from its next version (CAB-31).",
        )
        self.stdout.write(f"Moved {AZURE_MODEL} to Azure OpenAI (its earlier versions stay on OpenAI)")

    def _jobs(self, engineer) -> None:
        """A new version of each demo model, trained on a small generated data set: its job runs live."""
        for name, *_ in MODELS:
            model = RegisteredModel.objects.get(name=name)
            label = f"v{model.versions.count() + 1}"
            data = "".join(
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": f"{name} question {i}"},
                            {"role": "assistant", "content": f"{name} answer {i} ({label})"},
                        ]
                    }
                )
                + "\n"
                for i in range(20)
            ).encode()
            version = services.version_register(
                model=model,
                actor=engineer,
                version=label,
                training_file_sha256=hashlib.sha256(data).hexdigest(),
                changelog="Nightly retrain on this week's curated chats; expect the same behaviour, fresher facts.",
                reason="Demo data",
            )
            try:
                fine_tuning.version_fine_tune_launch(
                    version=version,
                    actor=engineer,
                    training=fine_tuning.Dataset(content=data, filename=f"{name}-{label}.jsonl"),
                    hyperparameters={"n_epochs": 2},
                )
            except ApplicationError as exc:
                self.stderr.write(f"Could not start the demo job of {model.name}:{label}: {exc.message}")
                continue
            self.stdout.write(f"Started the fine-tune job of {model.name}:{label} on {version.get_provider_display()}")

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, role, staff in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "email": f"{username}@example.com"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))
            users[username] = user
        return users

    def _versions(self, model: RegisteredModel, engineer, *, count: int, later_base: str = "") -> None:
        previous = model.base_model
        for n in range(1, count + 1):
            label = f"v{n}"
            if ModelVersion.objects.filter(model=model, version=label).exists():
                continue
            win = round(0.5 + 0.04 * n, 3)
            base_model = later_base if later_base and n == count else model.base_model
            services.version_register(
                model=model,
                actor=engineer,
                version=label,
                training_file_sha256=self._dataset(model.name, label, "training", base_model),
                validation_file_sha256=self._dataset(model.name, label, "validation", base_model),
                base_model=base_model,
                changelog=CHANGES[(n - 1) % len(CHANGES)],
                evaluations=[
                    {
                        "suite": "golden-v1",
                        "golden_set_sha256": self.golden,
                        "baseline_version": previous,
                        "metrics": {
                            "win_rate": win,
                            "refusal_rate": 0.03 + 0.01 * n,
                            "p95_latency_ms": 900 + 40 * n,
                            "golden_score": 0.8 + 0.03 * n,
                        },
                        "per_intent": {"billing": win + 0.02, "returns": win - 0.03, "medical advice": win - 0.06},
                        "ran_at": timezone.now() - timedelta(days=10 * (count - n)),
                    }
                ],
                reason="Demo data",
            )
            previous = label
