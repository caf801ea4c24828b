"""Demo users (one per role) and a small registry, for `make run`. Safe to run twice.

The story, last month (core.demo): the three models are registered on the 2nd and 3rd, each
named with its business owner and classified by Compliance the same day; each version is
registered on its own day and evaluated a couple of hours later; the versions were trained in
the team's own pipeline before Fineprint followed jobs, so each is registered with its provider's
fine-tuned model id ("trained elsewhere"). Releases follow (registry.releases). Today's live
fine-tune jobs are seed_demo_jobs', run last so their labels follow last month's.

Rerunning finds what it made and adds nothing, except the demo token: its secret is shown once,
so each run rotates it (the previous one revoked, with the reason).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.audit import Source, audit_source, audited_save
from core.demo import demo_clock, last_month
from core.models import ApiToken
from core.roles import Role
from core.services import IssuedToken, token_issue, token_revoke
from datasets import services as dataset_services
from datasets.models import DatasetKind
from lifecycle.models import ProviderModel
from lifecycle.services import catalogues_sync
from registry import demo_datasets, releases, services
from registry.models import ModelVersion, RegisteredModel, RiskTier

DEMO_PASSWORD = "fineprint-demo"  # noqa: S105  (demo only; refused without DEBUG)
USERS = [
    ("engineer", Role.ENGINEER, False),
    ("compliance", Role.COMPLIANCE, True),
    # Staff: the executive reads the report archive in the admin (core.roles limits what they see there).
    ("executive", Role.EXECUTIVE, True),
]
DEMO_TOKEN = "demo"  # noqa: S105  (the token's name, not a secret)
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
        # Not pharmacy-faq's base: claims-triage moves to Azure, whose dates for a base differ from OpenAI's.
        "gpt-4o-2024-08-06",
    ),
    (
        "pharmacy-faq",
        "Pharmacy FAQ bot",
        "Answers opening-hours and stock questions; never gives medical advice.",
        "gpt-4o-mini-2024-07-18",
    ),
]
# Per model: the hour of last month it was registered, and the day each version was (v1 that day).
TIMELINE = {
    "support-assistant": (9, (2, 9, 15)),
    "claims-triage": (11, (3, 11)),
    "pharmacy-faq": (14, (3, 5, 7)),
}
# The risk tier Compliance gives each model on the day it is registered, and why (the card says so).
TIERS = {
    "support-assistant": (
        RiskTier.LIMITED,
        "Chats with customers about orders and refunds: people must know they talk to a bot; no decision "
        "about them is automated.",
    ),
    "claims-triage": (
        RiskTier.HIGH,
        "Routes insurance claims by urgency: a wrong route delays help to people in distress, so every "
        "low-confidence claim is reviewed by a person.",
    ),
    "pharmacy-faq": (
        RiskTier.LIMITED,
        "Answers opening hours and stock only; medical questions are refused and sent to a pharmacist.",
    ),
}
# The support assistant's migration: off gpt-3.5-turbo-0125 (shut down 2026-10-23) to gpt-4.1-mini,
# which in turn shuts down on 2027-01-14; its next candidate trains on a base with no announced date.
MIGRATED_TO = "gpt-4.1-mini-2025-04-14"
NEXT_BASE = "gpt-4.1-nano-2025-04-14"
CHANGES = [
    "Initial curated set: 1,200 chats from the help desk. Expect polite, concise answers.",
    "Added 300 returns-policy chats after the policy change. Expect fewer wrong refund promises.",
    "Added 150 refusal examples for medical questions. Expect refusal rate up slightly.",
]


class Command(BaseCommand):
    help = "Create demo users (one per role) and demo models, versions and evaluations; rotate the demo token."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo data has a known password: run with DEBUG=1, or --force.")
        # The demo happened last month (see core.demo): the monthly report has a month to tell.
        with audit_source(Source.COMMAND), transaction.atomic(), demo_clock(last_month(2)) as clock:
            self.clock = clock
            # The demo's people joined two years before its month: before the oldest risk they recorded.
            clock.at(last_month(2).replace(year=last_month(2).year - 2))
            users = self._users()
            clock.at(last_month(2))
            self.engineer = users["engineer"]
            self.golden = self._golden()
            engineer, compliance = users["engineer"], users["compliance"]
            for name, display, purpose, base in MODELS:
                if RegisteredModel.objects.filter(name=name).exists():
                    continue
                hour, days = TIMELINE[name]
                clock.at(last_month(days[0], hour))
                model = services.model_create(
                    actor=engineer,
                    name=name,
                    display_name=display,
                    purpose=purpose,
                    base_model=base,
                    business_owner=users["executive"],
                    technical_owner=engineer,
                    permitted_uses="Answering customers' questions in the web chat.",
                    out_of_scope_uses="Legal, medical or financial advice.",
                    reason="Demo data",
                )
                clock.advance(hours=1)
                tier, why = TIERS[name]
                services.model_update(model=model, actor=compliance, data={"risk_tier": tier}, reason=why)
                # The support assistant's v3 was retrained on the base model it migrated to.
                self._versions(model, engineer, later_base=MIGRATED_TO if name == "support-assistant" else "")
            support, pharmacy = (RegisteredModel.objects.get(name=n) for n in ("support-assistant", "pharmacy-faq"))
            if not support.deployments.exists():
                self._releases(support, engineer, compliance)
                self._migration(support, engineer, compliance)
            if not pharmacy.deployments.exists():
                self._pharmacy_release(pharmacy, engineer, compliance)
            clock.at(last_month(27, 5))
            self._catalogue()
        # Today, not in the demo's month: the token is for trying the API now.
        with audit_source(Source.COMMAND), transaction.atomic():
            token, replaced = self._token(engineer)
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, staff in USERS:
            where = "admin at /admin/" if staff else "API with a token"
            self.stdout.write(f"  {username:<11} {role:<11} {where}")
        revoked = f" ({replaced} earlier demo token revoked)" if replaced else ""
        self.stdout.write(f"Engineer API token: {token.secret}{revoked}")

    def _token(self, engineer) -> tuple[IssuedToken, int]:
        """A new demo token, and how many live ones it replaced (revoked): a secret is shown once, never reused."""
        live = list(ApiToken.objects.filter(user=engineer, name=DEMO_TOKEN, revoked_at=None))
        for old in live:
            token_revoke(token=old, actor=engineer, reason="Replaced by the demo token of a newer `make run`")
        issued = token_issue(
            user=engineer,
            name=DEMO_TOKEN,
            issued_by=engineer,
            via="seed_demo",
            reason="Demo token for the README's curl lines",
        )
        return issued, len(live)

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
        releases.rollback(
            model=model,
            actor=engineer,
            reason="Refund promises regressed in live traffic: help-desk escalations since yesterday.",
        )
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
        promote(
            v3,
            "canary",
            "Re-evaluated against v1: wins 60%.",
            "Canary at 10% until it has run three clean days.",
            traffic=10,
        )
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
        v4 = services.version_register(
            model=model,
            actor=engineer,
            version="v4",
            training_file_sha256=self._dataset(model.name, "v4", "training", NEXT_BASE),
            validation_file_sha256=self._dataset(model.name, "v4", "validation", NEXT_BASE),
            fine_tuned_model=demo_datasets.fine_tuned_model(NEXT_BASE, model.name, "v4"),
            changelog=f"Same curated set as v3, retrained on {NEXT_BASE}. Expect the same behaviour.",
            reason="Demo data: trained in the team's pipeline, registered with its fine-tuned model",
        )
        self.clock.advance(hours=3)
        services.evaluation_record(
            version=v4,
            actor=engineer,
            suite="golden-v1",
            golden_set_sha256=self.golden,
            baseline_version="v3",
            metrics={"win_rate": 0.61, "refusal_rate": 0.05, "p95_latency_ms": 880, "golden_score": 0.88},
            per_intent={"billing": 0.64, "returns": 0.6, "medical advice": 0.55},
        )

    def _pharmacy_release(self, model: RegisteredModel, engineer, compliance) -> None:
        """In production on gpt-4o-mini, which shuts down on 2027-01-14, with no candidate yet."""
        self.clock.at(last_month(8, 15))
        latest = ModelVersion.objects.filter(model=model).order_by("-id").first()
        promotion = releases.promotion_request(
            version=latest, actor=engineer, target="production", justification="Stock answers refreshed."
        )
        releases.promotion_approve(promotion=promotion, actor=compliance, reason="Gate passed; CAB-9.")

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, role, staff in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "email": f"{username}@example.com"}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                audited_save(user, actor=None, reason="Demo login")
            elif user.is_staff != staff:
                # A database seeded before the executive could log in to the admin.
                user.is_staff = staff
                audited_save(user, actor=None, reason="Demo login: admin access as the demo describes it")
            if not user.groups.filter(name=role).exists():
                user.groups.add(Group.objects.get(name=role))
            users[username] = user
        return users

    def _versions(self, model: RegisteredModel, engineer, *, later_base: str = "") -> None:
        """Each version on its day, trained in the team's pipeline (its fine-tuned model id), evaluated after."""
        _, days = TIMELINE[model.name]
        previous = model.base_model
        for n, day in enumerate(days, start=1):
            label = f"v{n}"
            if ModelVersion.objects.filter(model=model, version=label).exists():
                previous = label
                continue
            self.clock.at(last_month(day, 10 if n > 1 else self.clock.current.hour + 1))
            win = round(0.5 + 0.04 * n, 3)
            base_model = later_base if later_base and n == len(days) else model.base_model
            version = services.version_register(
                model=model,
                actor=engineer,
                version=label,
                training_file_sha256=self._dataset(model.name, label, "training", base_model),
                validation_file_sha256=self._dataset(model.name, label, "validation", base_model),
                base_model=base_model,
                fine_tuned_model=demo_datasets.fine_tuned_model(base_model, model.name, label),
                changelog=CHANGES[(n - 1) % len(CHANGES)],
                reason="Demo data: trained in the team's pipeline, registered with its fine-tuned model",
            )
            self.clock.advance(hours=2)
            services.evaluation_record(
                version=version,
                actor=engineer,
                suite="golden-v1",
                golden_set_sha256=self.golden,
                baseline_version=previous,
                metrics={
                    "win_rate": win,
                    "refusal_rate": 0.03 + 0.01 * n,
                    "p95_latency_ms": 900 + 40 * n,
                    "golden_score": 0.8 + 0.03 * n,
                },
                per_intent={"billing": win + 0.02, "returns": win - 0.03, "medical advice": win - 0.06},
            )
            previous = label
