"""Monthly report benchmark: a register of 1,000 risks, 200 models and 5,000 versions.

    python bench/report.py seed              # into DATABASE_URL (the bench database), six months of records
    python bench/report.py measure --out X   # in a fresh process: build + render last month's report

Seeding writes rows with their history rows (simple-history's bulk_create_with_history,
under a clock set to each month), because the report reads the register as it stood
at the end of the month from history. `measure` times the data builder and the
renderer separately (wall clock, three runs, best and median), then once more under
tracemalloc for the peak of Python allocations; the process's peak RSS (ru_maxrss)
is the memory figure compared with the target, and includes Django itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from simple_history.utils import bulk_create_with_history  # noqa: E402

from core.demo import demo_clock  # noqa: E402
from core.models import ReferenceSequence  # noqa: E402
from lifecycle.models import ProviderModel  # noqa: E402
from registry.models import (  # noqa: E402
    Deployment,
    Environment,
    EvaluationResult,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from reports.builder import data_sha256, report_data  # noqa: E402
from reports.periods import Period  # noqa: E402
from reports.render import pdf_pages, render_pdf  # noqa: E402
from risks.models import (  # noqa: E402
    Acceptance,
    Category,
    Control,
    Incident,
    IncidentExample,
    Risk,
    TreatmentAction,
)

MONTHS = 6
SHA = "a" * 64


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _month_start(period: Period) -> datetime:
    return datetime(period.year, period.month, 1, 9, tzinfo=UTC)


def seed(*, models: int, versions: int, risks: int, target: Period) -> dict:
    rng = random.Random(42)
    user_model = get_user_model()
    people = [user_model.objects.create_user(f"bench-owner-{i}", password=None) for i in range(20)]
    actor = people[0]
    first = target.shift(-(MONTHS - 1))
    started = time.perf_counter()
    with demo_clock(_month_start(first)) as clock:
        registered = bulk_create_with_history(
            [
                RegisteredModel(
                    name=f"bench-model-{i:03d}",
                    display_name=f"Bench model {i}",
                    purpose="Benchmark.",
                    # Five base models that shut down soon after the month (the runway section), one with no date.
                    base_model=f"bench-base-{min(i, 5)}",
                    created_by=actor,
                )
                for i in range(models)
            ],
            RegisteredModel,
            batch_size=500,
            default_user=actor,
            default_change_reason="Benchmark seed",
        )
        registered = list(RegisteredModel.objects.order_by("pk"))
        bulk_create_with_history(
            [
                ProviderModel(
                    provider="openai",
                    model_id=f"bench-base-{i}",
                    kind="base",
                    state="deprecated" if i < 5 else "active",
                    shutdown_date=(_month_start(target) + timedelta(days=40 + i)).date() if i < 5 else None,
                    provider_shutdown_date=(_month_start(target) + timedelta(days=40 + i)).date() if i < 5 else None,
                )
                for i in range(6)
            ],
            ProviderModel,
            default_user=actor,
            default_change_reason="Benchmark seed",
        )
        all_versions = []
        for month in range(MONTHS):
            # Spread evenly, the remainder in the first months: exactly `versions` and `risks` in all.
            per_month = versions // MONTHS + (month < versions % MONTHS)
            clock.at(_month_start(first.shift(month)))
            batch = [
                ModelVersion(
                    model=registered[(len(all_versions) + i) % models],
                    version=f"m{month}-v{i}",
                    base_model=registered[(len(all_versions) + i) % models].base_model,
                    training_file_sha256=SHA,
                    changelog=f"Benchmark version {i} of month {month}: <b>markup</b> & more text to wrap.",
                    status=VersionStatus.EVALUATING,
                    created_by=actor,
                )
                for i in range(per_month)
            ]
            bulk_create_with_history(
                batch, ModelVersion, batch_size=1000, default_user=actor, default_change_reason="Seed"
            )
            saved = list(ModelVersion.objects.filter(version__startswith=f"m{month}-").select_related("model"))
            all_versions += saved
            bulk_create_with_history(
                [
                    EvaluationResult(
                        version=v,
                        suite="golden-v1",
                        golden_set_sha256=SHA,
                        baseline=v.model.base_model,
                        metrics={
                            "win_rate": round(rng.uniform(0.45, 0.75), 3),
                            "refusal_rate": round(rng.uniform(0.01, 0.1), 3),
                            "p95_latency_ms": rng.randint(700, 1400),
                        },
                        ran_by=actor,
                        ran_at=clock.now() + timedelta(days=rng.randint(0, 25)),
                    )
                    for v in saved
                ],
                EvaluationResult,
                batch_size=1000,
                default_user=actor,
                default_change_reason="Seed",
            )
            if month == 0:
                firsts = {}
                for v in saved:
                    firsts.setdefault(v.model_id, v)
                bulk_create_with_history(
                    [
                        Deployment(
                            model_id=model_id,
                            environment=Environment.PRODUCTION,
                            version=v,
                            approved_by=actor,
                            reason="Seed",
                            started_at=clock.now(),
                        )
                        for model_id, v in firsts.items()
                    ],
                    Deployment,
                    default_user=actor,
                    default_change_reason="Seed",
                )
            # The register grows every month.
            share = risks // MONTHS + (month < risks % MONTHS)
            batch = []
            done = Risk.objects.count()
            for i in range(share):
                number = done + i + 1
                il, ii = rng.randint(1, 5), rng.randint(1, 5)
                risk = Risk(
                    reference=f"RISK-{number:04d}",
                    title=f"Benchmark risk {number} <with> markup & text",
                    statement="Cause -> event -> consequence.",
                    category=rng.choice(Category.values),
                    owner=rng.choice(people),
                    inherent_likelihood=il,
                    inherent_impact=ii,
                    residual_likelihood=rng.randint(1, il),
                    residual_impact=rng.randint(1, ii),
                    mitigation="Guards.",
                    status=rng.choice(["open", "open", "in_treatment", "draft", "closed"]),
                    next_review_at=clock.now() + timedelta(days=rng.randint(-60, 200)),
                    created_by=actor,
                )
                risk.rescore()
                batch.append(risk)
            bulk_create_with_history(batch, Risk, batch_size=500, default_user=actor, default_change_reason="Seed")
        ReferenceSequence.objects.update_or_create(prefix="RISK", defaults={"last_number": risks})
        all_risks = list(Risk.objects.order_by("pk"))
        for risk in all_risks:
            risk.registered_models.add(registered[risk.pk % models])
        clock.at(_month_start(target) + timedelta(days=3))
        bulk_create_with_history(
            [
                TreatmentAction(
                    risk=r,
                    action=f"Action for {r.reference}",
                    owner=rng.choice(people),
                    due_on=(_month_start(target) + timedelta(days=rng.randint(-20, 60))).date(),
                    created_by=actor,
                )
                for r in all_risks[::2]
            ],
            TreatmentAction,
            default_user=actor,
            default_change_reason="Seed",
        )
        acceptable = [r for r in all_risks if r.residual_band != "critical" and r.status != "closed"][:100]
        bulk_create_with_history(
            [
                Acceptance(
                    risk=r,
                    accepted_by=actor,
                    authority="Compliance",
                    rationale="Benchmark",
                    accepted_at=clock.now(),
                    expires_at=clock.now() + timedelta(days=rng.randint(20, 120)),
                    residual_score=r.residual_score,
                    residual_band=r.residual_band,
                )
                for r in acceptable
            ],
            Acceptance,
            default_user=actor,
            default_change_reason="Seed",
        )
        bulk_create_with_history(
            [
                Control(
                    reference=f"CTL-{i:04d}",
                    name=f"Control {i}",
                    description="d",
                    breached=i % 5 == 0,
                    breached_since=clock.now() if i % 5 == 0 else None,
                    breach_detail="p95_latency_ms = 1300 above 1000" if i % 5 == 0 else "",
                    created_by=actor,
                )
                for i in range(1, 51)
            ],
            Control,
            default_user=actor,
            default_change_reason="Seed",
        )
        incidents = bulk_create_with_history(
            [
                Incident(
                    reference=f"INC-{i:04d}",
                    title=f"Incident {i}",
                    version=all_versions[-i],
                    reporter=actor,
                    occurred_at=clock.now() - timedelta(days=2),
                    aware_at=clock.now() - timedelta(days=1),
                    description="Bad answers.",
                    severity="high",
                    serious=i % 10 == 0,
                    serious_kind="other" if i % 10 == 0 else "",
                    reporting_deadline=clock.now() + timedelta(days=14) if i % 10 == 0 else None,
                )
                for i in range(1, 61)
            ],
            Incident,
            default_user=actor,
            default_change_reason="Seed",
        )
        incidents = list(Incident.objects.all())
        bulk_create_with_history(
            [
                IncidentExample(
                    incident=inc, prompt=f"Prompt {n}", bad_answer="Bad.", expected_answer="Good.", added_by=actor
                )
                for inc in incidents
                for n in range(2)
            ],
            IncidentExample,
            default_user=actor,
            default_change_reason="Seed",
        )
    return {
        "models": RegisteredModel.objects.count(),
        "versions": ModelVersion.objects.count(),
        "risks": Risk.objects.count(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def measure(target: Period, runs: int) -> dict:
    baseline = _rss_mb()
    builds, renders, totals = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        data = report_data(target)
        built = time.perf_counter()
        pdf = render_pdf(data, sha256=data_sha256(data))
        done = time.perf_counter()
        builds.append(built - start)
        renders.append(done - built)
        totals.append(done - start)
    tracemalloc.start()
    data = report_data(target)
    pdf = render_pdf(data, sha256=data_sha256(data))
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "period": str(target),
        "open_risks": data["risks"]["open"],
        "pdf_bytes": len(pdf),
        "pages": pdf_pages(pdf),
        "runs": runs,
        "total_seconds": {"best": round(min(totals), 2), "median": round(statistics.median(totals), 2)},
        "build_seconds": {"best": round(min(builds), 2), "median": round(statistics.median(builds), 2)},
        "render_seconds": {"best": round(min(renders), 2), "median": round(statistics.median(renders), 2)},
        "rss_after_django_setup_mb": round(baseline, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed", "measure"])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--versions", type=int, default=5000)
    parser.add_argument("--risks", type=int, default=1000)
    parser.add_argument("--period", default=str(Period.previous_month()))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    target = Period.parse(args.period)
    if args.command == "seed":
        result = seed(models=args.models, versions=args.versions, risks=args.risks, target=target)
    else:
        result = measure(target, args.runs)
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
