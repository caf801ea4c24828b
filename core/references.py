"""Human references for governed records: RISK-0042, CTL-0003, INC-0007."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.models import ReferenceSequence


def reference_next(prefix: str, *, width: int = 4) -> str:
    """The next reference for `prefix`; call it inside the transaction that saves the record.

    If that transaction rolls back, so does the increment: no saved record ever
    held the number, and none will share one.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                ReferenceSequence.objects.get_or_create(prefix=prefix)
        except IntegrityError:
            pass  # created by a concurrent caller a moment ago
        sequence = ReferenceSequence.objects.select_for_update().get(prefix=prefix)
        sequence.last_number += 1
        sequence.save(update_fields=["last_number"])
    return f"{prefix}-{sequence.last_number:0{width}d}"
