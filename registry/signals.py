"""What the registry announces to the apps above it (which it must not import)."""

from __future__ import annotations

from django.dispatch import Signal

# A version started serving an environment (a promotion approved, or a rollback), sent inside the
# transaction that recorded it. The risk register listens: a model that moved to an active base
# model no longer carries its runway risk (risks.apps).
deployment_started = Signal()
