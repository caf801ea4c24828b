"""Each read's latency at the larger size over the same read at the smaller, from a harness result file.

usage: scale_ratio.py RESULT.json   (written by ../shared/bench/registry_workload.py --json-out, phases c and d)
The target (issue 17): every read's p95 at 100,000 versions within 1.2x of its p95 at 10,000.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = 1.2


def reads(result: dict) -> dict[int, dict[str, dict]]:
    """{versions in the registry: {operation: latency figures}} for each read phase."""
    found = {}
    for phase in result["results"]:
        if phase["phase"].split(":")[0] in ("c", "d"):
            found[phase["versions_in_registry"]] = {op: f for op, f in phase["latency"].items() if op != "ALL"}
    return found


def main(path: str) -> int:
    by_size = reads(json.loads(Path(path).read_text()))
    if len(by_size) != 2:
        print(f"scale_ratio: expected two read phases, found {sorted(by_size)}", file=sys.stderr)
        return 1
    small, large = sorted(by_size)
    print(f"| read | p95 ms at {small:,} | p95 ms at {large:,} | ratio | p99 ratio | target <= {TARGET} |")
    print("|---|--:|--:|--:|--:|---|")
    for op, before in by_size[small].items():
        after = by_size[large].get(op)
        if not after or after.get("errors") or before.get("errors") or "p95_ms" not in after:
            print(f"| {op} | errors or missing | | | | not met |")
            continue
        ratio = after["p95_ms"] / before["p95_ms"]
        met = "met" if ratio <= TARGET else "not met"
        p99 = after["p99_ms"] / before["p99_ms"]
        print(f"| {op} | {before['p95_ms']} | {after['p95_ms']} | {ratio:.2f} | {p99:.2f} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
