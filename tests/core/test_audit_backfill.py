"""A database that predates the chain: its history is chained after migrate, oldest first, and then verifies."""

from __future__ import annotations

from django.db import connection

from core import auditkit, chain, verifier
from core.models import ChainHead
from tests.core.chain_helpers import history_rows, links


def _forget_the_chain() -> None:
    """Make the database look as it did before the chain: no links, the head at the start."""
    with chain.history_rewrite(), connection.cursor() as cursor:
        for model in chain.chained_models():
            cursor.execute(
                f"UPDATE \"{model._meta.db_table}\" SET chain_seq = NULL, chain_key = '', chain_hash = NULL"  # noqa: S608
            )
        cursor.execute("UPDATE core_chainhead SET seq = 0, row_hash = %s, key_id = ''", [auditkit.GENESIS])


def test_history_written_before_the_chain_is_chained_oldest_first_and_verifies(registered_version, compliance):
    rows = history_rows()
    _forget_the_chain()
    broken = verifier.walk()
    assert not broken.ok and broken.first_break.problem == "a history row outside the chain"

    assert chain.backfill() == rows

    result = verifier.walk()
    assert result.ok, result.first_break.describe()
    assert links() == list(range(1, rows + 1))
    assert ChainHead.objects.get().seq == rows
    # Oldest first: the links follow the history dates.
    dated = sorted(
        (row.chain_seq, row.history_date)
        for model in chain.chained_models()
        if hasattr(model, "history_date")
        for row in model.objects.all()
    )
    assert [when for _, when in dated] == sorted(when for _, when in dated)


def test_backfill_does_nothing_when_every_row_is_chained(registered_version):
    head = ChainHead.objects.get()

    assert chain.backfill() == 0

    assert ChainHead.objects.get().seq == head.seq
    assert verifier.walk().ok
