"""The runway of what the registry governs: how long each version and live deployment has left.

A version runs on its fine-tuned model, which shuts down with its base model
unless the provider says otherwise; the provider catalogue (lifecycle) knows
both. Everything here reads the catalogue once per call, whatever the number
of versions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import router
from django.db.models import Q

from core import sqlcache
from core.errors import ModelShutDown, ProviderClosed
from lifecycle.capabilities import capability
from lifecycle.models import ProviderModel
from lifecycle.selectors import Lookup, Runway, catalogue_cached, runway_resolve, runways, runways_as_of
from lifecycle.selectors import today as lifecycle_today
from registry.models import Deployment, Environment, ModelVersion, RegisteredModel


def version_lookup(version: ModelVersion) -> Lookup:
    # The provider it was trained on: a model that moved keeps its earlier versions where they run.
    return Lookup(version.provider, version.base_model, version.fine_tuned_model)


def model_lookup(model: RegisteredModel) -> Lookup:
    return Lookup(model.provider, model.base_model)


def versions_runway(versions: Iterable[ModelVersion], *, on: date | None = None) -> dict[int, Runway]:
    """Each version's runway by its id (versions with their model loaded), in at most one query."""
    versions = list(versions)
    found = runways([version_lookup(v) for v in versions], on=on)
    return {v.pk: found[version_lookup(v)] for v in versions}


def models_runway(models: Iterable[RegisteredModel], *, on: date | None = None) -> dict[int, Runway]:
    """Each model's runway for new versions (its current base model), in at most one query."""
    models = list(models)
    found = runways([model_lookup(m) for m in models], on=on)
    return {m.pk: found[model_lookup(m)] for m in models}


def _base_runway(provider: str, base_model: str, on: date | None) -> Runway:
    """`runways` for one base model: the same entry read and resolved, its SQL compiled once per process.

    Every registration reads it; building the query each time cost more than running it, and
    reading it through a RawQuerySet cost more again (psycopg describes every column for it).
    """
    copied = catalogue_cached()
    if copied is not None:
        return runway_resolve(Lookup(provider, base_model), copied, on=on or lifecycle_today())
    using = router.db_for_read(ProviderModel)
    fields = [field.attname for field in ProviderModel._meta.concrete_fields]
    found = sqlcache.rows(
        "catalogue_entry",
        lambda given_provider, given_model: (
            ProviderModel.objects.filter(provider=given_provider, model_id=given_model).order_by().values_list(*fields)
        ),
        [sqlcache.STR, sqlcache.STR],
        [provider, base_model],
        using=using,
    )
    entries = {(e.provider, e.model_id): e for e in (ProviderModel.from_db(using, fields, row) for row in found)}
    return runway_resolve(Lookup(provider, base_model), entries, on=on or lifecycle_today())


def refuse_shut_down_base(*, provider: str, base_model: str, work: str, on: date | None = None) -> Runway:
    """Raise ModelShutDown when the catalogue says `base_model` has shut down; its runway otherwise."""
    found = _base_runway(provider, base_model, on)
    if found.shut_down:
        replacement = f" Its replacement: {found.replacement}." if found.replacement else ""
        raise ModelShutDown(
            f"Cannot {work}: base model {base_model} shut down on {found.shutdown_date.isoformat()}.{replacement}",
            fields={"base_model": [f"Shut down on {found.shutdown_date.isoformat()}."]},
            extra={"base_model": base_model, "shutdown_date": found.shutdown_date.isoformat()},
        )
    return found


def refuse_closed_provider(*, provider: str, on: date | None = None) -> None:
    """Raise ProviderClosed when the provider accepts no new fine-tuning jobs any more."""
    on = on or lifecycle_today()
    offer = capability(provider)
    if not offer.accepts_jobs_on(on):
        last = offer.last_job_day.isoformat()
        raise ProviderClosed(
            f"{provider} accepts no new fine-tuning jobs after {last}; train on another provider.",
            extra={"provider": provider, "last_job_day": last},
        )


@dataclass(frozen=True)
class LiveDeployment:
    deployment: Deployment
    runway: Runway

    @property
    def sort_key(self) -> tuple:
        days = self.runway.days_left
        return (days is None, days if days is not None else 0, self.deployment.model.name, self.deployment.environment)


def live_deployments(
    *,
    within_days: int | None = None,
    provider: str | None = None,
    model: str | None = None,
    on: date | None = None,
) -> list[LiveDeployment]:
    """Every live deployment (production and canary) with its runway, soonest shutdown first; two queries."""
    queryset = Deployment.objects.filter(ended_at__isnull=True, environment__in=Environment.values).select_related(
        "model", "version", "version__model"
    )
    if provider:
        queryset = queryset.filter(version__provider=provider)
    if model:
        queryset = queryset.filter(model__name=model)
    deployments = list(queryset)
    found = versions_runway([d.version for d in deployments], on=on)
    rows = [LiveDeployment(d, found[d.version_id]) for d in deployments]
    if within_days is not None:
        rows = [r for r in rows if r.runway.days_left is not None and r.runway.days_left <= within_days]
    return sorted(rows, key=lambda r: r.sort_key)


def live_deployments_as_of(*, at) -> list[LiveDeployment]:
    """The deployments live at the instant `at`, with their runway as the catalogue stood then."""
    deployments = list(
        Deployment.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at), started_at__lte=at).select_related(
            "model", "version", "version__model"
        )
    )
    found = runways_as_of([version_lookup(d.version) for d in deployments], at=at)
    rows = [LiveDeployment(d, found[version_lookup(d.version)]) for d in deployments]
    return sorted(rows, key=lambda r: r.sort_key)
