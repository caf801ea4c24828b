"""Writes on datasets: the upload, the check run, the price table, the check policy and overrides.

The upload streams the file to disk while hashing it (the API's upload handler already did both;
the admin's form is hashed here, in chunks), then records the dataset and queues its check after
commit. The check runs the Django-free engine (datasets.checks) on the file, writes the report to
the dataset (one history row), and deletes the file unless DATASET_KEEP_FILES is on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audited_save, service_user
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.parsers import TooLarge
from core.roles import Role, has_role
from core.wording import plural
from datasets import selectors
from datasets.checks import UnknownBaseModel, check_file, encoding_for, golden_fingerprint
from datasets.golden import ParsedGolden, golden_parse, golden_set_name_validator, intent_tags
from datasets.models import (
    OPEN_CHECK_STATUSES,
    CheckPolicy,
    CheckStatus,
    Dataset,
    DatasetCheck,
    DatasetKind,
    DatasetOverride,
    GoldenItem,
    GoldenSet,
    PriceRow,
)

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
UPLOADERS = (Role.ENGINEER, Role.COMPLIANCE)


@dataclass(frozen=True)
class UploadResult:
    dataset: Dataset
    created: bool
    check: DatasetCheck | None  # the check queued by this upload, None if the dataset had one


def _require(actor, *roles: str, action: str) -> None:
    if not has_role(actor, *roles):
        raise PermissionDenied(f"Only {' or '.join(roles)} may {action}.")


def _storage() -> Path:
    path = Path(settings.DATASET_STORAGE)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _hashed_copy(upload) -> tuple[Path, str, int]:
    """Stream `upload` into a file under DATASET_STORAGE, hashing it on the way; (path, sha256, bytes)."""
    digest = hashlib.sha256()
    size = 0
    target = _staging_path()
    try:
        with target.open("xb") as handle:
            for chunk in upload.chunks(CHUNK_BYTES):
                size += len(chunk)
                if size > settings.DATASET_MAX_BYTES:
                    raise TooLarge(
                        f"The file is larger than {settings.DATASET_MAX_BYTES} bytes.",
                        fields={"file": [f"At most {settings.DATASET_MAX_BYTES} bytes."]},
                        extra={"limit_bytes": settings.DATASET_MAX_BYTES},
                    )
                digest.update(chunk)
                handle.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, digest.hexdigest(), size


def _staging_path() -> Path:
    return _storage() / f"upload-{uuid.uuid4().hex}.part"


def _place(upload) -> tuple[Path, str, int]:
    """The upload's bytes on disk under DATASET_STORAGE, with their SHA-256 and size.

    The API's handler (datasets.api.uploads) hashed the file while it arrived and left it in a
    temporary file: that file is linked (or copied) into place, never read again here.
    """
    sha256 = getattr(upload, "sha256", None)
    if sha256 and hasattr(upload, "temporary_file_path"):
        target = _staging_path()
        try:
            os.link(upload.temporary_file_path(), target)
        except OSError:  # another filesystem
            shutil.copyfile(upload.temporary_file_path(), target)
        return target, sha256, upload.size
    return _hashed_copy(upload)


def _validate_base_model(base_model: str) -> None:
    try:
        encoding_for(base_model)
    except UnknownBaseModel as exc:
        raise ValidationFailed(str(exc), fields={"base_model": [str(exc)]}) from None


def _validate_goldens(sha256s: Iterable[str]) -> list[str]:
    wanted = sorted(set(sha256s))
    if not wanted:
        return []
    found = {row.sha256: row for row in Dataset.objects.filter(sha256__in=wanted).only("sha256", "kind", "fingerprint")}
    problems = []
    for sha in wanted:
        row = found.get(sha)
        if row is None:
            problems.append(f"{sha}: no such dataset.")
        elif row.kind != DatasetKind.GOLDEN:
            problems.append(f"{sha}: not a golden set (it is {row.kind}).")
        elif row.fingerprint is None:
            problems.append(f"{sha}: its check has not finished, so it has no fingerprint yet.")
    if problems:
        raise ValidationFailed("Every golden set named must be a checked golden dataset.", fields={"golden": problems})
    return wanted


def dataset_upload(*, upload, kind: str, base_model: str, actor, goldens: Iterable[str] = ()) -> UploadResult:
    """Record the dataset of the uploaded bytes and queue its check; the same bytes give the same dataset.

    A dataset that already exists is returned as it is (no new check), unless its last check
    failed or it never had one, or its last check never compared it against a golden set it
    should be compared against now (named here, or cited by its models' evaluations since): then
    these bytes are checked again. So uploading the same file again re-checks it when files are
    not kept.
    """
    _require(actor, *UPLOADERS, action="upload datasets")
    if kind not in DatasetKind.values:
        raise ValidationFailed(f"Unknown kind {kind!r}.", fields={"kind": [f"One of {', '.join(DatasetKind.values)}."]})
    _validate_base_model(base_model)
    golden_list = _validate_goldens(goldens)
    staged, sha256, size = _place(upload)
    try:
        return _record_upload(
            staged=staged, sha256=sha256, size=size, kind=kind, base_model=base_model, actor=actor, goldens=golden_list
        )
    finally:
        staged.unlink(missing_ok=True)  # moved into place, or not needed


def _record_upload(
    *, staged: Path, sha256: str, size: int, kind: str, base_model: str, actor, goldens: list[str]
) -> UploadResult:
    final = selectors.dataset_file_path(sha256=sha256)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().filter(sha256=sha256).first()
        created = dataset is None
        if created:
            dataset = Dataset(sha256=sha256, kind=kind, base_model=base_model, size_bytes=size, uploaded_by=actor)
            dataset.full_clean()
            try:
                with transaction.atomic():
                    audited_save(dataset, actor=actor, reason="Uploaded")
            except IntegrityError:
                raise Conflict("The same file is being uploaded at this moment; try again.") from None
        else:
            latest = selectors.dataset_latest_check(dataset=dataset)
            settled = latest is not None and latest.status != CheckStatus.FAILED
            if settled and (latest.status in OPEN_CHECK_STATUSES or not _goldens_new(dataset, latest, goldens)):
                return UploadResult(dataset=dataset, created=False, check=None)
        os.replace(staged, final)
        check = _check_queue(dataset=dataset, goldens=goldens, actor=actor)
    return UploadResult(dataset=dataset, created=created, check=check)


# A golden set is checked (format, PII, its fingerprint) for this encoding unless the upload names another.
GOLDEN_BASE_MODEL = "gpt-4.1-mini"
ITEM_BATCH = 2000


@dataclass(frozen=True)
class GoldenVersionResult:
    dataset: Dataset  # the golden dataset that is this version (golden_set, golden_version, counts)
    created: bool  # False: these bytes already were this version of this golden set
    check: DatasetCheck | None  # the check queued for a new dataset (its fingerprint), None otherwise


def golden_version_upload(
    *, name: str, upload, actor, description: str = "", base_model: str = GOLDEN_BASE_MODEL
) -> GoldenVersionResult:
    """Record the uploaded JSONL as the next version of golden set `name` (created on its first version).

    The version is the golden dataset of these bytes (one record: an earlier upload of the same
    bytes as a golden dataset becomes this version), its items recorded once with their intents
    and prompt hashes (their text only with GOLDEN_KEEP_TEXT). The same bytes again are the same
    version. A file with any bad item is refused whole, naming the lines.
    """
    _require(actor, *UPLOADERS, action="upload golden sets")
    try:
        golden_set_name_validator(name)
    except DjangoValidationError as exc:
        raise ValidationFailed("Invalid golden set name.", fields={"name": list(exc.messages)}) from None
    _validate_base_model(base_model)
    staged, sha256, size = _place(upload)
    try:
        if size > settings.GOLDEN_MAX_BYTES:
            raise TooLarge(
                f"A golden set file is at most {settings.GOLDEN_MAX_BYTES} bytes.",
                fields={"file": [f"At most {settings.GOLDEN_MAX_BYTES} bytes."]},
                extra={"limit_bytes": settings.GOLDEN_MAX_BYTES},
            )
        parsed = golden_parse(staged, max_items=settings.GOLDEN_MAX_ITEMS)
        if parsed.problem_count:
            more = parsed.problem_count - len(parsed.problems)
            raise ValidationFailed(
                f"The golden set file has {parsed.problem_count} bad line(s); nothing was recorded.",
                fields={"file": parsed.problems + ([f"... and {more} more."] if more else [])},
            )
        return _record_golden_version(
            name=name,
            description=description,
            staged=staged,
            sha256=sha256,
            size=size,
            base_model=base_model,
            parsed=parsed,
            actor=actor,
        )
    finally:
        staged.unlink(missing_ok=True)


def golden_set_update(*, golden_set: GoldenSet, description: str, actor, reason: str) -> GoldenSet:
    """Change a golden set's description (engineers and Compliance), with a reason kept in its history.

    Its versions and items never change: a new file is a new version.
    """
    _require(actor, *UPLOADERS, action="edit golden sets")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["This field is required."]})
    golden_set.description = description
    golden_set.full_clean()
    audited_save(golden_set, actor=actor, reason=reason)
    return golden_set


def _record_golden_version(
    *, name: str, description: str, staged: Path, sha256: str, size: int, base_model: str, parsed: ParsedGolden, actor
) -> GoldenVersionResult:
    with transaction.atomic():
        golden_set = GoldenSet.objects.select_for_update().filter(name=name).first()
        if golden_set is None:
            golden_set = GoldenSet(name=name, description=description, created_by=actor)
            try:
                with transaction.atomic():
                    audited_save(golden_set, actor=actor, reason=f"Golden set {name} created with its first version")
            except IntegrityError:
                raise Conflict(f"Golden set {name} is being created at this moment; try again.") from None
        dataset = Dataset.objects.select_for_update().filter(sha256=sha256).first()
        if dataset is not None and dataset.golden_set_id is not None:
            if dataset.golden_set_id == golden_set.pk:
                return GoldenVersionResult(dataset=dataset, created=False, check=None)
            raise Conflict(
                f"These bytes are already version {dataset.golden_version} of golden set {dataset.golden_set.name}.",
                extra={"golden_set": dataset.golden_set.name, "golden_version": dataset.golden_version},
            )
        if dataset is not None and dataset.kind != DatasetKind.GOLDEN:
            raise Conflict(
                f"These bytes are a {dataset.kind} dataset already; a golden set cannot be training data.",
                extra={"kind": dataset.kind},
            )
        number = (
            golden_set.versions.order_by("-golden_version").values_list("golden_version", flat=True).first() or 0
        ) + 1
        check = None
        fields = {
            "golden_set": golden_set,
            "golden_version": number,
            "item_count": len(parsed.items),
            "intent_counts": parsed.intent_counts,
        }
        summary = f"{plural(len(parsed.items), 'item')}, {plural(len(parsed.intent_counts), 'intent')}"
        if dataset is None:
            dataset = Dataset(
                sha256=sha256,
                kind=DatasetKind.GOLDEN,
                base_model=base_model,
                size_bytes=size,
                uploaded_by=actor,
                **fields,
            )
            dataset.full_clean()
            try:
                with transaction.atomic():
                    audited_save(
                        dataset, actor=actor, reason=f"Uploaded as version {number} of golden set {name} ({summary})"
                    )
            except IntegrityError:
                raise Conflict("The same file is being uploaded at this moment; try again.") from None
            os.replace(staged, selectors.dataset_file_path(sha256=sha256))
            check = _check_queue(dataset=dataset, goldens=[], actor=actor)
        else:
            for key, value in fields.items():
                setattr(dataset, key, value)
            audited_save(dataset, actor=actor, reason=f"Became version {number} of golden set {name} ({summary})")
        keep = settings.GOLDEN_KEEP_TEXT
        GoldenItem.objects.bulk_create(
            [
                GoldenItem(
                    dataset=dataset,
                    item_id=item.item_id,
                    position=item.position,
                    intents=item.intents,
                    intent_tags=intent_tags(item.intents),
                    prompt_hash=item.prompt_hash,
                    messages=item.messages if keep else None,
                    reference=item.reference if keep else "",
                )
                for item in parsed.items
            ],
            batch_size=ITEM_BATCH,
        )
    return GoldenVersionResult(dataset=dataset, created=True, check=check)


def _goldens_new(dataset: Dataset, latest: DatasetCheck, goldens: list[str]) -> list[str]:
    """Golden sets this dataset should be compared against that its latest check never saw."""
    if dataset.kind == DatasetKind.GOLDEN:
        return []  # a golden set is not checked for leakage into itself
    wanted = set(goldens) | set(selectors.goldens_cited(sha256=dataset.sha256))
    return sorted(wanted - set(latest.goldens) - {dataset.sha256})


def _check_queue(*, dataset: Dataset, goldens: list[str], actor) -> DatasetCheck:
    from datasets.tasks import dataset_check_task

    check = DatasetCheck.objects.create(dataset=dataset, goldens=goldens, requested_by=actor)
    transaction.on_commit(lambda: dataset_check_task.delay(check.pk))
    return check


def dataset_check_queue(*, dataset: Dataset, actor, goldens: Iterable[str] = ()) -> DatasetCheck:
    """Check a dataset again (e.g. against a new golden set); needs its file (DATASET_KEEP_FILES)."""
    _require(actor, *UPLOADERS, action="check datasets")
    golden_list = _validate_goldens(goldens)
    if not selectors.dataset_file_path(sha256=dataset.sha256).exists():
        raise Conflict(
            "The file of this dataset is not kept (DATASET_KEEP_FILES is off): upload the same file again, "
            "naming in `golden` the golden sets it has not been compared with, to check it against them.",
            fields={"file": ["Not kept."]},
        )
    with transaction.atomic():
        open_check = dataset.checks.filter(status__in=OPEN_CHECK_STATUSES).order_by("-created_at", "-id").first()
        if open_check is not None:
            return open_check
        return _check_queue(dataset=dataset, goldens=golden_list, actor=actor)


def _claim(check_id: int) -> DatasetCheck | None:
    """Claim a queued check (a conditional update): a second delivery of the task finds nothing to do."""
    now = timezone.now()
    claimed = DatasetCheck.objects.filter(pk=check_id, status=CheckStatus.QUEUED).update(
        status=CheckStatus.RUNNING, started_at=now, progress=0
    )
    if not claimed:
        return None
    return DatasetCheck.objects.select_related("dataset").get(pk=check_id)


def _progress_writer(check: DatasetCheck):
    last = {"percent": -1}

    def tick(done: int, total: int) -> None:
        percent = min(99, int(done * 100 / total)) if total else 0
        if percent > last["percent"]:  # at most 100 small writes a check; DatasetCheck keeps no history
            last["percent"] = percent
            DatasetCheck.objects.filter(pk=check.pk).update(progress=percent)

    return tick


def dataset_check_run(*, check_id: int) -> DatasetCheck | None:
    """Run one queued check: the report on the dataset, the golden fingerprint, the file removed.

    Engine errors fail the check (status `failed`, the reason kept) rather than retrying: the same
    bytes give the same error.
    """
    check = _claim(check_id)
    if check is None:
        return None
    dataset = check.dataset
    path = selectors.dataset_file_path(sha256=dataset.sha256)
    goldens = sorted(set(check.goldens) | set(selectors.goldens_cited(sha256=dataset.sha256)) - {dataset.sha256})
    price_row = selectors.price_in_force(base_model=dataset.base_model, on=timezone.localdate())
    policy = selectors.policy_in_force()
    try:
        if not path.exists():
            raise FileNotFoundError("the uploaded file is no longer on disk")
        report = check_file(
            path,
            kind=dataset.kind,
            base_model=dataset.base_model,
            goldens=selectors.golden_fingerprints(sha256s=goldens),
            price=selectors.price_as_dict(price_row),
            policy=policy,
            progress=_progress_writer(check),
        )
        fingerprint = golden_fingerprint(path) if dataset.kind == DatasetKind.GOLDEN else None
    except Exception as exc:  # the engine's own failure: recorded, never retried (same bytes, same error)
        logger.exception("Check %s of dataset %s failed", check.pk, dataset.sha256)
        DatasetCheck.objects.filter(pk=check.pk).update(
            status=CheckStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        _file_release(dataset=dataset, path=path)
        check.refresh_from_db()
        return check

    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        dataset.report = report
        dataset.blocking = int(report.get("blocking", 0))
        dataset.warnings = int(report.get("warnings", 0))
        dataset.checked_at = timezone.now()
        dataset.policy_version = policy["version"]
        if fingerprint is not None:
            dataset.fingerprint = fingerprint
        if settings.DATASET_KEEP_FILES:
            dataset.file_path = str(path)
        audited_save(
            dataset,
            actor=check.requested_by or service_user(),
            reason=(
                f"Checked: {dataset.blocking} blocking, {plural(dataset.warnings, 'warning')} "
                f"(policy v{policy['version']})"
            ),
        )
        DatasetCheck.objects.filter(pk=check.pk).update(
            status=CheckStatus.DONE, progress=100, finished_at=timezone.now(), goldens=goldens
        )
    _file_release(dataset=dataset, path=path)
    check.refresh_from_db()
    return check


def _file_release(*, dataset: Dataset, path: Path) -> None:
    """Delete the file after its check unless files are kept; never while another check of it waits."""
    if settings.DATASET_KEEP_FILES:
        return
    if dataset.checks.filter(status=CheckStatus.QUEUED).exists():
        return
    path.unlink(missing_ok=True)


def price_row_save(*, row: PriceRow, actor, reason: str) -> PriceRow:
    """Add or correct a price row (Compliance, with a reason kept in its history)."""
    _require(actor, Role.COMPLIANCE, action="edit training prices")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["This field is required."]})
    if row.usd_per_million_training_tokens is not None:
        row.usd_per_million_training_tokens = Decimal(row.usd_per_million_training_tokens)
    row.full_clean()
    audited_save(row, actor=actor, reason=reason)
    return row


def check_policy_create(*, rules: dict, reason: str, actor) -> CheckPolicy:
    """A new version of the check policy (rows are never edited): Compliance, with a reason."""
    _require(actor, Role.COMPLIANCE, action="change the check policy")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["This field is required."]})
    _validate_policy(rules)
    with transaction.atomic():
        latest = CheckPolicy.objects.select_for_update().order_by("-version").first()
        policy = CheckPolicy(
            version=(latest.version if latest else 0) + 1,
            rules={key: value for key, value in rules.items() if key != "version"},
            reason=reason,
            created_by=actor,
        )
        policy.full_clean()
        try:
            with transaction.atomic():
                audited_save(policy, actor=actor, reason=reason)
        except IntegrityError:
            raise Conflict("Another policy version was created at the same moment; try again.") from None
    return policy


_SEVERITIES = ("blocking", "warning", "info")


def _validate_policy(rules: dict) -> None:
    from datasets.checks import default_policy

    problems: dict[str, list[str]] = {}
    if not isinstance(rules, dict):
        raise ValidationFailed("The rules must be a JSON object.", fields={"rules": ["Must be a JSON object."]})
    known = set(default_policy()["severities"])
    severities = rules.get("severities")
    if not isinstance(severities, dict):
        problems["rules.severities"] = ["Must be an object of finding code -> severity."]
    else:
        for code, severity in severities.items():
            if code not in known:
                problems.setdefault("rules.severities", []).append(f"Unknown finding code {code!r}.")
            elif severity not in _SEVERITIES:
                problems.setdefault("rules.severities", []).append(
                    f"{code}: {severity!r} is not one of {', '.join(_SEVERITIES)}."
                )
    for key, value in rules.items():
        if key not in ("severities", "version") and key in default_policy():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                problems[f"rules.{key}"] = ["Must be a whole number, 0 or more."]
        elif key not in ("severities", "version"):
            problems.setdefault("rules", []).append(f"Unknown key {key!r}.")
    if problems:
        raise ValidationFailed("The policy is invalid.", fields=problems)


def dataset_override_create(*, dataset: Dataset, justification: str, actor) -> DatasetOverride:
    """Compliance lets launches proceed on this dataset despite its blocking findings, and says why."""
    _require(actor, Role.COMPLIANCE, action="override a dataset's findings")
    if not justification.strip():
        raise ValidationFailed("A justification is required.", fields={"justification": ["This field is required."]})
    override = DatasetOverride(
        dataset=dataset,
        justification=justification,
        blocking_at_override=dataset.blocking or 0,
        report_checked_at=dataset.checked_at,
        created_by=actor,
    )
    override.full_clean()
    audited_save(override, actor=actor, reason=f"Override: {justification}")
    return override
