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


# The support assistant's golden set for side-by-side runs (sbs.demo): intent -> items tagged with
# it alone. "medical advice" is deliberately thin: too few items to judge that intent on its own.
SUPPORT_GOLDEN_INTENTS = {"billing": 80, "returns": 75, "delivery": 70, "account": 63, "medical advice": 12}
# This many billing items also concern a return (a refund on an invoice): tagged with both intents.
SUPPORT_GOLDEN_BILLING_AND_RETURNS = 20
_LEADS = {
    "billing": "About my invoice:",
    "returns": "About returning an order:",
    "delivery": "About my delivery:",
    "account": "About my account:",
    "medical advice": "A health question:",
}


def support_golden_file(name: str = "support-golden") -> bytes:
    """The golden set `support-golden` v1: 300 items over five intents, one of them thin, with references."""
    rng = random.Random(f"golden/{name}")
    intents = [intent for intent, count in SUPPORT_GOLDEN_INTENTS.items() for _ in range(count)]
    rng.shuffle(intents)
    rows, both = [], 0
    for i, intent in enumerate(intents, start=1):
        tags = [intent]
        if intent == "billing" and both < SUPPORT_GOLDEN_BILLING_AND_RETURNS:
            tags, both = ["billing", "returns"], both + 1
        question = " ".join(_sentence(rng, rng.randint(12, 18)) for _ in range(2))
        reference = _REFUSAL if intent == "medical advice" else _sentence(rng, 18)
        rows.append(
            {
                "id": f"sg-{i:04d}",
                "intents": tags,
                "messages": [{"role": "user", "content": f"{_LEADS[intent]} {question}"}],
                "reference": reference,
            }
        )
    return _jsonl(rows)


def fine_tuned_model(base_model: str, model: str, label: str, *, organisation: str = "acme") -> str:
    """The model id a fine-tune job run outside Fineprint left, named as OpenAI names them.

    The demo's versions were trained in the team's own pipeline and registered with this id
    ("trained elsewhere"): a version in production always names what it serves.
    """
    suffix = sha256(f"{model}/{label}".encode())[:8]
    return f"ft:{base_model}:{organisation}:{model}-{label}:{suffix}"
