"""The HTTP side of `make bench`: drives a running Fineprint over HTTP. Standard library only.

Every request opens a new TCP connection (http.client.HTTPConnection), as the
anchor figures were taken; concurrency is threads. Every loop is bounded in
count and in time (--deadline seconds): a phase that runs out of time stops,
says so ("truncated": true) and reports what it measured.

    workload.py register --mode inline|separate --clients 1|8 --models 20 --versions 2000 --prefix P --out F
    workload.py reads --manifest F --calls 500 --label 10k --out F
    workload.py quiet --label L --out F      (background CPU use over 3 s, before a phase)
    workload.py code --label L --out F       (commit and hash of the app's sources)
    workload.py report --results DIR --out F (tables, targets; JSON and Markdown)

BENCH_URL (http://127.0.0.1:PORT) and BENCH_TOKEN come from the environment.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import math
import os
import platform
import random
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

BASE_MODEL = "gpt-3.5-turbo-0125"
HTTP_TIMEOUT = 30.0
INTENTS = ("billing", "returns", "shipping", "account")


# --- HTTP ---------------------------------------------------------------------------------


class Api:
    def __init__(self, base_url: str, token: str):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, float]:
        """One request on a new connection: (status, body, seconds); status 0 on a transport error."""
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=data, headers=self.headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            payload, status = repr(exc).encode(), 0
        finally:
            conn.close()
        return status, payload, time.perf_counter() - started


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(seconds: list[float]) -> dict:
    values = sorted(s * 1000 for s in seconds)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "mean_ms": round(sum(values) / len(values), 2),
        "max_ms": round(values[-1], 2),
    }


def cpu_snapshot() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from /proc/stat; (0, 0) where there is none."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def evaluation(rng: random.Random) -> dict:
    """One evaluation, five metrics; win_rate uniform in [0.3, 0.9]."""
    return {
        "suite": "golden-v1",
        "golden_set_sha256": sha("golden-v1"),
        "baseline_version": BASE_MODEL,
        "metrics": {
            "win_rate": round(rng.uniform(0.3, 0.9), 4),
            "refusal_rate": round(rng.uniform(0.0, 0.1), 4),
            "p95_latency_ms": rng.randint(600, 1500),
            "golden_score": round(rng.uniform(0.6, 0.95), 4),
            "helpfulness_score": round(rng.uniform(0.5, 0.9), 4),
        },
        "per_intent": {intent: round(rng.uniform(0.3, 0.9), 4) for intent in rng.sample(INTENTS, 2)},
    }


# --- Registration ---------------------------------------------------------------------------


def cmd_register(args, api: Api) -> None:
    models = [f"{args.prefix}-{i:02d}" for i in range(1, args.models + 1)]
    for name in models:  # set-up, not timed
        status, payload, _ = api.call(
            "POST",
            "/api/v1/models/",
            {
                "name": name,
                "display_name": f"Bench model {name}",
                "purpose": "Benchmark: answers billing and returns questions.",
                "base_model": BASE_MODEL,
            },
        )
        if status != 201:
            sys.exit(f"register: creating model {name} failed: HTTP {status} {payload[:300]!r}")
    per_model = args.versions // args.models
    # Interleaved, as many teams registering at once would be: v1 of every model, then v2, ...
    items = [(name, n) for n in range(1, per_model + 1) for name in models]
    counter = itertools.count()
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {"register": [], "evaluate": []}
    statuses: Counter = Counter()
    error_samples: list[str] = []
    done = {"versions": 0}
    checked = threading.Event()
    deadline = time.monotonic() + args.deadline
    start_gate = threading.Barrier(args.clients + 1)

    def record(kind: str, status: int, payload: bytes, seconds: float, expected: int) -> bool:
        ok = status == expected
        with lock:
            statuses[f"{kind}:{status}"] += 1
            if ok:
                latencies[kind].append(seconds)
            elif len(error_samples) < 10:
                error_samples.append(f"{kind} HTTP {status}: {payload[:300].decode(errors='replace')}")
        return ok

    def worker(worker_id: int) -> None:
        rng = random.Random(f"{args.prefix}-{worker_id}")
        start_gate.wait()
        while time.monotonic() < deadline:
            index = next(counter)
            if index >= len(items):
                return
            name, n = items[index]
            body = {
                "version": f"v{n}",
                "training_file_sha256": sha(f"{name}/v{n}/train"),
                "validation_file_sha256": sha(f"{name}/v{n}/valid"),
                "changelog": f"Added {n * 10} support chats about refunds. Expect fewer wrong refund promises.",
            }
            if args.mode == "inline":
                body["evaluations"] = [evaluation(rng)]
            status, payload, seconds = api.call("POST", f"/api/v1/models/{name}/versions/", body)
            if not record("register", status, payload, seconds, 201):
                continue
            if not checked.is_set():
                checked.set()
                got = json.loads(payload)
                want = 1 if args.mode == "inline" else 0
                if got.get("version") != f"v{n}" or len(got.get("evaluations", [])) != want:
                    with lock:
                        error_samples.append(f"unexpected registration answer: {payload[:300]!r}")
            if args.mode == "separate":
                path = f"/api/v1/models/{name}/versions/v{n}/evaluations/"
                status, payload, seconds = api.call("POST", path, evaluation(rng))
                if not record("evaluate", status, payload, seconds, 201):
                    continue
            with lock:
                done["versions"] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started, cpu_before, client_cpu_before = time.perf_counter(), cpu_snapshot(), time.process_time()
    for thread in threads:
        thread.join(timeout=args.deadline + HTTP_TIMEOUT + 5)
    wall = time.perf_counter() - started
    cpu_after, client_cpu = cpu_snapshot(), time.process_time() - client_cpu_before
    busy, total = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    requests = sum(statuses.values())
    errors = sum(count for key, count in statuses.items() if not key.endswith(":201"))
    result = {
        "phase": "register",
        "mode": args.mode,
        "clients": args.clients,
        "models": args.models,
        "versions_planned": len(items),
        "versions_ok": done["versions"],
        "requests": requests,
        "errors": errors,
        "statuses": dict(statuses),
        "error_samples": error_samples,
        "wall_s": round(wall, 2),
        "versions_per_s": round(done["versions"] / wall, 1) if wall else None,
        "requests_per_s": round(requests / wall, 1) if wall else None,
        "latency": {kind: latency_summary(values) for kind, values in latencies.items() if values},
        # Machine-wide CPU use during the phase (all cores: server, database and this client).
        "cpu_busy_pct": round(100 * busy / total, 1) if total else None,
        "client_cpu_ms_per_version": round(1000 * client_cpu / done["versions"], 2) if done["versions"] else None,
        "truncated": next(counter) < len(items) and time.monotonic() >= deadline,
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    lat = result["latency"].get("register", {})
    print(
        f"  register {args.mode:8s} clients={args.clients}: {result['versions_ok']}/{len(items)} versions "
        f"in {result['wall_s']} s = {result['versions_per_s']} versions/s; register p50/p95/p99 "
        f"{lat.get('p50_ms')}/{lat.get('p95_ms')}/{lat.get('p99_ms')} ms; errors {errors}; "
        f"CPU busy {result['cpu_busy_pct']}%" + (" (TRUNCATED by deadline)" if result["truncated"] else "")
    )


# --- Reads -------------------------------------------------------------------------------------


# Informational extras (not targets): how the metric filter behaves when few or no versions
# match. The first page then needs a longer scan, and with no match at all the whole table.
RARE_THRESHOLD = 0.895  # ~0.8% of versions (win_rate is uniform in [0.3, 0.9])
NONE_THRESHOLD = 0.95  # no version


def cmd_reads(args, api: Api) -> None:
    manifest = json.loads(Path(args.manifest).read_text())
    models, per_model = manifest["models"], manifest["versions_per_model"]
    rng = random.Random(f"reads-{args.label}")

    def get_version() -> str:
        return f"/api/v1/models/{rng.choice(models)}/versions/v{rng.randint(1, per_model)}/"

    def list_versions() -> str:
        return f"/api/v1/models/{rng.choice(models)}/versions/"

    def filter_versions(threshold: float):
        return lambda: f"/api/v1/versions/?win_rate__gte={threshold}"

    def check(kind: str, threshold: float | None, payload: bytes) -> str | None:
        body = json.loads(payload)
        if kind == "get_version":
            return None if len(body.get("evaluations", [])) == 1 else "version without its evaluation"
        results = body.get("results", [])
        if kind in ("list_model_versions", "filter_win_rate_gte") and len(results) != 50:
            return f"{kind}: expected a full page of 50, got {len(results)}"
        if threshold is not None and not all(
            any(e["metrics"].get("win_rate", 0) >= threshold for e in r["evaluations"]) for r in results
        ):
            return f"filter returned a version without win_rate >= {threshold}"
        return None

    kinds = [
        ("get_version", get_version, None, args.calls),
        ("list_model_versions", list_versions, None, args.calls),
        ("filter_win_rate_gte", filter_versions(0.6), 0.6, args.calls),
        ("filter_rare_extra", filter_versions(RARE_THRESHOLD), RARE_THRESHOLD, args.extra_calls),
        ("filter_none_extra", filter_versions(NONE_THRESHOLD), NONE_THRESHOLD, args.extra_calls),
    ]
    results = {}
    for kind, make_path, threshold, calls in kinds:
        if calls <= 0:
            continue
        for _ in range(args.warmup):  # both workers import lazily and compile URL patterns on first use
            api.call("GET", make_path())
        seconds, statuses, sizes, problems, page_sizes = [], Counter(), [], [], Counter()
        deadline = time.monotonic() + args.deadline
        cpu_before = cpu_snapshot()
        for i in range(calls):
            if time.monotonic() >= deadline:
                break
            status, payload, elapsed = api.call("GET", make_path())
            statuses[status] += 1
            if status == 200:
                seconds.append(elapsed)
                sizes.append(len(payload))
                if i % 50 == 0:
                    if kind != "get_version":
                        page_sizes[len(json.loads(payload).get("results", []))] += 1
                    problem = check(kind, threshold, payload)
                    if problem and len(problems) < 5:
                        problems.append(problem)
            elif len(problems) < 5:
                problems.append(f"HTTP {status}: {payload[:200].decode(errors='replace')}")
        cpu_after = cpu_snapshot()
        busy, total = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
        results[kind] = {
            "path": {
                "get_version": "/api/v1/models/<random model>/versions/<random label>/",
                "list_model_versions": "/api/v1/models/<random model>/versions/",
            }.get(kind, make_path()),
            "calls": sum(statuses.values()),
            "errors": sum(c for s, c in statuses.items() if s != 200),
            "statuses": {str(s): c for s, c in statuses.items()},
            "problems": problems,
            "page_sizes_sampled": {str(k): v for k, v in page_sizes.items()},
            "mean_response_bytes": round(sum(sizes) / len(sizes)) if sizes else None,
            "truncated": sum(statuses.values()) < calls,
            "cpu_busy_pct": round(100 * busy / total, 1) if total else None,
            **latency_summary(seconds),
        }
        r = results[kind]
        print(
            f"  {args.label:>5s} {kind:22s} n={r['n']:4d} p50 {r.get('p50_ms')} ms  p95 {r.get('p95_ms')} ms  "
            f"p99 {r.get('p99_ms')} ms  errors {r['errors']}"
            + ("  PROBLEMS: " + "; ".join(problems) if problems else "")
        )
    out = {
        "phase": "reads",
        "label": args.label,
        "versions_total": manifest["versions_total"],
        "models": len(models),
        "versions_per_model": per_model,
        "results": results,
    }
    Path(args.out).write_text(json.dumps(out, indent=2))


# --- Is the machine quiet? -------------------------------------------------------------------------


def cmd_quiet(args, api: Api | None) -> None:
    """Machine-wide CPU use while nothing of ours runs: other load skews every figure."""
    before = cpu_snapshot()
    time.sleep(args.seconds)
    after = cpu_snapshot()
    busy, total = after[0] - before[0], after[1] - before[1]
    pct = round(100 * busy / total, 1) if total else None
    entry = {"label": args.label, "cpu_busy_pct": pct, "seconds": args.seconds}
    path = Path(args.out)
    log = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*log, entry], indent=2))
    warning = (
        "  WARNING: the machine is busy with something else; figures will be pessimistic" if pct and pct > 10 else ""
    )
    print(f"  background CPU use ({args.label}): {pct}% over {args.seconds} s{warning}")


# --- Which code was measured ---------------------------------------------------------------------------


APP_DIRS = ("config", "core", "registry", "templates")


def cmd_code(args, api: Api | None) -> None:
    """Record the commit and a hash of the app's sources, so figures are tied to the code measured."""

    def git(*argv: str) -> str:
        try:
            return subprocess.run(
                ["git", *argv], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    digest = hashlib.sha256()
    for path in sorted(p for d in APP_DIRS for p in Path(d).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    entry = {
        "label": args.label,
        "commit": git("rev-parse", "HEAD") or None,
        "subject": git("log", "-1", "--format=%s") or None,
        "app_changes_not_committed": bool(git("status", "--porcelain", "--", *APP_DIRS)),
        "app_sources_sha256": digest.hexdigest(),
    }
    path = Path(args.out)
    log = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*log, entry], indent=2))
    changed = log and log[0]["app_sources_sha256"] != entry["app_sources_sha256"]
    print(
        f"  code ({args.label}): commit {str(entry['commit'])[:12]} '{entry['subject']}', "
        f"sources {entry['app_sources_sha256'][:12]}"
        + (" + uncommitted app changes" if entry["app_changes_not_committed"] else "")
        + ("  WARNING: the app's code changed during the run; figures mix versions" if changed else "")
    )


