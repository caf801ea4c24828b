#!/usr/bin/env python
"""Generate the dataset pre-check fixtures (tests/datasets/fixtures/), deterministically.

    python scripts/make_dataset_fixtures.py [--out DIR]            # the committed fixture set
    python scripts/make_dataset_fixtures.py --bench N --goldens G --out DIR   # the benchmark's files

training.jsonl: 60 clean examples, then one planted defect per line (3 golden prompts leaked
verbatim, 2 paraphrased, PII of each kind, an exact and a near duplicate, every format error
code, an example over gpt-3.5-turbo's context). expected.json lists every planted (line, code).
golden.jsonl: the golden set those prompts come from.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SEED = 13
SYSTEM = "You are the support assistant of a careful bank. Answer briefly and politely."
WORDS = " ".join(
    (
        "account balance transfer statement branch savings deposit interest limit overdraft card payment",
        "mortgage loan rate fee schedule customer service online mobile app login password",
        "reset security alert fraud dispute refund charge merchant currency exchange travel notice",
        "address change letter email notification monthly annual report tax form beneficiary standing",
        "order direct debit cheque clearing weekend holiday opening hours appointment advisor pension",
        "insurance claim policy renewal premium coverage home contents vehicle student graduate business",
        "owner invoice receipt budget plan goal reminder history export download upload document",
        "identity verification selfie passport",
    )
).split()
GLUE = "the a of to and for with on my your please can how what when why is are do does could would".split()  # noqa: SIM905


def sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) if rng.random() < 0.7 else rng.choice(GLUE) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def chat(user: str, assistant: str, system: str | None = SYSTEM) -> dict:
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def golden_prompts(rng: random.Random, n: int) -> list[str]:
    return [sentence(rng, 28) + " " + sentence(rng, 12) for _ in range(n)]


def paraphrase(prompt: str) -> str:
    words = prompt.split()
    for i in (5, 20):  # two single-word edits, far apart: about 60% of word triples survive
        words[i] = "kindly" if words[i] != "kindly" else "gently"
    return " ".join(words)


def fixture_set(out: Path) -> None:
    rng = random.Random(SEED)
    goldens = golden_prompts(rng, 20)
    (out / "golden.jsonl").write_text(
        "".join(
            dumps({"messages": [{"role": "user", "content": g}], "ideal": sentence(rng, 10)}) + "\n" for g in goldens
        )
    )
    lines: list[str] = []
    expected: list[list] = []
    clean: list[dict] = []
    for i in range(60):
        if i % 10 == 3:
            example = chat(sentence(rng, 20), "I'm sorry, but I can't help with that request.")
        else:
            example = chat(sentence(rng, 25), sentence(rng, 60))
        clean.append(example)
        lines.append(dumps(example))

    def plant(line, *codes):
        lines.append(line if isinstance(line, str) else dumps(line))
        expected.extend([len(lines), code] for code in codes)

    for g in goldens[:3]:
        plant(chat(g, sentence(rng, 30)), "golden_leak_exact")
    plant(chat(goldens[2].upper(), sentence(rng, 30)), "golden_leak_exact")  # same prompt after normalisation
    for g in goldens[3:5]:
        plant(chat(paraphrase(g), sentence(rng, 30)), "golden_leak_near")
    plant(chat(sentence(rng, 12) + " Write to me at jane.roe@example.org please.", sentence(rng, 20)), "pii_email")
    plant(chat(sentence(rng, 12) + " Call me on +44 20 7946 0958 tomorrow.", sentence(rng, 20)), "pii_phone")
    plant(chat(sentence(rng, 12) + " My IBAN is DE89 3704 0044 0532 0130 00 thanks.", sentence(rng, 20)), "pii_iban")
    plant(chat(sentence(rng, 12) + " The card is 4111 1111 1111 1111 expiring soon.", sentence(rng, 20)), "pii_card")
    plant(chat(sentence(rng, 12) + " It fails from 203.0.113.42 only.", sentence(rng, 20)), "pii_ip")
    plant(clean[7], "exact_duplicate")
    near = json.loads(dumps(clean[8]))
    near["messages"][2]["content"] = near["messages"][2]["content"].replace(" ", " really ", 1)
    plant(near, "near_duplicate")
    plant('{"messages": [', "invalid_json")
    lines.append("")  # the invalid UTF-8 line is written as bytes below
    expected.append([len(lines), "invalid_utf8"])
    invalid_utf8_line = len(lines)
    plant([1, 2, 3], "data_type")
    plant({"prompt": "hello", "completion": "world"}, "example_unrecognized_key", "missing_messages_list")
    plant({"messages": ["hello", {"role": "assistant", "content": "hi"}]}, "message_data_type")
    plant({"messages": [{"content": "hello"}, {"role": "assistant", "content": "hi"}]}, "message_missing_key")
    plant({"messages": [{"role": "user", "content": "hi", "mood": "ok"}, {"role": "assistant", "content": "hi"}]},
          "message_unrecognized_key")  # fmt: skip
    plant(
        {"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "hi"}]}, "unrecognized_role"
    )
    plant({"messages": [{"role": "user"}, {"role": "assistant", "content": "hi"}]}, "missing_content")
    plant({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}]},
          "example_missing_assistant_message")  # fmt: skip
    plant({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi", "weight": 0.5}]},
          "invalid_weight")  # fmt: skip
    bad_call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{not json"}}
    plant({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [bad_call]}]},
          "invalid_tool_call")  # fmt: skip
    plant("", "blank_line")
    plant(chat(sentence(rng, 20), " ".join(sentence(rng, 40) for _ in range(500))), "over_context")

    data = "\n".join(lines).encode() + b"\n"
    parts = data.split(b"\n")
    parts[invalid_utf8_line - 1] = b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'
    (out / "training.jsonl").write_bytes(b"\n".join(parts))
    (out / "clean.jsonl").write_text("".join(dumps(e) + "\n" for e in clean))
    (out / "expected.json").write_text(
        json.dumps({"training.jsonl": sorted(expected), "clean_lines": 60, "base_model": "gpt-3.5-turbo"}, indent=1)
        + "\n"
    )


def bench_set(out: Path, examples: int, goldens: int) -> None:
    """About 1.5 KB per example (150 MB at 100,000), with a golden set of `goldens` prompts,
    1% of them leaked into the training file."""
    rng = random.Random(SEED)
    prompts = golden_prompts(rng, goldens)
    with open(out / "bench-golden.jsonl", "w") as handle:
        for p in prompts:
            handle.write(dumps({"messages": [{"role": "user", "content": p}]}) + "\n")
    pool = [sentence(rng, 18) for _ in range(5000)]
    with open(out / "bench-training.jsonl", "w") as handle:
        for i in range(examples):
            leaked = i % 100 == 0
            user = prompts[(i // 100) % goldens] if leaked else " ".join(rng.choice(pool) for _ in range(3))
            handle.write(dumps(chat(user, " ".join(rng.choice(pool) for _ in range(9)))) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "tests/datasets/fixtures")
    parser.add_argument("--bench", type=int, help="write the benchmark's files with this many examples instead")
    parser.add_argument("--goldens", type=int, default=2000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.bench:
        bench_set(args.out, args.bench, args.goldens)
    else:
        fixture_set(args.out)


if __name__ == "__main__":
    main()
