"""Sync benchmark: one tick over 1,000 in-flight jobs of which 100 changed since the last tick.

Runs in-process against the bench database (DATABASE_URL) and the fake servers on loopback,
through the real SDK. Prints the provider calls of the tick and its wall time, with the fakes
answering at once and with 50 ms added to every call (closer to a real network), and writes
them as JSON.

    python bench/sync.py --jobs 1000 --changed 100 --out bench/results/sync.json
    python bench/sync.py --two-providers --jobs 1000 --changed 100 --azure-foreign 300 \
        --out bench/results/sync-two.json

With --two-providers the jobs are split evenly between OpenAI and Azure OpenAI (each fake
on its own port), and the tick's per-provider counters are printed against each provider's
call budget (docs/providers.md): OpenAI ceil(n/100) metadata-filtered pages plus a checkpoint
listing per job that succeeded; Azure at most ceil(n/100) + 1 unfiltered pages, then a
retrieve per in-flight job those pages did not hold, plus the checkpoint listings.
--azure-foreign adds a last tick after that many jobs Fineprint did not start were created on
the Azure resource (newer than Fineprint's, so they fill the first pages): the cap holds and
the jobs pushed back cost retrieves.
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
from providers import fake_azure  # noqa: E402
from providers.fake_openai import Durations, FakeOpenAI, Fault, serve  # noqa: E402
from registry import fine_tuning, services  # noqa: E402
from registry.models import ModelVersion  # noqa: E402

KEY = "sk-bench-sync"
AZURE_KEY = "azure-bench-sync"
BASE = "gpt-4.1-nano-2025-04-14"  # fine-tuned by both providers, no shutdown announced


def prepare(state: FakeOpenAI, jobs: int, *, provider: str = "openai") -> list[str]:
    user, _ = get_user_model().objects.get_or_create(username="bench-sync")
    stamp = int(time.time())
    model = services.model_create(
        actor=user,
        name=f"sync-{provider}-{stamp}",
        display_name="Sync bench",
        purpose="Sync benchmark.",
        base_model=BASE,
        provider=provider,
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
            training_file_sha256=hashlib.sha256(f"{provider}-{stamp}-{n}".encode()).hexdigest(),
        )
        ids.append(job["id"])
    return ids


def change(state: FakeOpenAI, job_ids: list[str], count: int) -> None:
    """Half of `count` jobs start running; the other half finish (those need their checkpoints)."""
    d = state.durations
    with state.lock:
        for n, job_id in enumerate(job_ids[:count]):
            job = state.jobs[job_id]
            # Just into running, or past its end (succeeded).
            elapsed = d.validating + d.queued + 1 if n % 2 == 0 else d.validating + d.queued + d.running + 10
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


def _provider_row(label: str, name: str, part, changed: int) -> dict:
    calls = part.list_calls + part.retrieve_calls + part.checkpoint_calls
    pages = math.ceil(part.in_flight / fine_tuning.PAGE_SIZE)
    # OpenAI: the filtered pages, then one call per changed job at most (a checkpoint listing).
    # Azure: the capped unfiltered pages, a retrieve for each in-flight job they did not hold,
    # and one checkpoint listing per changed job at most.
    list_budget = pages if name == "openai" else pages + 1
    allowed = list_budget + changed + (part.retrieve_calls if name == "azure" else 0)
    return {
        "label": label,
        "provider": name,
        "in_flight": part.in_flight,
        "changed": part.changed,
        "list_calls": part.list_calls,
        "list_budget": list_budget,
        "retrieve_calls": part.retrieve_calls,
        "checkpoint_calls": part.checkpoint_calls,
        "provider_calls": calls,
        "allowed_calls": allowed,
        "seconds": part.seconds,
        "list_target_met": part.list_calls <= list_budget,
        "calls_target_met": calls <= allowed,
    }


def measure_two(label: str, states: dict, job_ids: dict, changed: int) -> dict:
    """One tick over both providers' jobs, after `changed` of them (half on each) changed."""
    for name, state in states.items():
        change(state, job_ids[name], changed // len(states))
        state.requests.clear()
    with audit_source(Source.TASK):
        started = time.perf_counter()
        report = fine_tuning.jobs_sync_tick(budget_seconds=120)
        seconds = time.perf_counter() - started
    rows = [_provider_row(label, name, report.providers[name], changed // len(states)) for name in states]
    return {
        "label": label,
        "in_flight": report.in_flight,
        "changed": report.changed,
        "seconds": round(seconds, 2),
        "providers": rows,
        "notes": report.notes,
        "time_target_met": seconds < 10,
    }


def foreign_jobs(state: FakeOpenAI, count: int) -> None:
    """Jobs on the Azure resource that Fineprint did not start: newer than its own, so listed first."""
    training = state.file_create(filename="other-team.jsonl", purpose="fine-tune", content=b"{}\n")
    for _ in range(count):
        state.job_create({"model": BASE, "training_file": training["id"], "metadata": {"team": "other"}})


def main_two(args) -> None:
    # Jobs stay validating for an hour unless the bench changes them: only the chosen ones change.
    durations = Durations(validating=3600, queued=0.001, running=3600)
    openai_state = FakeOpenAI(api_key=KEY, last_job_day=None, durations=durations)
    azure_state = fake_azure.FakeAzureOpenAI(api_key=AZURE_KEY, durations=durations)
    openai_server, _ = serve(openai_state)
    azure_server, _ = fake_azure.serve(azure_state)
    settings.OPENAI_API_KEY = KEY
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{openai_server.server_port}/v1"
    azure_base = f"http://127.0.0.1:{azure_server.server_port}"
    settings.AZURE_OPENAI_ENDPOINT = settings.AZURE_MANAGEMENT_ENDPOINT = azure_base
    settings.AZURE_OPENAI_API_KEY = AZURE_KEY
    settings.AZURE_OPENAI_USE_ENTRA_ID = False
    settings.AZURE_MANAGEMENT_TOKEN = azure_state.management_token
    settings.AZURE_SUBSCRIPTION_ID = azure_state.subscription_id
    settings.AZURE_RESOURCE_GROUP = azure_state.resource_group
    settings.AZURE_OPENAI_RESOURCE_NAME = azure_state.resource_name
    states = {"openai": openai_state, "azure": azure_state}
    half = args.jobs // 2
    try:
        started = time.perf_counter()
        job_ids = {name: prepare(state, half, provider=name) for name, state in states.items()}
        with audit_source(Source.TASK):
            first = fine_tuning.jobs_sync_tick(budget_seconds=300)  # every job: registered -> validating_files
        print(
            f"prepared {args.jobs} in-flight jobs ({half} on each provider) in {time.perf_counter() - started:.1f} s "
            f"(first tick recorded {first.changed} of them)"
        )
        step = args.changed // 2
        results = [measure_two("fakes answer at once", states, job_ids, args.changed)]
        remaining = {name: ids[step:] for name, ids in job_ids.items()}
        for state in states.values():
            state.inject(Fault(delay=0.05, count=10**6, path=""))
        results.append(measure_two("50 ms added to every call", states, remaining, args.changed))
        if args.azure_foreign:
            for state in states.values():
                state.faults.clear()
            foreign_jobs(azure_state, args.azure_foreign)
            remaining = {name: ids[step:] for name, ids in remaining.items()}
            results.append(
                measure_two(f"{args.azure_foreign} newer Azure jobs not Fineprint's", states, remaining, args.changed)
            )
    finally:
        openai_server.shutdown()
        azure_server.shutdown()
    print(
        f"{'tick':<34} {'provider':<8} {'in flight':>9} {'changed':>7} {'list':>4} {'cap':>4} {'retrieve':>8} "
        f"{'checkpoints':>11} {'calls':>5} {'allowed':>7} {'tick s':>6}"
    )
    for r in results:
        for p in r["providers"]:
            print(
                f"{r['label']:<34} {p['provider']:<8} {p['in_flight']:>9} {p['changed']:>7} {p['list_calls']:>4} "
                f"{p['list_budget']:>4} {p['retrieve_calls']:>8} {p['checkpoint_calls']:>11} {p['provider_calls']:>5} "
                f"{p['allowed_calls']:>7} {r['seconds']:>6}"
            )
    for r in results:
        for p in r["providers"]:
            print(
                f"  {'MET' if p['list_target_met'] and p['calls_target_met'] else 'MISSED':<6} {p['provider']} "
                f"list pages <= {p['list_budget']}, calls <= {p['allowed_calls']} ({r['label']})"
            )
        print(f"  {'MET' if r['time_target_met'] else 'MISSED':<6} tick under 10 s ({r['label']})")
        for note in r["notes"]:
            print(f"  note: {note}")
    if args.out:
        args.out.write_text(
            json.dumps({"jobs": args.jobs, "changed": args.changed, "two_providers": True, "ticks": results}, indent=2)
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--two-providers", action="store_true", help="Split the jobs between OpenAI and Azure.")
    parser.add_argument(
        "--azure-foreign",
        type=int,
        default=0,
        help="With --two-providers: a last tick after "
        "this many jobs Fineprint did not start were created on the Azure resource.",
    )
    args = parser.parse_args()
    if args.two_providers:
        main_two(args)
        return

    # Jobs stay validating for an hour unless the bench changes them: only the chosen ones change.
    state = FakeOpenAI(api_key=KEY, last_job_day=None, durations=Durations(validating=3600, queued=0.001, running=3600))
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
