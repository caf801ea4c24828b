"""Golden set files: what an item is, and how a version's JSONL is read into items (no Django models here).

One item per line:

    {"id": "billing-001", "intents": ["billing"], "messages": [{"role": "user", "content": "..."}],
     "reference": "an optional reference answer"}

`id` is a string (or a whole number, read as its digits), unique in the file. `intents` is a
non-empty list of tags (or `intent`, one tag). The prompt is `messages` with at least one user turn,
or a `prompt` / `input` / `question` string, as the dataset check's golden fingerprint reads it: the
item's `prompt_hash` is the hash that fingerprint keeps for it. Other keys are ignored. Blank lines
are skipped. Every problem is reported by its line number; a file with any is refused whole.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.core.validators import RegexValidator

from datasets.checks import text
from datasets.checks.chat_format import text_of

GOLDEN_SET_NAME = r"^[a-z0-9][a-z0-9._-]{0,99}\Z"
golden_set_name_validator = RegexValidator(
    GOLDEN_SET_NAME, "Lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (at most 100)."
)
MAX_ITEM_ID = 200
MAX_INTENTS_PER_ITEM = 20
MAX_INTENT = 64  # as an evaluation's per-intent tags (registry.metrics)
MAX_INTENTS = 200  # distinct intents in a version: an evaluation's per-intent breakdown holds at most 200
MAX_PROBLEMS_SHOWN = 20
INTENT_SEPARATOR = "|"


@dataclass(frozen=True)
class ParsedItem:
    item_id: str
    position: int
    intents: list[str]
    prompt_hash: str
    messages: list[dict]
    reference: str


@dataclass
class ParsedGolden:
    items: list[ParsedItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def problem(self, line: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_SHOWN:
            self.problems.append(f"line {line}: {message}")

    @property
    def intent_counts(self) -> dict[str, int]:
        counts = Counter(intent for item in self.items for intent in item.intents)
        return dict(sorted(counts.items()))


def intent_errors(intent) -> str | None:
    if not isinstance(intent, str):
        return "an intent tag is a string"
    if not 1 <= len(intent) <= MAX_INTENT or not intent.isprintable() or intent != intent.strip():
        return f"intent tags are 1 to {MAX_INTENT} printable characters without surrounding spaces ({intent!r})"
    if INTENT_SEPARATOR in intent:
        # GoldenItem.intent_tags joins the tags with it: "a|b" would match a filter on "a".
        return f"an intent tag may not contain {INTENT_SEPARATOR!r} ({intent!r})"
    return None


def intent_tags(intents: list[str]) -> str:
    """The tags joined for filtering by one of them with LIKE: ["billing", "returns"] -> "|billing|returns|"."""
    return INTENT_SEPARATOR + INTENT_SEPARATOR.join(intents) + INTENT_SEPARATOR


def intent_tag(intent: str) -> str:
    """What intent_tags() holds for an item tagged `intent` (the filter's LIKE '%|billing|%')."""
    return INTENT_SEPARATOR + intent + INTENT_SEPARATOR


def _item_id(value) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and 1 <= len(value) <= MAX_ITEM_ID and value == value.strip() and value.isprintable():
        return value
    return None


def _messages(obj: dict) -> list[dict] | None:
    """The item's turns: its `messages`, or one user turn from `prompt`/`input`/`question`; None if it has none."""
    if isinstance(obj.get("messages"), list):
        turns = [m for m in obj["messages"] if isinstance(m, dict) and isinstance(m.get("role"), str)]
        if any(m["role"] == "user" and text_of(m.get("content")).strip() for m in turns):
            return [{"role": m["role"], "content": text_of(m.get("content"))} for m in turns]
        return None
    prompt = next((obj[k] for k in ("prompt", "input", "question") if isinstance(obj.get(k), str)), None)
    if prompt is None or not prompt.strip():
        return None
    return [{"role": "user", "content": prompt}]


def prompt_hash(messages: list[dict]) -> str:
    """The hash the golden fingerprint keeps for an item (datasets.checks.report.golden_fingerprint)."""
    users = [m["content"] for m in messages if m["role"] == "user"]
    return text.text_hash(" ".join(text.normalise(u) for u in users))


def golden_parse(path: Path, *, max_items: int) -> ParsedGolden:
    """Read a golden set file into items, or the problems that refuse it (each with its line number)."""
    parsed = ParsedGolden()
    seen: dict[str, int] = {}
    position = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                parsed.problem(number, "not UTF-8")
                continue
            except (ValueError, RecursionError):
                parsed.problem(number, "not a JSON object")
                continue
            if not isinstance(obj, dict):
                parsed.problem(number, "not a JSON object")
                continue
            item_id = _item_id(obj.get("id"))
            if item_id is None:
                parsed.problem(number, f"no id (a string of 1 to {MAX_ITEM_ID} printable characters, or a number)")
                continue
            if item_id in seen:
                parsed.problem(number, f"item {item_id!r} again (first on line {seen[item_id]})")
                continue
            seen[item_id] = number
            intents = obj.get("intents", [obj["intent"]] if "intent" in obj else None)
            if not isinstance(intents, list) or not intents:
                parsed.problem(number, f"item {item_id!r} has no intents (a non-empty list of tags)")
                continue
            if len(intents) > MAX_INTENTS_PER_ITEM:
                parsed.problem(number, f"item {item_id!r} has more than {MAX_INTENTS_PER_ITEM} intents")
                continue
            bad = next((e for e in map(intent_errors, intents) if e), None)
            if bad:
                parsed.problem(number, f"item {item_id!r}: {bad}")
                continue
            messages = _messages(obj)
            if messages is None:
                parsed.problem(number, f"item {item_id!r} has no user turn (messages, or prompt/input/question)")
                continue
            reference = obj.get("reference", "")
            if not isinstance(reference, str):
                parsed.problem(number, f"item {item_id!r}: reference is a string")
                continue
            if len(parsed.items) >= max_items:
                parsed.problem(number, f"more than {max_items} items (GOLDEN_MAX_ITEMS)")
                break
            parsed.items.append(
                ParsedItem(
                    item_id=item_id,
                    position=position,
                    intents=sorted(set(intents)),
                    prompt_hash=prompt_hash(messages),
                    messages=messages,
                    reference=reference,
                )
            )
            position += 1
    if not parsed.items and not parsed.problem_count:
        parsed.problem(1, "no items: the file is empty")
    if len(parsed.intent_counts) > MAX_INTENTS:
        parsed.problem(1, f"{len(parsed.intent_counts)} distinct intents; at most {MAX_INTENTS}")
    return parsed
