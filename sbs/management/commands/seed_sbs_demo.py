"""Side-by-side demo data, after seed_demo: a golden set, two runs against production, a pending promotion.

The support assistant's story, late last month (core.demo): its team uploads the golden set
`support-golden` v1 (300 items, five intents; "medical advice" has 12), Compliance moves the
model's gate to side-by-side evidence (win rates judged on their lower bound, 30 comparisons per
intent, a human pass), v4 (v3 retrained on the next base model) is compared with production v3
and comes out even, and a new candidate trained with delivery and account chats wins 60% of the
items against v3, judged by a model with a 12% human pass. Its promotion waits for Compliance:
the point estimate clears 0.55, the interval's lower bound does not.

Lives in the sbs app because the registry's seed_demo cannot import it. Safe to run twice: every
step looks for what it made before.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.audit import Source, audit_source
from core.demo import demo_clock, last_month
from datasets import services as dataset_services
from datasets.models import Dataset, GoldenItem
from registry import demo_datasets, gates, releases, services
from registry.models import ModelVersion, Promotion, RegisteredModel
from sbs import demo
from sbs.models import SbsRun
from sbs.services import sbs_run_create

MODEL = "support-assistant"
GOLDEN_SET = "support-golden"
JUDGE = "gpt-4.1-judge"
BASE = "gpt-4.1-nano-2025-04-14"  # seed_demo's NEXT_BASE: the support assistant's new versions train on it
CANDIDATE_CHANGELOG = (
    "Added 400 delivery and account chats from the help desk, retrained on gpt-4.1-nano. "
    "Expect better delivery-status and password-reset answers."
)
GATE_REASON = (
    "Win rates now come from side-by-side verdicts on support-golden. A release needs its win rate's "
    "95% lower bound at 0.55 or more over at least 100 items, so a lucky small sample cannot pass; "
    "every intent needs 30 comparisons and a lower bound of 0.5, so a strong intent cannot hide a weak "
    "one; a tenth of the items rated by humans, and the model judge agreeing with them (kappa 0.4), so "
    "the judge is checked."
)
GATE_RULES = [
    {"metric": "win_rate", "min": 0.55, "bound": "lower_ci", "min_n": 100},
    {"metric": "win_rate", "per_intent": True, "min": 0.5, "bound": "lower_ci", "min_n": 30},
    {"metric": "human_rated_share", "min": 0.1},
    {"metric": "judge_human_kappa", "min": 0.4},
    {"metric": "refusal_rate", "min": 0.02, "max": 0.08},
    {"metric": "p95_latency_ms", "max": 1200},
    {"metric": "dataset_check"},
    {"metric": "golden_leakage", "max": 0},
]
# Per intent, the odds of (win, tie, loss) against v3.
EVEN = demo.Profile(
    odds={
        "billing": (0.38, 0.22, 0.40),
        "returns": (0.36, 0.26, 0.38),
        "delivery": (0.40, 0.20, 0.40),
        "account": (0.37, 0.24, 0.39),
        "medical advice": (0.30, 0.40, 0.30),
    }
)
BETTER = demo.Profile(
    odds={
        "billing": (0.62, 0.10, 0.28),
        "returns": (0.55, 0.12, 0.33),
        "delivery": (0.50, 0.12, 0.38),
        "account": (0.48, 0.12, 0.40),
        "medical advice": (0.55, 0.10, 0.35),
    }
)


class Command(BaseCommand):
    help = "Create the side-by-side demo: a golden set, two runs against production and a pending promotion."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo data: run with DEBUG=1, or --force.")
        model = RegisteredModel.objects.filter(name=MODEL).first()
        users = {u.username: u for u in get_user_model().objects.filter(username__in=("engineer", "compliance"))}
        if model is None or len(users) != 2:
            raise CommandError(f"Run seed_demo first: it creates {MODEL} and the demo users.")
        self.engineer, self.compliance = users["engineer"], users["compliance"]
        with audit_source(Source.COMMAND), transaction.atomic(), demo_clock(last_month(27, 8)) as clock:
            golden = self._golden()
            clock.at(last_month(27, 9))
            self._gate_policy(model)
            production = ModelVersion.objects.get(model=model, version="v3")
            v4 = ModelVersion.objects.get(model=model, version="v4")
            clock.at(last_month(27, 10))
            self._run(v4, golden, baseline=production.version, profile=EVEN)
            self._recheck(v4, golden)
            clock.at(last_month(27, 15))
            candidate = self._candidate(model, golden)
            clock.at(last_month(27, 17))
            self._evaluate(candidate, golden)
            clock.at(last_month(28, 10))
            run = self._run(candidate, golden, baseline=production.version, profile=BETTER)
            clock.at(last_month(28, 16))
            self._promotion(candidate, run)
        self.stdout.write(
            f"Side-by-side demo: golden set {GOLDEN_SET} v{golden.golden_version} ({golden.item_count} items); "
            f"{MODEL} {v4.version} and {candidate.version} against {production.version}; "
            f"{candidate.version}'s promotion to production waits for compliance in the admin."
        )

    def _golden(self) -> Dataset:
        """support-golden v1, checked like any golden set (its fingerprint is what leakage is compared with)."""
        content = demo_datasets.support_golden_file(GOLDEN_SET)
        result = dataset_services.golden_version_upload(
            name=GOLDEN_SET,
            upload=SimpleUploadedFile(f"{GOLDEN_SET}.jsonl", content, content_type="application/jsonl"),
            actor=self.engineer,
            description="Help-desk questions by intent, with reference answers; medical advice must be refused.",
        )
        if result.check is not None:
            dataset_services.dataset_check_run(check_id=result.check.pk)
        return Dataset.objects.get(pk=result.dataset.pk)

    def _gate_policy(self, model: RegisteredModel) -> None:
        if not model.gate_policies.filter(reason=GATE_REASON).exists():
            gates.gate_policy_create(model=model, actor=self.compliance, rules=GATE_RULES, reason=GATE_REASON)

    def _run(self, version: ModelVersion, golden: Dataset, *, baseline: str, profile: demo.Profile) -> SbsRun:
        found = SbsRun.objects.filter(version=version, golden=golden, baseline=baseline).first()
        if found is not None:
            return found
        items = list(GoldenItem.objects.filter(dataset=golden).order_by("position").values_list("item_id", "intents"))
        return sbs_run_create(
            version=version,
            actor=self.engineer,
            golden=golden,
            baseline=baseline,
            judge=JUDGE,
            verdicts=demo.verdicts(items, profile=profile, seed=f"{MODEL}/{version.version}/sbs", judge=JUDGE),
            suite=GOLDEN_SET,
        )

    def _recheck(self, version: ModelVersion, golden: Dataset) -> None:
        """v4's data checked again now that its evaluations cite support-golden, as its engineer would:
        the files are not kept after their check, so the same bytes are uploaded again (datasets.services)."""
        for kind in ("training", "validation"):
            content = demo_datasets.data_file(MODEL, version.version, kind, examples=60 if kind == "training" else 15)
            result = dataset_services.dataset_upload(
                upload=SimpleUploadedFile(f"{kind}.jsonl", content, content_type="application/jsonl"),
                kind=kind,
                base_model=version.base_model,
                actor=self.engineer,
                goldens=[golden.sha256],
            )
            if result.check is not None:
                dataset_services.dataset_check_run(check_id=result.check.pk)

    def _candidate(self, model: RegisteredModel, golden: Dataset) -> ModelVersion:
        """The new candidate, on clean checked data, labelled with the next free number (--with-jobs takes some)."""
        files = {
            kind: demo_datasets.data_file(MODEL, "candidate", kind, examples=60 if kind == "training" else 15)
            for kind in ("training", "validation")
        }
        shas = {kind: demo_datasets.sha256(content) for kind, content in files.items()}
        found = ModelVersion.objects.filter(model=model, training_file_sha256=shas["training"]).first()
        if found is not None:
            return found
        for kind, content in files.items():
            result = dataset_services.dataset_upload(
                upload=SimpleUploadedFile(f"{kind}.jsonl", content, content_type="application/jsonl"),
                kind=kind,
                base_model=BASE,
                actor=self.engineer,
                goldens=[demo_datasets.sha256(demo_datasets.golden_file()), golden.sha256],
            )
            if result.check is not None:
                dataset_services.dataset_check_run(check_id=result.check.pk)
        numbers = [int(v[1:]) for v in model.versions.values_list("version", flat=True) if v[1:].isdigit()]
        label = f"v{max(numbers) + 1}"
        return services.version_register(
            model=model,
            actor=self.engineer,
            version=label,
            training_file_sha256=shas["training"],
            validation_file_sha256=shas["validation"],
            base_model=BASE,
            # Trained in the team's pipeline like last month's versions (seed_demo), not by a job Fineprint ran.
            fine_tuned_model=demo_datasets.fine_tuned_model(BASE, MODEL, label),
            changelog=CANDIDATE_CHANGELOG,
            reason="Demo data: trained in the team's pipeline, registered with its fine-tuned model",
        )

    def _evaluate(self, version: ModelVersion, golden: Dataset) -> None:
        """The candidate's operational checks, run after it was registered: no evaluation predates its version."""
        if version.evaluations.filter(suite="support-golden-ops").exists():
            return
        services.evaluation_record(
            version=version,
            actor=self.engineer,
            suite="support-golden-ops",
            golden_set_sha256=golden.sha256,
            metrics={"refusal_rate": 0.04, "p95_latency_ms": 840, "golden_score": 0.88},
        )

    def _promotion(self, version: ModelVersion, run: SbsRun) -> None:
        if Promotion.objects.filter(version=version).exists():
            return
        overall = run.figures["overall"]
        releases.promotion_request(
            version=version,
            actor=self.engineer,
            target="production",
            justification=(
                f"Delivery and account chats added. Wins {overall['win_rate']:.0%} of {overall['n']} support-golden "
                f"items against v3 (model judge, {run.figures['human_share']:.0%} also rated by people); "
                f"v3's base model gpt-4.1-mini shuts down on 2027-01-14."
            ),
        )