# --- Report --------------------------------------------------------------------------------------


def machine() -> dict:
    info = {"cores": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal")))
        info["ram_gib"] = round(kb / 1024 / 1024, 1)
        info["os"] = next(
            line.split("=", 1)[1].strip('"')
            for line in Path("/etc/os-release").read_text().splitlines()
            if line.startswith("PRETTY_NAME=")
        )
    except (OSError, StopIteration, ValueError):
        pass
    return info


def _fmt(value) -> str:
    return "-" if value is None else f"{value}"


def cmd_report(args, api: Api | None) -> None:
    results_dir = Path(args.results)
    load = lambda name: json.loads((results_dir / name).read_text()) if (results_dir / name).exists() else None  # noqa: E731
    registrations = [load(f"register-{mode}-c{c}.json") for mode in ("inline", "separate") for c in (1, 8)]
    registrations = [r for r in registrations if r]
    reads = {label: load(f"reads-{label}.json") for label in ("10k", "100k")}
    reads = {label: r for label, r in reads.items() if r}
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine() | (load("env.json") or {}),
        "registration": registrations,
        "reads": reads,
        "probes": {label: load(f"probe-{label}.json") for label in ("10k", "100k")},
        "manifests": {label: load(f"manifest-{label}.json") for label in ("10k", "100k")},
        "background_cpu": load("quiet.json"),
        "code": load("code.json"),
        "monthly_report": load("monthly-report.json"),
    }

    lines = []
    code = summary["code"] or []
    if code:
        first = code[0]
        lines += [
            "",
            f"Code measured: commit {first['commit']} ({first['subject']})"
            + (", with uncommitted app changes" if first["app_changes_not_committed"] else ""),
        ]
        if len({c["app_sources_sha256"] for c in code}) > 1:
            lines.append("  WARNING: the app's sources changed during the run: the figures mix code versions.")
    if summary["background_cpu"]:
        lines += ["", "Background CPU use measured before the phases (should be near 0):"]
        lines += [f"  {q['label']}: {q['cpu_busy_pct']}%" for q in summary["background_cpu"]]
    lines += ["", "Registration (2 gunicorn sync workers, new connection per request)"]
    lines.append(
        f"{'mode':10s} {'clients':>7s} {'versions':>9s} {'wall s':>7s} {'ver/s':>7s} {'req/s':>7s} "
        f"{'request':>9s} {'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} {'errors':>6s} {'CPU %':>6s}"
    )
    for r in registrations:
        for kind, lat in r["latency"].items():
            lines.append(
                f"{r['mode']:10s} {r['clients']:7d} {r['versions_ok']:9d} {r['wall_s']:7.2f} "
                f"{r['versions_per_s']:7.1f} {r['requests_per_s']:7.1f} {kind:>9s} {lat['p50_ms']:7.2f} "
                f"{lat['p95_ms']:7.2f} {lat['p99_ms']:7.2f} {r['errors']:6d} {_fmt(r.get('cpu_busy_pct')):>6s}"
                + (" TRUNCATED" if r["truncated"] else "")
            )
    lines += [
        "",
        "Reads (one client, new connection per request; *_extra: selective filters, informational, not targets)",
    ]
    lines.append(
        f"{'versions':>9s} {'call':22s} {'n':>5s} {'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} "
        f"{'errors':>6s}"
    )
    for r in reads.values():
        for kind, s in r["results"].items():
            lines.append(
                f"{r['versions_total']:9d} {kind:22s} {s['n']:5d} {_fmt(s.get('p50_ms')):>7s} "
                f"{_fmt(s.get('p95_ms')):>7s} {_fmt(s.get('p99_ms')):>7s} {_fmt(s.get('max_ms')):>7s} {s['errors']:6d}"
            )

    report = summary["monthly_report"]
    if report:
        lines += [
            "",
            f"Monthly report for {report['period']} ({report['open_risks']} open risks, {report['pages']} pages, "
            f"{report['pdf_bytes']} bytes), {report['runs']} runs",
            f"  build + render: best {report['total_seconds']['best']} s, median {report['total_seconds']['median']} s "
            f"(build {report['build_seconds']['median']} s, render {report['render_seconds']['median']} s)",
            f"  peak RSS {report['peak_rss_mb']} MB (after Django setup: {report['rss_after_django_setup_mb']} MB); "
            f"Python allocations peak {report['tracemalloc_peak_mb']} MB",
        ]

    # Targets from the issue, judged mechanically. A figure that is missing (a phase failed or
    # ran out of time) or a truncated phase counts as missed.
    targets = []

    def target(name: str, value, ok) -> None:
        targets.append((name, value, bool(value is not None and ok(value))))

    def read(label: str, kind: str, q: str):
        r = reads.get(label, {}).get("results", {}).get(kind, {})
        return None if r.get("truncated") or r.get("errors") else r.get(q)

    only_report = os.environ.get("BENCH_ONLY") == "report"
    if not only_report:
        inline8 = next((r for r in registrations if r["mode"] == "inline" and r["clients"] == 8), None)
        rate = inline8["versions_per_s"] if inline8 and not inline8["truncated"] and not inline8["errors"] else None
        target("registrations/s, 8 clients, evaluation inline >= 400", rate, lambda v: v >= 400)
        target("get_version p95 < 4 ms @10k", read("10k", "get_version", "p95_ms"), lambda v: v < 4)
        for kind in ("list_model_versions", "filter_win_rate_gte"):
            target(f"{kind} p95 < 15 ms @10k", read("10k", kind, "p95_ms"), lambda v: v < 15)
            target(f"{kind} p99 < 30 ms @10k", read("10k", kind, "p99_ms"), lambda v: v < 30)
        for kind in ("get_version", "list_model_versions", "filter_win_rate_gte"):
            for q in ("p50_ms", "p95_ms", "p99_ms"):
                small, large = read("10k", kind, q), read("100k", kind, q)
                ratio = round(large / small, 2) if small and large else None
                target(f"{kind} {q[:3]} @100k <= 1.2 x @10k", ratio, lambda v: v <= 1.2)
    target(
        "monthly report (1,000 risks, 200 models, 5,000 versions) < 5 s",
        report["total_seconds"]["median"] if report else None,
        lambda v: v < 5,
    )
    target("monthly report peak RSS < 300 MB", report["peak_rss_mb"] if report else None, lambda v: v < 300)
    summary["targets"] = [{"target": t, "value": v, "met": m} for t, v, m in targets]
    lines += ["", "Targets from the issue"]
    lines += [f"  {'MET   ' if m else 'MISSED'}  {t}: {v}" for t, v, m in targets]
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps(summary, indent=2))
    markdown_path = Path(args.out).with_suffix(".md")
    markdown_path.write_text(markdown(summary))
    print(f"\nJSON: {args.out}\nMarkdown tables for docs/benchmarks.md: {markdown_path}")


