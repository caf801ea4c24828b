"""Runs of the verifier, recorded: the whole chain, or only the links after a checkpoint.

A full run walks every link with every checkpoint file (core.checkpoints). A run
"since" a checkpoint trusts the links up to it, because a passed run checked them
and the checkpoint's signature says what the last of them was, and walks only
the later ones: the hourly check stays fast however long the chain grows.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core import auditkit, chain, verifier
from core.checkpoints import checkpoint_dict, checkpoints_load
from core.models import AuditCheckpoint, AuditVerification

Scope = AuditVerification.Scope


def latest_verified_checkpoint(*, as_of=None) -> AuditCheckpoint | None:
    """The latest checkpoint that a passed run compared with the chain (by `as_of`, if given).

    That run started after the checkpoint was made (so it walked with its file) and
    reached its link; a run since another checkpoint vouches only for checkpoints
    from its starting point on.
    """
    vouching = AuditVerification.objects.filter(
        Q(scope=Scope.FULL) | Q(since__seq__lte=OuterRef("seq")),
        ok=True,
        started_at__gte=OuterRef("made_at"),
        last_seq__gte=OuterRef("seq"),
    )
    checkpoints = AuditCheckpoint.objects.all()
    if as_of is not None:
        vouching = vouching.filter(started_at__lt=as_of)
        checkpoints = checkpoints.filter(made_at__lt=as_of)
    return checkpoints.filter(Exists(vouching)).order_by("-seq", "-made_at", "-id").first()


def verification_run(*, scope: str = Scope.FULL, since: AuditCheckpoint | None = None) -> AuditVerification:
    """Walk the chain (all of it, or after `since`), record what was found, and return the record.

    Scope "since" without a checkpoint starts from `latest_verified_checkpoint()`;
    with none yet, the run is a full one.
    """
    started_at = timezone.now()
    checkpoints = checkpoints_load()
    if scope == Scope.SINCE and since is None:
        since = latest_verified_checkpoint()
    if scope != Scope.SINCE or since is None:
        scope, since = Scope.FULL, None

    if since is None:
        result = verifier.walk(checkpoints=checkpoints)
    else:
        start = _start_from(since)
        if isinstance(start, verifier.Break):
            result = verifier.Result(first_seq=since.seq + 1, last_seq=since.seq).fail(start)
        else:
            result = verifier.walk(
                since_seq=since.seq, since_hash=since.row_hash, since_key=start, checkpoints=checkpoints
            )

    found = result.first_break or verifier.Break("")
    verification = AuditVerification(
        scope=scope,
        since=since,
        started_at=started_at,
        finished_at=timezone.now(),
        rows_checked=result.rows_checked,
        last_seq=result.last_seq,
        ok=result.ok,
        problem="" if result.ok else found.describe(),
        break_table=found.table,
        break_row_id=found.row_id,
        break_object_id=found.object_id,
        break_seq=found.seq,
        expected_hash=found.expected,
        found_hash=found.found,
    )
    verification.full_clean()
    verification.save()
    return verification


def _start_from(checkpoint: AuditCheckpoint) -> str | verifier.Break:
    """The key id of the checkpoint's link, to walk on from it; or why the walk cannot start there.

    The checkpoint's own `key_id` names the key that signed it, which is the link's
    key except between a key rotation and the next row (core.checkpoints).
    """
    ring = chain.keyring()
    key = ring.key(checkpoint.key_id)
    document = verifier.checkpoint_document(checkpoint_dict(checkpoint))
    if key is None or not auditkit.same(auditkit.sign(key, document), checkpoint.signature):
        return verifier.Break(f"checkpoint at link {checkpoint.seq} (the walk's start) has a bad signature")
    if checkpoint.seq == 0:
        return ""
    for model in chain.chained_models():
        link = model._base_manager.filter(chain_seq=checkpoint.seq).values("pk", "chain_key", "chain_hash").first()
        if link is None:
            continue
        if not auditkit.same(link["chain_hash"] or "", checkpoint.row_hash):
            return verifier.Break(
                f"checkpoint made {checkpoint_dict(checkpoint)['made_at']} recorded another hash for this link",
                table=model._meta.db_table,
                row_id=link["pk"],
                seq=checkpoint.seq,
                expected=checkpoint.row_hash,
                found=link["chain_hash"] or "",
            )
        return link["chain_key"]
    return verifier.Break(
        f"link {checkpoint.seq}, where the walk starts (checkpoint made "
        f"{checkpoint_dict(checkpoint)['made_at']}), is missing (deleted)",
        seq=checkpoint.seq,
    )
