"""Reads on datasets: lists, one dataset with its latest check, the price and policy in force, goldens."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery

from core.errors import NotFound
from datasets.checks import default_policy
from datasets.models import CheckPolicy, Dataset, DatasetCheck, DatasetKind, DatasetOverride, PriceRow

# The version the built-in default policy is reported as when Compliance has written none.
DEFAULT_POLICY_VERSION = 0


def dataset_file_path(*, sha256: str) -> Path:
    """Where a dataset's bytes wait for their check (and stay, with DATASET_KEEP_FILES)."""
    return Path(settings.DATASET_STORAGE) / f"{sha256}.jsonl"


def _with_latest_check(queryset: QuerySet[Dataset]) -> QuerySet[Dataset]:
    latest = DatasetCheck.objects.filter(dataset=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.select_related("uploaded_by").annotate(
        check_id=Subquery(latest.values("id")[:1]),
        check_status=Subquery(latest.values("status")[:1]),
        check_progress=Subquery(latest.values("progress")[:1]),
    )


def dataset_list(*, kind: str | None = None, base_model: str | None = None) -> QuerySet[Dataset]:
    """Datasets newest first, each with its latest check's status and progress (one query a page)."""
    queryset = Dataset.objects.all()
    if kind:
        queryset = queryset.filter(kind=kind)
    if base_model:
        queryset = queryset.filter(base_model=base_model)
    return _with_latest_check(queryset)


def dataset_get(*, sha256: str) -> Dataset:
    dataset = _with_latest_check(Dataset.objects.filter(sha256=sha256)).first()
    if dataset is None:
        raise NotFound(f"No dataset with SHA-256 {sha256}.")
    return dataset


def dataset_latest_check(*, dataset: Dataset) -> DatasetCheck | None:
    return dataset.checks.order_by("-created_at", "-id").first()


def dataset_override_latest(*, dataset: Dataset) -> DatasetOverride | None:
    """The latest Compliance override of a dataset's blocking findings, if any (the launch check reads it)."""
    return dataset.overrides.select_related("created_by").order_by("-created_at", "-id").first()


def price_in_force(*, base_model: str, on: date, provider: str = "openai") -> PriceRow | None:
    """The price row for `base_model` on `on`: its longest matching prefix, latest effective_from."""
    name = base_model.split(":", 2)[1] if base_model.startswith("ft:") else base_model
    rows = PriceRow.objects.filter(provider=provider, effective_from__lte=on).order_by("base_model", "-effective_from")
    best: PriceRow | None = None
    for row in rows:
        if (name == row.base_model or name.startswith(row.base_model + "-")) and (
            best is None or len(row.base_model) > len(best.base_model)
        ):
            best = row  # rows of one base model come latest first: the first seen is in force
    return best


def price_as_dict(row: PriceRow | None) -> dict | None:
    """The price as the report keeps it (plain JSON)."""
    if row is None:
        return None
    return {
        "id": row.pk,
        "provider": row.provider,
        "base_model": row.base_model,
        # The engine's key (datasets.checks), so the report's dollar figure uses this row.
        "usd_per_1m_training_tokens": str(row.usd_per_million_training_tokens),
        "effective_from": row.effective_from.isoformat(),
        "source": row.source,
    }


def policy_latest() -> CheckPolicy | None:
    return CheckPolicy.objects.order_by("-version").first()


def policy_in_force() -> dict:
    """The policy the check applies: Compliance's latest version, or the built-in default (version 0)."""
    row = policy_latest()
    if row is None:
        return {**default_policy(), "version": DEFAULT_POLICY_VERSION}
    return {**row.rules, "version": row.version}


# Who knows which golden sets a dataset's models are judged on: the registry, which sits above this
# app and registers its answer at start-up (registry.apps), so datasets never imports it.
_GOLDEN_SOURCES: list[Callable[[str], Iterable[str]]] = []


def register_golden_source(source: Callable[[str], Iterable[str]]) -> None:
    if source not in _GOLDEN_SOURCES:
        _GOLDEN_SOURCES.append(source)


def goldens_cited(*, sha256: str) -> list[str]:
    """The golden sets cited by the evaluations of every model trained or validated on `sha256`."""
    return sorted({cited for source in _GOLDEN_SOURCES for cited in source(sha256)})


def golden_fingerprints(*, sha256s: list[str]) -> list[dict]:
    """The fingerprints of those of `sha256s` that are checked golden sets, in sha256 order."""
    rows = Dataset.objects.filter(sha256__in=sha256s, kind=DatasetKind.GOLDEN, fingerprint__isnull=False).order_by(
        "sha256"
    )
    return [{**row.fingerprint, "sha256": row.sha256} for row in rows]
