"""What the check knows about OpenAI base models: their encoding and their training context limit.

Data, not logic: a base model is matched on its longest known prefix, so dated snapshots
(`gpt-4o-mini-2024-07-18`) and fine-tuned names (`ft:gpt-4o-mini-2024-07-18:org::id`) resolve too.
"""

from __future__ import annotations

# (prefix, encoding, training context limit in tokens per example). Limits from OpenAI's
# fine-tuning guide: gpt-3.5-turbo 16,385; gpt-4o, gpt-4o-mini and the gpt-4.1 family 65,536;
# gpt-4-0613 8,192.
BASE_MODELS: tuple[tuple[str, str, int], ...] = (
    ("gpt-3.5-turbo", "cl100k_base", 16_385),
    ("gpt-4o-mini", "o200k_base", 65_536),
    ("gpt-4o", "o200k_base", 65_536),
    ("gpt-4.1-nano", "o200k_base", 65_536),
    ("gpt-4.1-mini", "o200k_base", 65_536),
    ("gpt-4.1", "o200k_base", 65_536),
    ("gpt-4", "cl100k_base", 8_192),
)


class UnknownBaseModel(ValueError):
    """The base model is not one the check can count tokens for."""


def _lookup(base_model: str) -> tuple[str, str, int]:
    name = base_model.strip()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    matches = [row for row in BASE_MODELS if name == row[0] or name.startswith(row[0] + "-")]
    if not matches:
        raise UnknownBaseModel(f"unknown base model {base_model!r}; known: {', '.join(r[0] for r in BASE_MODELS)}")
    return max(matches, key=lambda row: len(row[0]))


def encoding_for(base_model: str) -> str:
    """The tiktoken encoding name of a base model (`cl100k_base` or `o200k_base`)."""
    return _lookup(base_model)[1]


def context_limit(base_model: str) -> int:
    """The most tokens one training example may hold for this base model; longer ones are truncated."""
    return _lookup(base_model)[2]
