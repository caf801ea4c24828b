"""Reads of the registry, shaped for the API and the admin."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core import sqlcache
from core.history import history_entries
from lifecycle.selectors import Lookup, Runway, runways
from registry.data_cards import HAS_DATASET, data_checks, dataset_named, with_data_cards
from registry.data_cards import data_card as data_card_block
from registry.metrics import METRIC_NAME
from registry.models import (
    MODEL_NAME_PATTERN,
    VERSION_LABEL_PATTERN,
    Checkpoint,
    EvaluationResult,
    JobStatus,
    ModelVersion,
    Promotion,
    PromotionStatus,
    RegisteredModel,
)
from registry.runway import models_runway, versions_runway

MODEL_NAME = re.compile(MODEL_NAME_PATTERN)
VERSION_LABEL = re.compile(VERSION_LABEL_PATTERN)
METRIC_FILTER = re.compile(r"^(?P<metric>[a-z][a-z0-9_]{0,63})__(?P<op>gte|lte|gt|lt)$")


def _user_columns_unused(relation: str) -> list[str]:
    # Responses show people by username: loading the rest of each user row
    # (dates especially) costs more than the rest of a list page.
    return [
        f"{relation}__{name}"
        for name in (
            "password",
            "last_login",
            "date_joined",
            "first_name",
            "last_name",
            "email",
            "is_superuser",
            "is_staff",
        )
    ]


def model_list() -> QuerySet[RegisteredModel]:
    people = ("business_owner", "technical_owner", "created_by")
    return RegisteredModel.objects.select_related(*people).defer(
        *[column for person in people for column in _user_columns_unused(person)]
    )


def model_get(*, name: str, with_people: bool = True) -> RegisteredModel:
    """A model by name; without its people when the caller only writes under it."""
    if not MODEL_NAME.match(name):
        raise Http404("No such model.")  # nor could there be; and PostgreSQL refuses some characters
    if with_people:
        return get_object_or_404(model_list(), name=name)
    # A registration's first read: its SQL compiled once per process (core.sqlcache), the instance built from it.
    fields = [field.attname for field in RegisteredModel._meta.concrete_fields]
    found = sqlcache.rows(
        "model_by_name",
        lambda given: RegisteredModel.objects.filter(name=given).order_by().values_list(*fields),
        [sqlcache.STR],
        [name],
        server_prepared=True,  # a lookup by a unique key: the same plan for every name
    )
    if not found:
        raise Http404("No RegisteredModel matches the given query.")
    return RegisteredModel.from_db("default", fields, found[0])


def _evaluations() -> QuerySet[EvaluationResult]:
    """Evaluations with who ran them and the side-by-side run behind each (its id; its figures are the evidence)."""
    return (
        EvaluationResult.objects.select_related("ran_by", "sbs_run")
        .defer(*_user_columns_unused("ran_by"), "sbs_run__figures")
        .order_by("-ran_at", "-id")
    )


def evaluation_list(*, version: ModelVersion) -> QuerySet[EvaluationResult]:
    """A version's evaluations, newest first."""
    return _evaluations().filter(version=version)


def _versions() -> QuerySet[ModelVersion]:
    evaluations = _evaluations()
    return (
        ModelVersion.objects.select_related("model", "created_by")
        .defer(*_user_columns_unused("created_by"))
        .prefetch_related(Prefetch("evaluations", queryset=evaluations, to_attr="evaluation_list"))
    )


def version_get(*, model_name: str, version: str, with_evaluations: bool = True) -> ModelVersion:
    """A version by model name and label; without its evaluations when the caller only writes under it."""
    if not MODEL_NAME.match(model_name) or not VERSION_LABEL.match(version):
        raise Http404("No such version.")
    queryset = _versions() if with_evaluations else ModelVersion.objects.select_related("model")
    found = get_object_or_404(queryset, model__name=model_name, version=version)
    if with_evaluations:
        # Checkpoints are recorded when a job succeeds: no query for the versions without.
        has_checkpoints = found.job_status == JobStatus.SUCCEEDED
        found.latest_checkpoint = found.checkpoints.order_by("-step_number").first() if has_checkpoints else None
        found.runway = versions_runway([found])[found.pk]
    return found


