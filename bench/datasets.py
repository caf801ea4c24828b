"""Dataset pre-check benchmark (issue 13): a generated 100,000-example training file (~150 MB)
checked against a 2,000-item golden set, in a fresh process; wall time and peak RSS.

    python bench/datasets.py [--examples 100000] [--goldens 2000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS, TARGET_RSS_MB = 60, 500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--goldens", type=int, default=2000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts/make_dataset_fixtures.py"), "--bench", str(args.examples),
             "--goldens", str(args.goldens), "--out", tmp],
            check=True,
        )  # fmt: skip
        training, golden = Path(tmp) / "bench-training.jsonl", Path(tmp) / "bench-golden.jsonl"
        # The check runs in its own process so its peak RSS is the check's alone.
        probe = (
            "import json, resource, sys, time\n"
            "from datasets.checks import check_file, golden_fingerprint\n"
            "t0 = time.perf_counter(); g = golden_fingerprint(sys.argv[2]); t1 = time.perf_counter()\n"
            "r = check_file(sys.argv[1], kind='training', base_model='gpt-4o-mini', goldens=[g])\n"
            "t2 = time.perf_counter()\n"
            "print(json.dumps({'golden_s': round(t1 - t0, 2), 'check_s': round(t2 - t1, 2), 'examples': r['examples'],"
            " 'bytes': r['bytes'], 'tokens': r['tokens']['total'], 'leaked_exact': r['leakage']['exact'],"
            " 'leaked_near': r['leakage']['near'], 'counts': r['counts'],"
            " 'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))\n"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", probe, str(training), str(golden)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["process_s"] = round(time.perf_counter() - started, 2)
    figures["met"] = (
        figures["golden_s"] + figures["check_s"] < TARGET_SECONDS and figures["peak_rss_mb"] < TARGET_RSS_MB
    )
    print(
        f"datasets: {figures['examples']:,} examples, {figures['bytes'] / 1e6:.0f} MB, {args.goldens:,} golden items: "
        f"check {figures['check_s']} s (+ golden fingerprint {figures['golden_s']} s), "
        f"peak RSS {figures['peak_rss_mb']} MB "
        f"(targets < {TARGET_SECONDS} s, < {TARGET_RSS_MB} MB: {'met' if figures['met'] else 'NOT met'})"
    )
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
