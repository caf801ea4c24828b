"""What each provider can still do: the last day it accepts new fine-tuning jobs, the bases it fine-tunes.

These are announcements, not something an API reports, so they are settings
with documented defaults (OpenAI: no new jobs after 2027-01-06).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.conf import settings

from lifecycle.models import Provider


@dataclass(frozen=True)
class Capability:
    provider: str
    last_job_day: date | None
    fine_tunes: frozenset[str]

    def accepts_jobs_on(self, day: date) -> bool:
        return self.last_job_day is None or day <= self.last_job_day

    def fine_tunes_model(self, base_model: str) -> bool:
        return base_model in self.fine_tunes


def capability(provider: str) -> Capability:
    if provider == Provider.OPENAI:
        return Capability(
            provider=provider,
            last_job_day=settings.OPENAI_LAST_FINE_TUNING_DAY,
            fine_tunes=frozenset(settings.OPENAI_FINE_TUNABLE_MODELS),
        )
    if provider == Provider.AZURE:
        return Capability(
            provider=provider,
            last_job_day=settings.AZURE_LAST_FINE_TUNING_DAY,
            fine_tunes=frozenset(settings.AZURE_FINE_TUNABLE_MODELS),
        )
    raise ValueError(f"Unknown provider {provider!r}.")