def checkpoint_list(*, version: ModelVersion) -> QuerySet[Checkpoint]:
    return version.checkpoints.all()


@dataclass(frozen=True)
class VersionFilters:
    model: str | None = None
    status: str | None = None
    base_model: str | None = None
    dataset_sha256: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # (metric, operator, value): versions with an evaluation whose metrics satisfy them all.
    metrics: tuple[tuple[str, str, float], ...] = ()


def metric_filters_from(params: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Split query parameters into metric thresholds `<metric>__<op>=<value>` and the rest."""
    found, rest = [], []
    for key, value in params.items():
        match = METRIC_FILTER.match(key)
        if match and METRIC_NAME.match(match["metric"]):
            found.append((match["metric"], match["op"], value))
        else:
            rest.append(key)
    return found, rest


SERVING_FIELDS = ("serving_deployment", "serving_deployment_state")
# What a list page reads of each version and evaluation: plain rows, not model
# instances, which cost more to build than the rest of the page (docs/benchmarks.md).
VERSION_COLUMNS = (
    "id",
    "version",
    "provider",
    "base_model",
    "training_file_sha256",
    "validation_file_sha256",
    "training_file_id",
    "validation_file_id",
    "changelog",
    "provider_job_id",
    "fine_tuned_model",
    "status",
    "created_at",
    "updated_at",
    "retired_at",
    *ModelVersion.JOB_FIELDS,
    *SERVING_FIELDS,
)
EVALUATION_COLUMNS = (
    "id",
    "version_id",
    "suite",
    "golden_set_sha256",
    "baseline",
    "metrics",
    "per_intent",
    "ran_at",
    "created_at",
)
# What a list page reads of an evaluation's evidence (a run's figures, which also list every rater):
# the parts the API summarises, extracted by the database. Keys as evaluation_support reads them.
EVIDENCE_PARTS = {
    "overall": "evidence__overall",
    "per_intent": "evidence__per_intent",
    "human_share": "evidence__human_share",
    "judge_human_kappa": "evidence__agreement__judge_human__kappa",
}


def version_list(
    *,
    filters: VersionFilters | None = None,
    model: RegisteredModel | None = None,
    model_id: int | None = None,
    page: sqlcache.Page | None = None,
) -> QuerySet:
    """Versions as rows (dicts), filtered; page them, then `with_evaluations` the page.

    Given the `page` it will be sliced to, a search by metrics alone reads the page's
    versions from the evaluations first (`_page_of_matches`); the rows are the same.
    """
    filters = filters or VersionFilters()
    queryset = ModelVersion.objects.all()
    if model is not None:
        queryset = queryset.filter(model=model)
    if model_id is not None:
        queryset = queryset.filter(model_id=model_id)
    if filters.model:
        queryset = queryset.filter(model__name=filters.model)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.base_model:
        queryset = queryset.filter(base_model=filters.base_model)
    if filters.dataset_sha256:
        queryset = queryset.filter(
            Q(training_file_sha256=filters.dataset_sha256) | Q(validation_file_sha256=filters.dataset_sha256)
        )
    if filters.created_after:
        queryset = queryset.filter(created_at__gte=filters.created_after)
    if filters.created_before:
        queryset = queryset.filter(created_at__lt=filters.created_before)
    if filters.metrics:
        # One evaluation meets every threshold: a range is a range on one run's figure, not two runs'. The
        # conditions go on one evaluation query, so PostgreSQL sees both bounds of
        # `win_rate__gte=0.61&win_rate__lte=0.61` together and estimates the few matches from the expression
        # index's statistics (as two EXISTS it took each bound for half the table). With the metrics alone, the
        # page's ids are read from the matching evaluations (_page_of_matches); with other filters, one EXISTS
        # per version, walked newest first until a page is found (docs/benchmarks.md, "Against MLflow").
        conditions = [Q(**{f"metrics__{metric}__{op}": value}) for metric, op, value in _one_values(filters.metrics)]
        matching = EvaluationResult.objects.filter(*conditions)
        only_metrics = model is None and model_id is None and filters == VersionFilters(metrics=filters.metrics)
        top = _page_of_matches(matching, page) if page is not None and only_metrics else None
        if top is not None:
            queryset = queryset.filter(id__in=top)
        else:
            queryset = queryset.filter(Exists(matching.filter(version=OuterRef("pk"))))
    return queryset.values(
        *VERSION_COLUMNS,
        model_name=F("model__name"),
        created_by_username=F("created_by__username"),
        **{HAS_DATASET: dataset_named()},
    )


def _one_values(metrics: tuple[tuple[str, str, float], ...]) -> tuple[tuple[str, str, float], ...]:
    """The thresholds, with `m__gte=v&m__lte=v` asked as `m = v` (the same evaluations match).

    A range's two bounds leave PostgreSQL free to return the metric's entries in any order; an
    equality fixes the metric, so an index on (metric, version) gives its versions in order and a
    page stops after a page's worth of entries, whatever the table's size (docs/benchmarks.md).
    """
    lower = {metric: value for metric, op, value in metrics if op == "gte"}
    upper = {metric: value for metric, op, value in metrics if op == "lte"}
    equal = {metric for metric in lower.keys() & upper.keys() if float(lower[metric]) == float(upper[metric])}
    if not equal:
        return metrics
    kept = [(metric, op, value) for metric, op, value in metrics if not (metric in equal and op == "lte")]
    return tuple((metric, "exact", value) if metric in equal else (metric, op, value) for metric, op, value in kept)


_PAGE_ORDER = {("-id",): "-version_id", ("id",): "version_id"}
_PAGE_POSITION = {"id__lt": "version_id__lt", "id__gt": "version_id__gt"}


def _page_of_matches(matching: QuerySet, page: sqlcache.Page) -> QuerySet | None:
    """The ids of the versions on `page`, read from the evaluations that match (None: not a page this can read).

    When the metrics are the only filter, a page's versions are the first `page.stop` distinct
    versions, in the page's order past its position, with a matching evaluation. Asked that
    way, PostgreSQL reads a selective metric from its index and sorts the few matches, where
    `EXISTS` made it walk the versions newest first until a page was found: thousands of rows
    for a value one version in forty has (docs/benchmarks.md, "Against MLflow").
    """
    order = _PAGE_ORDER.get(page.ordering)
    if order is None or (page.position is not None and page.position[0] not in _PAGE_POSITION):
        return None
    if page.position is not None:
        lookup, value = page.position
        matching = matching.filter(**{_PAGE_POSITION[lookup]: value})
    return matching.order_by(order).values("version_id").distinct()[: page.stop]


_FILTER_KINDS = {
    "model": sqlcache.STR,
    "status": sqlcache.STR,
    "base_model": sqlcache.STR,
    "dataset_sha256": sqlcache.STR,
    "created_after": sqlcache.DATETIME,
    "created_before": sqlcache.DATETIME,
}


def version_rows(*, filters: VersionFilters | None = None, model_id: int | None = None) -> sqlcache.Paged:
    """`version_list` for a cursor paginator, its SQL compiled once per shape of filters (core.sqlcache)."""
    filters = filters or VersionFilters()
    named = tuple(name for name in _FILTER_KINDS if getattr(filters, name))
    # Equal bounds are one value before the shape is keyed: the statement differs (_one_values).
    thresholds = _one_values(filters.metrics)
    metrics = tuple((metric, op) for metric, op, _ in thresholds)
    kinds = [
        *(_FILTER_KINDS[name] for name in named),
        *(sqlcache.JSON if op == "exact" else sqlcache.FLOAT for _, op in metrics),
    ]
    values = [*(getattr(filters, name) for name in named), *(float(value) for _, _, value in thresholds)]
    if model_id is not None:
        kinds.append(sqlcache.INT)
        values.append(model_id)

    def build(*given, page=None):
        found = iter(given)
        shaped = VersionFilters(
            **{name: next(found) for name in named},
            metrics=tuple((metric, op, next(found)) for metric, op in metrics),
        )
        return version_list(filters=shaped, model_id=next(found) if model_id is not None else None, page=page)

    key = ("versions", named, metrics, model_id is not None)
    # A model's page alone reads the (model, id) index whatever the model: it is planned once per connection.
    # With a filter the best plan depends on the values (how many versions a metric's value matches): not then.
    plan_once = model_id is not None and not named and not metrics
    return sqlcache.Paged(
        key, build, kinds, values, ModelVersion, sees_page=True, timestamps_as_text=True, server_prepared=plan_once
    )


def model_id_get(*, name: str) -> int:
    """A model's id by name (404 when none), for reads under it that need no more of it."""
    if not MODEL_NAME.match(name):
        raise Http404("No such model.")
    found = sqlcache.rows(
        "model_id",
        lambda given: RegisteredModel.objects.filter(name=given).order_by().values_list("id"),
        [sqlcache.STR],
        [name],
        server_prepared=True,  # a lookup by a unique key: the same plan for every name
    )
    if not found:
        raise Http404("No RegisteredModel matches the given query.")
    return found[0][0]


# The detail's evaluations come with its row, one joined row each: one statement instead of two
# (12% less worker CPU per get, docs/benchmarks.md). A version has a few evaluations; one with
# hundreds would repeat its own columns as often, which is still one short statement.
# The evaluations' columns are read under this prefix and handed on without it.
_JOINED = "evaluations__"
_JOINED_EVALUATION = {
    **{f"{_JOINED}{column}": column for column in EVALUATION_COLUMNS},
    **{f"{_JOINED}{path}": path for path in EVIDENCE_PARTS.values()},
    f"{_JOINED}ran_by__username": "ran_by_username",
    f"{_JOINED}sbs_run__id": "sbs_run_id",
}


def _version_detail_rows(model_name: str, version: str) -> QuerySet:
    return (
        ModelVersion.objects.filter(model__name=model_name, version=version)
        .values(
            *VERSION_COLUMNS,
            *_JOINED_EVALUATION,
            "evidence_hold",
            model_name=F("model__name"),
            created_by_username=F("created_by__username"),
            **{HAS_DATASET: dataset_named()},
        )
        .order_by(f"-{_JOINED}ran_at", f"-{_JOINED}id")
    )


def version_detail(*, model_name: str, version: str) -> dict:
    """A version as the detail page reads it: its list row (evaluations, runway, data card), latest checkpoint, hold."""
    if not MODEL_NAME.match(model_name) or not VERSION_LABEL.match(version):
        raise Http404("No such version.")
    kinds = [sqlcache.STR, sqlcache.STR]
    found = sqlcache.rows(
        "version_detail",
        _version_detail_rows,
        kinds,
        [model_name, version],
        timestamps_as_text=True,
        server_prepared=True,  # by unique keys: planning it took 8 times as long as running it
    )
    if not found:
        raise Http404("No ModelVersion matches the given query.")
    row = found[0]
    row["evaluations"] = [
        _evaluation_shaped({name: joined[key] for key, name in _JOINED_EVALUATION.items()})
        for joined in found
        if joined[f"{_JOINED}id"] is not None
    ]
    for key in _JOINED_EVALUATION:
        del row[key]
    row = with_data_cards(with_runways([row]))[0]
    # Checkpoints are recorded when a job succeeds: no query for the versions without.
    has_checkpoints = row["job_status"] == JobStatus.SUCCEEDED
    row["latest_checkpoint"] = (
        Checkpoint.objects.filter(version_id=row["id"]).order_by("-step_number").first() if has_checkpoints else None
    )
    return row


def _evaluation_rows(*version_ids: int) -> QuerySet:
    return (
        EvaluationResult.objects.filter(version_id__in=version_ids)
        .order_by("-ran_at", "-id")
        .values(
            *EVALUATION_COLUMNS,
            *EVIDENCE_PARTS.values(),
            ran_by_username=F("ran_by__username"),
            sbs_run_id=F("sbs_run__id"),
        )
    )


def with_evaluations(rows: list[dict]) -> list[dict]:
    """Attach each row's evaluations (newest first), in one query for the whole page."""
    by_version: dict[int, list[dict]] = {row["id"]: [] for row in rows}
    ids = list(by_version)
    evaluations = (
        sqlcache.rows(
            ("evaluations", len(ids)),
            _evaluation_rows,
            [sqlcache.INT] * len(ids),
            ids,
            timestamps_as_text=True,
            server_prepared=True,  # by the versions' ids: one plan for any page
        )
        if ids
        else []
    )
    for evaluation in evaluations:
        by_version[evaluation["version_id"]].append(_evaluation_shaped(evaluation))
    for row in rows:
        row["evaluations"] = by_version[row["id"]]
    return rows


def _evaluation_shaped(evaluation: dict) -> dict:
    """An evaluation's row as read (its evidence in EVIDENCE_PARTS) with its evidence gathered, as the API reads it."""
    parts = {key: evaluation.pop(path) for key, path in EVIDENCE_PARTS.items()}
    evaluation["evidence"] = parts if parts["overall"] is not None else None
    return evaluation


def with_runways(rows: list[dict]) -> list[dict]:
    """Attach each row's runway (its fine-tuned model, else its base model): at most one catalogue query per page."""
    lookups = {row["id"]: Lookup(row["provider"], row["base_model"], row["fine_tuned_model"]) for row in rows}
    found = runways(lookups.values())
    for row in rows:
        row["runway"] = found[lookups[row["id"]]]
    return rows


def models_with_runways(models: Iterable[RegisteredModel]) -> list[RegisteredModel]:
    """Attach each model's runway (its current base model, what new versions train on), in at most one query."""
    models = list(models)
    found = models_runway(models)
    for model in models:
        model.runway = found[model.pk]
    return models


def model_runway(model: RegisteredModel) -> Runway:
    """The model's runway, as attached by `models_with_runways`, or read now (one query)."""
    found = getattr(model, "runway", None)
    return found if found is not None else models_with_runways([model])[0].runway


# --- The canonical record of a version ------------------------------------------------------
# One plain dict, built here, that the API shows (adding the runway, which is the catalogue's
# view on a day, not part of the record) and the approval and incident fingerprints hash.


def _username(user) -> str | None:
    return user.get_username() if user else None


_ZONEINFO_UTC = zoneinfo.ZoneInfo("UTC")  # ZoneInfo keeps one instance per key: Django's default zone is this one


def _datetime(value, zone=None) -> str | None:
    """As DRF's DateTimeField renders it: in the current time zone (or `zone`, the caller's read of it), UTC as 'Z'.

    `value` is a datetime, or the text PostgreSQL writes for one (core.sqlcache's timestamps_as_text).
    """
    if value is None:
        return None
    zone = zone or timezone.get_current_timezone()
    if type(value) is str:
        if value[-3:] == "+00" and value[4] == "-" and value[10] == " " and (zone is UTC or zone is _ZONEINFO_UTC):
            # "2026-12-01 09:48:49.5+00": UTC shown in UTC; PostgreSQL leaves off a fraction's trailing zeros.
            fraction = value[20:-3]
            return f"{value[:10]}T{value[11:19]}.{fraction:0<6}Z" if fraction else f"{value[:10]}T{value[11:19]}Z"
        value = datetime.fromisoformat(value)  # another zone: converted as any datetime is
    if value.tzinfo is UTC and (zone is UTC or zone is _ZONEINFO_UTC):
        return value.isoformat()[:-6] + "Z"  # read and shown in UTC: nothing to convert (400 dates a page)
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _evidence_parts(figures: dict | None) -> dict | None:
    """The parts of a run's figures a list page reads (EVIDENCE_PARTS); None for an evaluation typed in."""
    if figures is None:
        return None
    return {
        "overall": figures["overall"],
        "per_intent": figures["per_intent"],
        "human_share": figures["human_share"],
        "judge_human_kappa": figures["agreement"]["judge_human"]["kappa"],
    }


def _sbs_run_id(evaluation: EvaluationResult) -> int | None:
    if evaluation.evidence is None:
        return None  # typed in: no run behind it, and no query to find none
    try:
        return evaluation.sbs_run.pk  # loaded with the evaluation (_evaluations), or set when the run was recorded
    except ObjectDoesNotExist:
        return None


def evaluation_row(evaluation: EvaluationResult) -> dict:
    """An evaluation as the row a list page reads (see EVALUATION_COLUMNS and with_evaluations)."""
    return {
        **{name: getattr(evaluation, name) for name in EVALUATION_COLUMNS},
        "ran_by_username": _username(evaluation.ran_by),
        "evidence": _evidence_parts(evaluation.evidence),
        "sbs_run_id": _sbs_run_id(evaluation),
    }


def version_row(version: ModelVersion) -> dict:
    """A version as the row a list page reads (see VERSION_COLUMNS), its runway and data checks read if not attached."""
    found = getattr(version, "runway", None)
    hashes = (version.training_file_sha256, version.validation_file_sha256)
    checks = getattr(version, "data_checks", None)
    return {
        "data_card": data_card_block(*hashes, checks if checks is not None else data_checks(hashes)),
        **{name: getattr(version, name) for name in VERSION_COLUMNS},
        "model_name": version.model.name,
        "created_by_username": _username(version.created_by),
        "evaluations": [evaluation_row(e) for e in version.evaluation_list],
        "runway": found if found is not None else versions_runway([version])[version.pk],
    }


def evaluation_entry(row: dict, zone=None) -> dict:
    """An evaluation as a version's record holds it (the API adds evaluation_support: see evaluation_shown)."""
    zone = zone or timezone.get_current_timezone()  # read once: a list page renders hundreds of dates
    return {
        "id": row["id"],
        "suite": row["suite"],
        "golden_set_sha256": row["golden_set_sha256"],
        "baseline_version": row["baseline"],
        "metrics": {name: float(value) for name, value in row["metrics"].items()},
        "per_intent": {name: float(value) for name, value in row["per_intent"].items()},
        "ran_by": row["ran_by_username"],
        "ran_at": _datetime(row["ran_at"], zone),
        "created_at": _datetime(row["created_at"], zone),
    }


SUPPORTED_BY_VERDICTS, TYPED = "verdicts", "typed"
OVERALL_KEYS = ("n", "wins", "ties", "losses", "win_rate", "lower", "upper")
INTENT_KEYS = ("n", "win_rate", "lower", "upper")


def evaluation_support(row: dict) -> dict:
    """What supports an evaluation: a side-by-side run's verdicts (the run and a summary of its figures), or nothing.

    Kept out of the version's record, so the approval and incident fingerprints hash what they
    always did: the support is fixed when the evaluation is recorded (a run gives its evidence once,
    and typed evaluations may not carry computed metrics), and the metrics the record holds already
    include the run's interval and number of comparisons.
    """
    evidence = row["evidence"]
    if evidence is None:
        return {"supported_by": TYPED, "sbs_run": None, "evidence": None}
    return {
        "supported_by": SUPPORTED_BY_VERDICTS,
        "sbs_run": row["sbs_run_id"],
        "evidence": {
            "overall": {key: evidence["overall"][key] for key in OVERALL_KEYS},
            "per_intent": {
                intent: {key: tally[key] for key in INTENT_KEYS}
                for intent, tally in sorted(evidence["per_intent"].items())
            },
            "human_share": evidence["human_share"],
            "judge_human_kappa": evidence["judge_human_kappa"],
        },
    }


def evaluation_shown(row: dict) -> dict:
    """An evaluation as the API shows it: its record entry and what supports it."""
    return {**evaluation_entry(row), **evaluation_support(row)}


def version_record(row: dict, zone=None) -> dict:
    """A version's record from its row: what it is, what it was trained on, its job and evaluations.

    `zone`: the current time zone, read once by a caller that renders many records (reading it
    costs about 20 us: Django keeps it in an asgiref Local).
    """
    zone = zone or timezone.get_current_timezone()
    return {
        "model": row["model_name"],
        "version": row["version"],
        "provider": row["provider"],
        "base_model": row["base_model"],
        "training_file_sha256": row["training_file_sha256"],
        "validation_file_sha256": row["validation_file_sha256"],
        "training_file_id": row["training_file_id"],
        "validation_file_id": row["validation_file_id"],
        "changelog": row["changelog"],
        "provider_job_id": row["provider_job_id"],
        "fine_tuned_model": row["fine_tuned_model"],
        "status": row["status"],
        "created_by": row["created_by_username"],
        "created_at": _datetime(row["created_at"], zone),
        "updated_at": _datetime(row["updated_at"], zone),
        "retired_at": _datetime(row["retired_at"], zone),
        "job": {
            "status": row["job_status"],
            "trained_tokens": row["trained_tokens"],
            "hyperparameters": row["hyperparameters"],
            "seed": row["seed"],
            "error_code": row["job_error_code"],
            "error_message": row["job_error_message"],
            "finished_at": _datetime(row["job_finished_at"], zone),
            "result_files": row["result_files"],
        },
        "evaluations": [evaluation_entry(e, zone) for e in row["evaluations"]],
    }


def serving_block(row: dict) -> dict | None:
    """Where the provider needs a deployment before the version serves (Azure): its name and state; else None.

    Kept out of the record: the provider changes it (Azure deletes a deployment unused for 15
    days), and a fingerprint must not change under an approval or an incident's evidence.
    """
    if not row["serving_deployment"]:
        return None
    return {"name": row["serving_deployment"], "state": row["serving_deployment_state"]}


def lifecycle_block(found: Runway) -> dict:
    """The `lifecycle` block of the API: a runway as a client reads it."""
    # Read directly, not through as_dict (dataclasses.asdict copies deeply): a list page renders one per row.
    shutdown = found.shutdown_date
    return {
        "base_model": found.base_model,
        "state": found.state,
        "shutdown_date": shutdown.isoformat() if shutdown else None,
        "days_left": found.days_left,
        "replacement": found.replacement,
        "source": found.source,
    }


def model_history(*, model: RegisteredModel) -> list[dict]:
    return history_entries(model.history.all())


def version_history(*, version: ModelVersion) -> list[dict]:
    """The version's own changes and those of its evaluations, oldest first."""
    own = history_entries(version.history.all(), kind="version")
    evaluations = history_entries(EvaluationResult.history.filter(version_id=version.pk), kind="evaluation")
    return sorted(own + evaluations, key=lambda entry: (entry["at"], entry["history_id"]))


def promotion_pending_list() -> QuerySet[Promotion]:
    """Promotions waiting for a decision, oldest request first (the order they should be decided in)."""
    return (
        Promotion.objects.filter(status=PromotionStatus.PENDING)
        .select_related("version__model", "requested_by")
        .order_by("requested_at", "id")
    )
