"""The cover's tamper evidence: the latest checkpoint verified by the end of the month, the verifier's month,
and section 8 saying the history is chained and under which key; all as they stood at the period's end."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from core.models import AuditCheckpoint, AuditVerification
from reports.builder import data_sha256, report_data
from reports.render import render_pdf
from tests.reports.conftest import OCTOBER, at

pytestmark = pytest.mark.django_db

HASH_A = "a1" * 32
HASH_B = "b2" * 32
FOUND = "c3" * 32


def checkpoint(seq: int, made_at, row_hash: str = HASH_A, key_id: str = "k-2026a") -> AuditCheckpoint:
    return AuditCheckpoint.objects.create(
        seq=seq,
        row_hash=row_hash,
        key_id=key_id,
        rows=seq,
        made_at=made_at,
        signature="d4" * 32,
        location=f"var/checkpoints/checkpoint-{seq:012d}.json",
    )


def run(started_at, *, ok: bool = True, last_seq: int, scope: str = "full", since=None, **broken) -> AuditVerification:
    return AuditVerification.objects.create(
        scope=scope,
        since=since,
        started_at=started_at,
        finished_at=started_at + timedelta(seconds=2),
        rows_checked=last_seq,
        last_seq=last_seq,
        ok=ok,
        **broken,
    )


def pages(data: dict) -> list[str]:
    reader = PdfReader(io.BytesIO(render_pdf(data, sha256=data_sha256(data))))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]


@pytest.fixture
def october_chain(db):
    """Checkpoints and runs around October: only what stood by 1 November counts."""
    september = checkpoint(100, at(9, 30, 1))
    run(at(9, 30, 2), last_seq=100)
    verified = checkpoint(420, at(10, 20, 1), row_hash=HASH_B)
    run(at(10, 20, 2), last_seq=430)
    checkpoint(500, at(10, 31, 23))  # made in October, verified only in November
    run(at(10, 25, 3), ok=False, last_seq=460, scope="since", since=september, **_break())
    run(at(10, 26, 3), ok=True, last_seq=470, scope="since", since=september)
    run(at(11, 1, 2), last_seq=520)  # November's run, which verified the 31 October checkpoint
    checkpoint(600, at(11, 2, 1))
    return verified


def _break() -> dict:
    return {
        "problem": "link 455 does not match its row (risks_historicalrisk row 9, object 3, link 455); "
        f"expected {HASH_A}, found {FOUND}",
        "break_table": "risks_historicalrisk",
        "break_row_id": 9,
        "break_object_id": "3",
        "break_seq": 455,
        "expected_hash": HASH_A,
        "found_hash": FOUND,
        "incident_reference": "INC-0042",
    }


def test_it_takes_the_latest_checkpoint_verified_by_the_end_of_the_month(october_chain):
    chain = report_data(OCTOBER)["audit_chain"]

    assert chain["checkpoint"] == {
        "seq": 420,
        "made_at": "2026-10-20T01:00+00:00",
        "row_hash": HASH_B,
        "key_id": "k-2026a",
        "rows": 420,
        "location": "var/checkpoints/checkpoint-000000000420.json",
    }
    # The runs started in October: two full-chain or since runs passed, one failed; November's not counted.
    assert (chain["runs"], chain["passed"], chain["failed"]) == (3, 2, 1)
    assert chain["last"] == {
        "ok": True,
        "at": "2026-10-26T03:00+00:00",
        "scope": "Since a checkpoint",
        "rows_checked": 470,
    }
    assert chain["first_failure"]["incident"] == "INC-0042"
    assert chain["first_failure"]["at"] == "2026-10-25T03:00+00:00"


def test_only_a_passed_run_that_reached_the_checkpoint_after_it_was_made_verifies_it(db):
    checkpoint(100, at(10, 2))
    checkpoint(200, at(10, 5))
    run(at(10, 3), last_seq=150)  # passed, but before checkpoint 200 was made
    run(at(10, 6), last_seq=190)  # after it, but short of its link
    run(at(10, 7), ok=False, last_seq=260, **_break())  # failed

    assert report_data(OCTOBER)["audit_chain"]["checkpoint"]["seq"] == 100


def test_the_cover_prints_the_checkpoint_and_the_verifiers_month(october_chain):
    first = pages(report_data(OCTOBER))[0]

    assert "Audit chain checkpoint" in first
    assert "Link 420 (420 rows), made 2026-10-20 01:00, hash b2b2b2b2b2b2b2b2..., signed with key k-2026a" in first
    assert "kept at var/checkpoints/checkpoint-000000000420.json" in first
    assert "Verifier this month" in first
    assert "3 runs: 2 passed, 1 failed. Last run passed 2026-10-26 03:00 (since a checkpoint, 470 rows)." in first
    assert "First failure 2026-10-25 03:00: link 455 does not match its row" in first
    assert "Incident INC-0042." in first
    assert FOUND not in first.replace(" ", "")  # the hashes are in section 8, not on the cover
    # The failure turns the month red, with the reason in words.
    assert "1 audit trail verification failed" in first


def test_the_cover_says_plainly_when_nothing_was_verified(db):
    data = report_data(OCTOBER)
    first = pages(data)[0]

    assert data["audit_chain"] == {
        "checkpoint": None,
        "runs": 0,
        "passed": 0,
        "failed": 0,
        "last": None,
        "first_failure": None,
    }
    assert "No checkpoint of the audit chain was verified by the end of the month." in first
    assert "The verifier did not run this month." in first


def test_section_8_says_the_history_is_chained_and_under_which_key(world, in_october, october_chain):
    data = report_data(OCTOBER, now=in_october)
    text = " ".join(pages(data))

    keys = data["audit"]["chain_keys"]
    assert len(keys) == 1 and keys[0]
    section = text[text.index("8. Audit trail") :]
    assert (
        "Every history row is linked into one hash chain (HMAC-SHA256) in the transaction that writes it, "
        f"under key {keys[0]}" in section
    )
    assert "Verifier: 3 runs: 2 passed, 1 failed." in section
    # Section 8 has the failure in full, both hashes included.
    assert f"expected {HASH_A}, found {FOUND}" in section
    assert "Checkpoint: Link 420" in section


def test_the_cover_stays_one_page_with_a_failure_on_it(world, in_october, october_chain):
    data = report_data(OCTOBER, now=in_october)
    rendered = pages(data)

    assert "Status of the month" in rendered[0] and "Changes since last month" in rendered[0]
    assert "The month in figures" in rendered[1]
