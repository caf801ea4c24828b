"""Token counts with the base model's encoding, offline (bpe-openai embeds cl100k_base and
o200k_base), and the chat overhead of OpenAI's cookbook: 3 tokens per message, 1 more for a
name, 3 to prime the reply."""

from __future__ import annotations

import functools
import json

from bpe_openai import _bindings

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


@functools.cache
def counter(encoding: str):
    """`count(text) -> int` for an encoding; the Rust tokenizer's own count, identical to
    `len(bpe_openai.get_encoding(encoding).encode_ordinary(text))` (tests hold it to that)."""
    tokenizer = _bindings.tokenizer_for_encoding(encoding)
    count = tokenizer.count

    def safe_count(text: str) -> int:
        if not text:
            return 0
        try:
            return count(text)
        except UnicodeEncodeError:  # lone surrogates from a JSON escape
            return count(text.encode("utf-8", "replace").decode("utf-8"))

    return safe_count


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def example_tokens(example: dict, count) -> tuple[int, int]:
    """(total tokens, assistant content tokens) of a well-formed example. Tool calls and tool
    definitions are counted as their compact JSON, an approximation of OpenAI's own rendering."""
    from datasets.checks.chat_format import text_of

    total = REPLY_PRIMING
    assistant = 0
    for message in example["messages"]:
        total += TOKENS_PER_MESSAGE + count(message["role"])
        content = text_of(message.get("content"))
        n = count(content)
        total += n
        if message["role"] == "assistant":
            assistant += n
        if "name" in message and isinstance(message["name"], str):
            total += count(message["name"]) + TOKENS_PER_NAME
        for key in ("tool_calls", "function_call"):
            if message.get(key) is not None:
                total += count(_dumps(message[key]))
        if isinstance(message.get("tool_call_id"), str):
            total += count(message["tool_call_id"])
    for key in ("tools", "functions"):
        if example.get(key):
            total += count(_dumps(example[key]))
    return total, assistant
