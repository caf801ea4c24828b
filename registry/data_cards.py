"""Reads of the data a version trains and validates on: the datasets app's checks, by SHA-256.

The registry sits above `datasets` (a dataset is a file, whichever version uses it): this is
the one registry module that reads it. A version's data card, its gate's dataset rules and the
launch's refusal all start from `data_checks`, one query for any number of hashes.

A dataset counts as checked once it has a report (a check finished). Compliance's override of
its blocking findings counts only for the report it was given on: a check run again later
(a new policy, new golden sets) needs a new override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from core import sqlcache
from datasets.models import CheckStatus, Dataset, DatasetCheck, DatasetOverride
from registry.models import EvaluationResult, ModelVersion

ROLES = ("training", "validation")
TOKEN_SUMMARY = ("min", "p50", "p95", "max", "total", "assistant_total", "over_context")


@dataclass(frozen=True)
class Override:
    justification: str
    by: str
    at: datetime


@dataclass(frozen=True)
class DataCheck:
    """What the registry reads of one dataset: its latest report, its check's state, Compliance's override."""

    sha256: str
    kind: str
    report: dict | None
    blocking: int
    warnings: int
    checked_at: datetime | None
    check_status: str | None
    check_progress: int | None
    # The golden sets the latest finished check compared the data against.
    goldens: tuple[str, ...]
    override: Override | None

    @property
    def checked(self) -> bool:
        return self.report is not None

    @property
    def overridden(self) -> bool:
        return self.override is not None and self.blocking > 0

    @property
    def leaked(self) -> int:
        leakage = (self.report or {}).get("leakage") or {}
        return int(leakage.get("exact", 0)) + int(leakage.get("near", 0))

    def blocking_findings(self) -> list[dict]:
        """The blocking findings of the report: code, line and severity (never the excerpt's text alone)."""
        return [
            {"code": f["code"], "line": f.get("line"), "severity": f["severity"], "detail": f.get("detail", "")}
            for f in (self.report or {}).get("findings", [])
            if f.get("severity") == "blocking"
        ]


def _check_rows(*wanted: str) -> QuerySet:
    latest = DatasetCheck.objects.filter(dataset=OuterRef("pk")).order_by("-created_at", "-id")
    finished = latest.filter(status=CheckStatus.DONE)
    override = DatasetOverride.objects.filter(dataset=OuterRef("pk"), report_checked_at=OuterRef("checked_at"))
    override = override.order_by("-created_at", "-id")
    return (
        Dataset.objects.filter(sha256__in=wanted)
        .annotate(
            check_status=Subquery(latest.values("status")[:1]),
            check_progress=Subquery(latest.values("progress")[:1]),
            compared=Subquery(finished.values("goldens")[:1]),
            override_justification=Subquery(override.values("justification")[:1]),
            override_by=Subquery(override.values("created_by__username")[:1]),
            override_at=Subquery(override.values("created_at")[:1]),
        )
        .values(
            "sha256",
            "kind",
            "report",
            "blocking",
            "warnings",
            "checked_at",
            "check_status",
            "check_progress",
            "compared",
            "override_justification",
            "override_by",
            "override_at",
        )
    )


def data_checks(hashes: Iterable[str]) -> dict[str, DataCheck]:
    """The datasets among `hashes` (blank ones ignored), by SHA-256, in one query however many there are."""
    wanted = sorted({h for h in hashes if h})
    if not wanted:
        return {}
    # Its SQL compiled once per number of hashes (core.sqlcache): compiling it cost more than running it.
    # A lookup by a unique key: the same plan for any hashes, so planned once per connection.
    rows = sqlcache.rows(
        ("data_checks", len(wanted)), _check_rows, [sqlcache.STR] * len(wanted), wanted, server_prepared=True
    )
    found = {}
    for row in rows:
        override_found = row["override_at"] is not None
        found[row["sha256"]] = DataCheck(
            sha256=row["sha256"],
            kind=row["kind"],
            report=row["report"],
            blocking=row["blocking"] or 0,
            warnings=row["warnings"] or 0,
            checked_at=row["checked_at"],
            check_status=row["check_status"],
            check_progress=row["check_progress"],
            goldens=tuple(sorted(row["compared"] or [])),
            override=Override(row["override_justification"], row["override_by"], row["override_at"])
            if override_found
            else None,
        )
    return found


@dataclass(frozen=True)
class DataFile:
    """A file a version names (its role, its SHA-256) and its check, if the datasets app has one."""

    role: str
    sha256: str
    check: DataCheck | None

    @property
    def checked(self) -> bool:
        return self.check is not None and self.check.checked


def version_data_files(version: ModelVersion) -> list[DataFile]:
    """The version's training file and, when it names one, its validation file, with their checks (one query)."""
    named = [("training", version.training_file_sha256), ("validation", version.validation_file_sha256)]
    found = data_checks(sha for _, sha in named)
    return [DataFile(role, sha, found.get(sha)) for role, sha in named if sha]


def card_entry(check: DataCheck | None) -> dict | None:
    """One dataset on a data card: what its check measured, and whether Compliance overrode its blocking findings."""
    if check is None or not check.checked:
        return None
    report = check.report
    tokens = report.get("tokens") or {}
    leakage = report.get("leakage") or {}
    override = check.override if check.overridden else None
    return {
        "sha256": check.sha256,
        "examples": report.get("examples"),
        "tokens": {key: tokens.get(key) for key in TOKEN_SUMMARY},
        "cost": report.get("cost"),
        "blocking": check.blocking,
        "warnings": check.warnings,
        "counts": report.get("counts") or {},
        "leakage": {"exact": leakage.get("exact", 0), "near": leakage.get("near", 0), "goldens": list(check.goldens)},
        "checked_at": check.checked_at,
        "overridden": override is not None,
        "override": {"justification": override.justification, "by": override.by, "at": override.at}
        if override
        else None,
    }


def data_card(training: str, validation: str, checks: dict[str, DataCheck]) -> dict | None:
    """The `data_card` block: each of the version's datasets as checked; None when neither has been."""
    card = {
        "training": card_entry(checks.get(training)),
        "validation": card_entry(checks.get(validation)) if validation else None,
    }
    return card if card["training"] or card["validation"] else None


HAS_DATASET = "has_dataset"


def dataset_named() -> Exists:
    """Whether the datasets app has either file a version names: read with the version's row, as HAS_DATASET.

    Without one, the version has no data card: `with_data_cards` asks nothing more for a page of such rows.
    """
    named = Q(sha256=OuterRef("training_file_sha256")) | Q(sha256=OuterRef("validation_file_sha256"))
    return Exists(Dataset.objects.filter(named))


def with_data_cards(rows: list[dict]) -> list[dict]:
    """Attach each row's data card, in one query for the page (none when no row names a dataset: HAS_DATASET)."""
    if not any(row.get(HAS_DATASET, True) for row in rows):
        for row in rows:
            row["data_card"] = None
        return rows
    checks = data_checks(h for row in rows for h in (row["training_file_sha256"], row["validation_file_sha256"]))
    for row in rows:
        row["data_card"] = data_card(row["training_file_sha256"], row["validation_file_sha256"], checks)
    return rows


def goldens_cited_for(sha256: str) -> list[str]:
    """The golden sets the evaluations of every model trained or validated on `sha256` cite (for the check)."""
    model_ids = (
        ModelVersion.objects.filter(training_file_sha256=sha256)
        .values("model_id")
        .union(ModelVersion.objects.filter(validation_file_sha256=sha256).values("model_id"))
    )
    cited = (
        EvaluationResult.objects.filter(version__model_id__in=[row["model_id"] for row in model_ids])
        .values_list("golden_set_sha256", flat=True)
        .distinct()
    )
    return sorted(set(cited))
