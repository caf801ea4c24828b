"""The default check policy: the severity of every finding code. Compliance keeps edited, versioned
copies in the database; the engine only reads the dict it is given."""

from __future__ import annotations

import copy

BLOCKING, WARNING, INFO = "blocking", "warning", "info"

SEVERITIES: dict[str, str] = {
    # The file as a whole
    "empty_file": BLOCKING,
    "binary_file": BLOCKING,
    "not_jsonl": BLOCKING,
    "file_too_large": BLOCKING,
    # Format, per line (OpenAI's chat fine-tuning format; the cookbook's error names where it has one)
    "line_too_long": BLOCKING,
    "invalid_utf8": BLOCKING,
    "invalid_json": BLOCKING,
    "blank_line": INFO,
    "data_type": BLOCKING,
    "missing_messages_list": BLOCKING,
    "example_unrecognized_key": BLOCKING,
    "message_data_type": BLOCKING,
    "message_missing_key": BLOCKING,
    "message_unrecognized_key": BLOCKING,
    "unrecognized_role": BLOCKING,
    "missing_content": BLOCKING,
    "example_missing_assistant_message": BLOCKING,
    "invalid_weight": BLOCKING,
    "invalid_tool_call": BLOCKING,
    # Size and tokens
    "too_few_examples": BLOCKING,
    "few_examples": WARNING,
    "over_context": WARNING,
    # Quality
    "exact_duplicate": WARNING,
    "near_duplicate": INFO,
    "missing_system": INFO,
    "several_system_prompts": INFO,
    "no_refusals": INFO,
    # Personal data
    "pii_email": WARNING,
    "pii_phone": WARNING,
    "pii_ip": WARNING,
    "pii_iban": BLOCKING,
    "pii_card": BLOCKING,
    # Leakage of golden-set prompts (blocking above `leakage_blocking_above` items, else warning)
    "golden_leak_exact": BLOCKING,
    "golden_leak_near": BLOCKING,
}


def default_policy() -> dict:
    """Version 1 of the policy. `leakage_blocking_above`: leaked items tolerated before leakage
    findings block (0: any leaked golden prompt blocks)."""
    return {
        "version": 1,
        "severities": copy.deepcopy(SEVERITIES),
        "leakage_blocking_above": 0,
        "min_examples": 10,
        "recommended_examples": 50,
    }
