"""Model validation as application errors: one place turns Django's ValidationError into a 400."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from core.errors import ValidationFailed


def full_clean(instance, *, message: str = "The record is invalid.", **kwargs) -> None:
    """`instance.full_clean(**kwargs)`, raising ValidationFailed with every field's reasons."""
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationFailed(message, fields=exc.message_dict) from None


# Every SHA-256 Fineprint stores: the data files, golden sets, datasets.
SHA256_PATTERN = r"^[0-9a-f]{64}\Z"  # \Z, not $: $ would accept a trailing newline
sha256_validator = RegexValidator(SHA256_PATTERN, "Must be a SHA-256: exactly 64 lowercase hexadecimal characters.")
