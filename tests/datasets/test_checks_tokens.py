"""Token counts: the fast count equals bpe-openai's tiktoken-compatible encode, and hand-checked
figures for OpenAI's cookbook example hold."""

from __future__ import annotations

import json
from pathlib import Path

import bpe_openai
import pytest

from datasets.checks import context_limit, encoding_for
from datasets.checks.report import default_epochs
from datasets.checks.tokens import counter, example_tokens

SAMPLE = [
    "hello world",
    "Fineprint keeps a registry of fine-tuned models.",
    "Ünïcödé, 日本語のテキスト, emoji 🎉 and tabs\tand\nnewlines",
    "def f(x):\n    return x ** 2  # squares",
    "<|endoftext|> is text here, not a special token",
]


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_it_counts_what_the_reference_encoder_counts(encoding):
    reference = bpe_openai.get_encoding(encoding)
    count = counter(encoding)
    lines = (Path(__file__).parent / "fixtures/clean.jsonl").read_text().splitlines()[:20]
    texts = SAMPLE + [m["content"] for line in lines for m in json.loads(line)["messages"]]
    assert [count(t) for t in texts] == [len(reference.encode_ordinary(t)) for t in texts]


def test_it_matches_hand_checked_counts():
    # "hello world" is two tokens in both encodings; tiktoken's cl100k ids are [15339, 1917].
    assert bpe_openai.get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert counter("o200k_base")("hello world") == 2
    # The cookbook's overhead: 3 per message + 3 priming: system "You are helpful." (4) + user "hi" (1)
    # + assistant "hello world" (2), roles 1 token each.
    example = {
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello world"},
        ]
    }
    assert example_tokens(example, counter("cl100k_base")) == (3 + 3 * 3 + 3 + 4 + 1 + 2, 2)


def test_it_maps_base_models_to_encodings_and_limits():
    assert encoding_for("gpt-3.5-turbo-0125") == "cl100k_base"
    assert encoding_for("gpt-4o-mini-2024-07-18") == "o200k_base"
    assert encoding_for("gpt-4.1-2025-04-14") == "o200k_base"
    assert context_limit("gpt-3.5-turbo") == 16_385


@pytest.mark.parametrize(("examples", "epochs"), [(10, 10), (20, 5), (50, 3), (8000, 3), (10_000, 2), (30_000, 1)])
def test_it_computes_openais_default_epochs(examples, epochs):
    assert default_epochs(examples) == epochs
