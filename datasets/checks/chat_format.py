"""OpenAI's chat fine-tuning format, one example (one JSON line) at a time. Error codes follow
OpenAI's cookbook ("Data preparation and analysis for chat model fine-tuning") where it names them."""

from __future__ import annotations

import json

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
EXAMPLE_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}
)
CONTENT_PART_TYPES = frozenset({"text", "image_url"})


def _content_ok(content) -> bool:
    if isinstance(content, str):
        return True
    if isinstance(content, list) and content:
        return all(
            isinstance(part, dict)
            and part.get("type") in CONTENT_PART_TYPES
            and (part.get("type") != "text" or isinstance(part.get("text"), str))
            for part in content
        )
    return False


def _tool_call_error(calls) -> str | None:
    if not isinstance(calls, list) or not calls:
        return "tool_calls is not a non-empty list"
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) or call.get("type") != "function":
            return "a tool call needs an id and type 'function'"
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            return "a tool call needs function.name"
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            return "function.arguments must be a JSON string"
        try:
            json.loads(arguments)
        except ValueError:
            return "function.arguments is not valid JSON"
    return None


def validate(example) -> list[tuple[str, str, int | None]]:
    """Format errors of one parsed JSON line as (code, detail, message index or None)."""
    if not isinstance(example, dict):
        return [("data_type", f"the line is a JSON {type(example).__name__}, not an object", None)]
    errors: list[tuple[str, str, int | None]] = []
    extra = sorted(set(example) - EXAMPLE_KEYS)
    if extra:
        errors.append(("example_unrecognized_key", f"unknown keys: {', '.join(extra[:5])}", None))
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        errors.append(("missing_messages_list", "no non-empty 'messages' list", None))
        return errors
    has_assistant = False
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            errors.append(("message_data_type", "a message is not an object", i))
            continue
        if "role" not in message:
            errors.append(("message_missing_key", "a message has no 'role'", i))
            continue
        unknown = sorted(set(message) - MESSAGE_KEYS)
        if unknown:
            errors.append(("message_unrecognized_key", f"unknown message keys: {', '.join(unknown[:5])}", i))
        role = message["role"]
        if role not in ROLES:
            errors.append(("unrecognized_role", f"role {str(role)[:20]!r} is not one of {', '.join(sorted(ROLES))}", i))
            continue
        content = message.get("content")
        if role == "assistant":
            has_assistant = True
            calls = message.get("tool_calls")
            if calls is not None:
                problem = _tool_call_error(calls)
                if problem:
                    errors.append(("invalid_tool_call", problem, i))
            if content is None and calls is None and message.get("function_call") is None:
                errors.append(("missing_content", "an assistant message has neither content nor tool calls", i))
            elif content is not None and not _content_ok(content):
                errors.append(("missing_content", "assistant content is not text", i))
        elif not _content_ok(content):
            errors.append(("missing_content", f"a {role} message has no text content", i))
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            errors.append(("invalid_tool_call", "a tool message has no tool_call_id", i))
        if "weight" in message and (
            role != "assistant" or message["weight"] not in (0, 1) or isinstance(message["weight"], bool)
        ):
            errors.append(("invalid_weight", "weight must be 0 or 1, on assistant messages only", i))
    if not has_assistant:
        errors.append(("example_missing_assistant_message", "no assistant message", None))
    return errors


def text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""