def markdown(summary: dict) -> str:
    """The figures as the Markdown tables of docs/benchmarks.md."""
    out = []
    code = (summary.get("code") or [{}])[0]
    out.append(f"Commit measured: `{code.get('commit')}` ({code.get('subject')}).\n")
    out.append(
        "| evaluation | clients | versions | wall s | versions/s | requests/s | request | p50 ms | p95 ms | p99 ms "
        "| errors | CPU busy |"
    )
    out.append("|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|")
    for r in summary["registration"]:
        for kind, lat in r["latency"].items():
            out.append(
                f"| {r['mode']} | {r['clients']} | {r['versions_ok']} | {r['wall_s']} | {r['versions_per_s']} | "
                f"{r['requests_per_s']} | {kind} | {lat['p50_ms']} | {lat['p95_ms']} | {lat['p99_ms']} | "
                f"{r['errors']} | {_fmt(r.get('cpu_busy_pct'))}% |"
            )
    out.append("")
    out.append("| versions in table | call | n | p50 ms | p95 ms | p99 ms | max ms | errors |")
    out.append("|--:|---|--:|--:|--:|--:|--:|--:|")
    for r in summary["reads"].values():
        for kind, x in r["results"].items():
            out.append(
                f"| {r['versions_total']:,} | {kind} (`{x.get('path', '').split('/api/v1')[-1]}`) | {x['n']} | "
                f"{_fmt(x.get('p50_ms'))} | {_fmt(x.get('p95_ms'))} | {_fmt(x.get('p99_ms'))} | "
                f"{_fmt(x.get('max_ms'))} | {x['errors']} |"
            )
    out.append("")
    out.append("| target | measured | met |")
    out.append("|---|--:|---|")
    for t in summary.get("targets", []):
        out.append(f"| {t['target']} | {_fmt(t['value'])} | {'yes' if t['met'] else '**no**'} |")
    probe = (summary.get("probes") or {}).get("100k")
    if probe:
        out.append("")
        out.append("| request | SQL statements (Django's count, incl. BEGIN/COMMIT) |")
        out.append("|---|--:|")
        out += [f"| {name} | {entry['statements']} |" for name, entry in probe.items()]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("register")
    p.add_argument("--mode", choices=["inline", "separate"], required=True)
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--models", type=int, default=20)
    p.add_argument("--versions", type=int, default=2000)
    p.add_argument("--prefix", required=True)
    p.add_argument("--deadline", type=float, default=150)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_register)
    p = sub.add_parser("reads")
    p.add_argument("--manifest", required=True)
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--extra-calls", type=int, default=100, help="for the informational selective filters")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--label", required=True)
    p.add_argument("--deadline", type=float, default=60)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_reads)
    p = sub.add_parser("quiet")
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--label", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_quiet)
    p = sub.add_parser("code")
    p.add_argument("--label", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_code)
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)
    args = parser.parse_args()
    api = None
    if args.command not in ("report", "quiet", "code"):
        api = Api(os.environ["BENCH_URL"], os.environ["BENCH_TOKEN"])
    args.func(args, api)


if __name__ == "__main__":
    main()
