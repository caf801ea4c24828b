"""Sync benchmark: one tick over 1,000 in-flight jobs of which 100 changed since the last tick.

Runs in-process against the bench database (DATABASE_URL) and the fake OpenAI
server on loopback, through the real SDK. Prints the provider calls of the
tick and its wall time, with the fake answering at once and with 50 ms added to
every call (closer to a real network), and writes them as JSON.

    python bench/sync.py --jobs 1000 --changed 100 --out bench/results/sync.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402

from core.audit import Source, audit_source  # noqa: E402
from providers.fake_openai import Durations, FakeOpenAI, Fault, serve  # noqa: E402
from registry import fine_tuning, services  # noqa: E402
from registry.models import ModelVersion  # noqa: E402

KEY = "sk-bench-sync"


def prepare(state: FakeOpenAI, jobs: int) -> list[str]:
    user, _ = get_user_model().objects.get_or_create(username="bench-sync")
    stamp = int(time.time())
    model = services.model_create(
        actor=user,
        name=f"sync-{stamp}",
        display_name="Sync bench",
        purpose="Sync benchmark.",
        base_model="gpt-4.1-nano-2025-04-14",
    )
    training = state.file_create(filename="t.jsonl", purpose="fine-tune", content=b"{}\n")
    ids = []
    for n in range(jobs):
        job = state.job_create(
            {
                "model": "gpt-4.1-nano-2025-04-14",
                "training_file": training["id"],
                "metadata": {fine_tuning.METADATA_KEY: settings.FINEPRINT_INSTANCE},
            }
        )
        services.version_register(
            model=model,
            actor=user,
            version=f"v{n}",
            provider_job_id=job["id"],
            changelog="Sync bench.",
            training_file_sha256=hashlib.sha256(f"{stamp}-{n}".encode()).hexdigest(),
        )
        ids.append(job["id"])
    return ids


def change(state: FakeOpenAI, job_ids: list[str], count: int) -> None:
    """Half of `count` jobs start running; the other half finish (those need their checkpoints)."""
    with state.lock:
        for n, job_id in enumerate(job_ids[:count]):
            job = state.jobs[job_id]
            elapsed = 15 if n % 2 == 0 else 1000  # running, or succeeded
            job["_started"] = state.now() - elapsed


def measure(label: str, state: FakeOpenAI, job_ids: list[str], changed: int) -> dict:
    change(state, job_ids, changed)
    state.requests.clear()
    with audit_source(Source.TASK):
        started = time.perf_counter()
        report = fine_tuning.jobs_sync_tick(budget_seconds=120)
        seconds = time.perf_counter() - started
    calls = report.list_calls + report.retrieve_calls + report.checkpoint_calls
    allowed = math.ceil(len(job_ids) / fine_tuning.PAGE_SIZE) + changed
    return {
        "label": label,
        "in_flight": report.in_flight,
        "changed": report.changed,
        "list_calls": report.list_calls,
        "retrieve_calls": report.retrieve_calls,
        "checkpoint_calls": report.checkpoint_calls,
        "provider_calls": calls,
        "allowed_calls": allowed,
        "seconds": round(seconds, 2),
        "calls_target_met": calls <= allowed,
        "time_target_met": seconds < 10,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    state = FakeOpenAI(api_key=KEY, last_job_day=None, durations=Durations(validating=10, queued=0.001, running=100))
    server, _ = serve(state)
    settings.OPENAI_API_KEY = KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        started = time.perf_counter()
        job_ids = prepare(state, args.jobs)
        with audit_source(Source.TASK):
            first = fine_tuning.jobs_sync_tick(budget_seconds=300)  # every job: registered -> validating_files
        print(
            f"prepared {args.jobs} in-flight jobs in {time.perf_counter() - started:.1f} s "
            f"(first tick recorded {first.changed} of them)"
        )
        results = [
            measure("fake answers at once", state, job_ids, args.changed),
        ]
        state.inject(Fault(delay=0.05, count=10**6, path="/v1/"))
        results.append(measure("50 ms added to every call", state, job_ids[args.changed :], args.changed))
    finally:
        server.shutdown()
    in_flight = ModelVersion.objects.filter(provider_job_id__in=job_ids).exclude(job_status__in=("succeeded",)).count()
    print(
        f"{'tick':<28} {'in flight':>9} {'changed':>7} {'list':>5} {'retrieve':>8} {'checkpoints':>11} "
        f"{'calls':>5} {'allowed':>7} {'seconds':>7}"
    )
    for r in results:
        print(
            f"{r['label']:<28} {r['in_flight']:>9} {r['changed']:>7} {r['list_calls']:>5} {r['retrieve_calls']:>8} "
            f"{r['checkpoint_calls']:>11} {r['provider_calls']:>5} {r['allowed_calls']:>7} {r['seconds']:>7}"
        )
    for r in results:
        print(f"  {'MET' if r['calls_target_met'] else 'MISSED':<6} calls <= ceil(jobs/100) + changed ({r['label']})")
        print(f"  {'MET' if r['time_target_met'] else 'MISSED':<6} tick under 10 s ({r['label']})")
    print(f"({in_flight} of the {len(job_ids)} versions still in flight)")
    if args.out:
        args.out.write_text(json.dumps({"jobs": args.jobs, "changed": args.changed, "ticks": results}, indent=2))


if __name__ == "__main__":
    main()
