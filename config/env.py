"""Typed helpers for reading settings from the environment.

Each helper fails loudly (ImproperlyConfigured) on a value it cannot parse, so a
typo in production configuration stops the process instead of silently falling
back to a development default.
"""

from __future__ import annotations

import math
import os
from datetime import date

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}.")


def env_bool_renamed(name: str, old_name: str, default: bool) -> bool:
    """`env_bool` for a variable once called `old_name`: either name sets it, and if both are set they must agree."""
    value = env_bool(name, default)
    if old_name not in os.environ:
        return value
    old_value = env_bool(old_name, default)
    if name in os.environ and old_value != value:
        raise ImproperlyConfigured(f"{name} and {old_name}, its former name, disagree: set {name} only.")
    return old_value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        parsed = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {parsed}.")
    return parsed


def env_float_or_empty(name: str, default: str, *, minimum: float) -> float | None:
    """A number of at least `minimum`; an empty value means none."""
    value = os.environ.get(name, default).strip()
    if not value:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number or empty, got {value!r}.") from None
    if not (math.isfinite(parsed) and parsed >= minimum):
        raise ImproperlyConfigured(f"{name} must be >= {minimum} or empty, got {value!r}.")
    return parsed


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_date(name: str, default: str) -> date | None:
    """A YYYY-MM-DD date; an empty value means none."""
    value = os.environ.get(name, default).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a date (YYYY-MM-DD) or empty, got {value!r}.") from None
