"""Reads on golden sets: the sets with their latest version, one set's versions, a version's items.

(Beside datasets.selectors, which reads datasets whatever their kind; these read the named,
versioned golden sets and their items.)
"""

from __future__ import annotations

import re

from django.db.models import Count, OuterRef, QuerySet, Subquery

from core.errors import NotFound
from datasets import selectors
from datasets.golden import GOLDEN_SET_NAME, intent_tag
from datasets.models import Dataset, GoldenItem, GoldenSet

# A version number beyond this is no version: the lookup never reaches the database with it.
MAX_VERSION_NUMBER = 2**31 - 1


def golden_set_list() -> QuerySet[GoldenSet]:
    """Golden sets with their number of versions and their latest version's number and SHA-256 (one query)."""
    latest = Dataset.objects.filter(golden_set=OuterRef("pk")).order_by("-golden_version")
    return GoldenSet.objects.select_related("created_by").annotate(
        version_count=Count("versions"),
        latest_version=Subquery(latest.values("golden_version")[:1]),
        latest_sha256=Subquery(latest.values("sha256")[:1]),
    )


def golden_set_get(*, name: str) -> GoldenSet:
    if not re.match(GOLDEN_SET_NAME, name):
        raise NotFound(f"No golden set {name!r}.")
    golden_set = golden_set_list().filter(name=name).first()
    if golden_set is None:
        raise NotFound(f"No golden set {name!r}.")
    return golden_set


def _versions() -> QuerySet[Dataset]:
    return selectors.dataset_list().filter(golden_set__isnull=False).select_related("golden_set")


def golden_versions(*, golden_set: GoldenSet) -> QuerySet[Dataset]:
    """A golden set's versions, oldest first, each with its uploader and latest check (one query)."""
    return _versions().filter(golden_set=golden_set).order_by("golden_version")


def golden_version_get(*, name: str, number: int) -> Dataset:
    """A version of a golden set by name and number, with its latest check (one query)."""
    dataset = None
    if re.match(GOLDEN_SET_NAME, name) and 1 <= number <= MAX_VERSION_NUMBER:
        dataset = _versions().filter(golden_set__name=name, golden_version=number).first()
    if dataset is None:
        raise NotFound(f"Golden set {name} has no version {number}.")
    return dataset


def golden_version_find(*, sha256: str | None = None, name: str | None = None, number: int | None = None):
    """The golden set version with this SHA-256, or this set name and number; None when there is none.

    For writes that cite a version in their body (a side-by-side run): not finding it is their 400.
    """
    queryset = Dataset.objects.select_related("golden_set").filter(golden_set__isnull=False)
    if sha256 is not None:
        return queryset.filter(sha256=sha256).first()
    if name is None or number is None or not 1 <= number <= MAX_VERSION_NUMBER:
        return None
    return queryset.filter(golden_set__name=name, golden_version=number).first()


def golden_item_list(*, dataset: Dataset, intent: str | None = None) -> QuerySet[GoldenItem]:
    """A version's items in file order, optionally only those tagged `intent`."""
    queryset = GoldenItem.objects.filter(dataset=dataset)
    if intent:
        # "|billing|" inside "|billing|returns|": LIKE on every database (a version holds at most GOLDEN_MAX_ITEMS).
        queryset = queryset.filter(intent_tags__contains=intent_tag(intent))
    return queryset
