"""Model validation as application errors: one place turns Django's ValidationError into a 400."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from core.errors import ValidationFailed


def full_clean(instance, *, message: str = "The record is invalid.", **kwargs) -> None:
    """`instance.full_clean(**kwargs)`, raising ValidationFailed with every field's reasons."""
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationFailed(message, fields=exc.message_dict) from None
