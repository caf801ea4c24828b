"""Placeholder: the engine lands in the next commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def check_file(
    path,
    *,
    kind: str,
    base_model: str,
    goldens: Sequence[dict] = (),
    price: dict | None = None,
    policy: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    raise NotImplementedError


def golden_fingerprint(path) -> dict:
    raise NotImplementedError
