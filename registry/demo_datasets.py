"""The demo's data files: training, validation and golden sets generated from a seed, checked like real ones.

`make run` shows data cards and the gate's data rules on real reports, so every demo version is
registered with the SHA-256 of bytes made here, and those bytes go through the dataset check
(datasets.services) while the demo is seeded. Deterministic: the same model and label give the
same bytes, so seeding twice finds the same datasets.
"""

from __future__ import annotations

import hashlib
import json
import random

# Words for prompts and answers: varied enough that no two generated examples are near-duplicates.
_WORDS = [
    "account",
    "balance",
    "refund",
    "order",
    "parcel",
    "delivery",
    "invoice",
    "receipt",
    "warranty",
    "exchange",
    "voucher",
    "store",
    "branch",
    "opening",
    "hours",
    "weekend",
    "holiday",
    "address",
    "courier",
    "tracking",
    "label",
    "return",
    "window",
    "policy",
    "discount",
    "price",
    "subscription",
    "renewal",
    "cancel",
    "upgrade",
    "downgrade",
    "plan",
    "card",
    "payment",
    "charge",
    "statement",
    "dispute",
    "fee",
    "waiver",
    "stock",
    "shelf",
    "pharmacy",
    "prescription",
    "pickup",
    "reminder",
    "appointment",
    "claim",
    "photo",
    "damage",
    "estimate",
    "policyholder",
    "vehicle",
    "repair",
    "garage",
    "deadline",
    "document",
    "form",
    "signature",
    "approval",
    "review",
    "status",
    "update",
    "email",
    "letter",
    "morning",
    "evening",
    "monday",
    "friday",
    "january",
    "march",
    "june",
    "september",
    "december",
    "customer",
    "colleague",
    "manager",
]
_REFUSAL = "I'm sorry, but I can't give medical advice. Please ask a pharmacist or your doctor."


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _example(rng: random.Random, system: str, refusal: bool) -> dict:
    question = " ".join(_sentence(rng, rng.randint(12, 20)) for _ in range(2))
    answer = _REFUSAL if refusal else " ".join(_sentence(rng, rng.randint(14, 24)) for _ in range(3))
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows).encode()


def data_file(model: str, label: str, kind: str, *, examples: int) -> bytes:
    """A clean training or validation file for one demo version (a few refusal exemplars included)."""
    rng = random.Random(f"{model}/{label}/{kind}")
    system = f"You are the {model.replace('-', ' ')}. Answer briefly and politely; never give medical advice."
    return _jsonl([_example(rng, system, refusal=i % 12 == 5) for i in range(examples)])


def golden_file(name: str = "golden-v1", *, items: int = 40) -> bytes:
    """The demo's golden set: items with an id, an intent and the user's turn (none of them in any training file)."""
    rng = random.Random(f"golden/{name}")
    intents = ("billing", "returns", "medical advice")
    return _jsonl(
        [
            {
                "id": f"{name}-{i:03d}",
                "intent": intents[i % len(intents)],
                "messages": [{"role": "user", "content": " ".join(_sentence(rng, 16) for _ in range(2))}],
            }
            for i in range(items)
        ]
    )


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
