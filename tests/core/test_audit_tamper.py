"""1,000 random tamperings of the audit chain, each made as a superuser would (triggers off), each detected.

A database with a few hundred history rows across many tables (m2m history
included) verifies; then each tampering is made inside `history_rewrite()`,
the verifier walks the whole chain with a signed checkpoint of the head, and
the tampering is rolled back so the next starts from the untouched database.
The random generator is seeded: a failure names the tampering and replays.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, models
from django.utils import timezone

from core import auditkit, chain, verifier
from core.models import ChainHead
from tests.core.chain_helpers import checkpoint_of_head, populate

TAMPERINGS = 1000
SEED = 16
WRONG_KEY = b"an-attacker-key-that-is-not-the-chain-key-0123456789"


class _Undo(Exception):
    """Raised after each check, so the tampering is rolled back."""


@dataclass(frozen=True)
class Link:
    seq: int
    model: type[models.Model]
    pk: int
    key: str
    hash: str


def _links() -> list[Link]:
    found = [
        Link(seq, model, pk, key, hash_)
        for model in chain.chained_models()
        for pk, seq, key, hash_ in model._base_manager.values_list("pk", "chain_seq", "chain_key", "chain_hash")
    ]
    return sorted(found, key=lambda link: link.seq)


def _values(link: Link) -> dict:
    names = [f.attname for f in chain.document_fields(link.model)]
    return link.model._base_manager.filter(pk=link.pk).values(*names, "chain_hash").get()


def _values_of(links: list[Link]) -> dict[tuple, dict]:
    """`_values` of many links, one query per table."""
    found = {}
    for model in {link.model for link in links}:
        names = [f.attname for f in chain.document_fields(model)]
        pks = [link.pk for link in links if link.model is model]
        for values in model._base_manager.filter(pk__in=pks).values("pk", *names, "chain_hash"):
            found[model, values.pop("pk")] = values
    return found


def _document(model, values: dict) -> bytes:
    fields = chain.document_fields(model)
    return chain.document(model, chain.row_values(model, [values[f.attname] for f in fields]))


def _write(link: Link, **changes) -> None:
    link.model._base_manager.filter(pk=link.pk).update(**changes)


def _head_set(seq: int, row_hash: str, key_id: str) -> None:
    ChainHead.objects.filter(pk=chain.HEAD_ID).update(seq=seq, row_hash=row_hash, key_id=key_id)


class Tamperer:
    """Each method makes one kind of tampering and says what it did; the walk must then fail."""

    def __init__(self, rng: random.Random, links: list[Link]):
        self.rng = rng
        self.links = links
        self.by_seq = {link.seq: link for link in links}
        self.tables = sorted({link.model for link in links}, key=lambda m: m._meta.db_table)
        self.last = links[-1].seq

    def _row(self, model=None) -> Link:
        model = model or self.rng.choice(self.tables)
        return self.rng.choice([link for link in self.links if link.model is model])

    def _other_value(self, field: models.Field, old, link: Link):
        """A different value of the field's type (different once canonicalised, too)."""
        for _attempt in range(20):
            new = self._candidate(field, old, link)
            if chain._plain(field, new) != chain._plain(field, old):
                return new
        raise AssertionError(f"no other value for {field} (was {old!r})")

    def _candidate(self, field: models.Field, old, link: Link):
        rng = self.rng
        if field.attname == "chain_seq":
            taken = set(link.model._base_manager.values_list("chain_seq", flat=True))
            elsewhere = [s for s in self.by_seq if s not in taken]
            choices = [self.last + rng.randint(1, 50), -old, old + rng.choice([-2, -1, 1, 2]) * 10_000]
            if elsewhere:
                choices.append(rng.choice(elsewhere))  # a link another table holds: now doubled
            return rng.choice(choices)
        if field.attname == "chain_key":
            return rng.choice([auditkit.key_id(WRONG_KEY), uuid.uuid4().hex[:16], ""])
        if old is None and field.null and field.is_relation:
            return self._existing_pk(field) or 1
        if field.null and old is not None and rng.random() < 0.2:
            return None
        if field.is_relation:
            pks = [pk for pk in field.related_model._base_manager.values_list("pk", flat=True)[:50] if pk != old]
            return rng.choice(pks) if pks and rng.random() < 0.8 else (old or 0) + 100_000
        if isinstance(field, models.JSONField):
            return self._json(old)
        if isinstance(field, models.BooleanField):
            return not old
        if isinstance(field, models.DateTimeField):
            return (old or timezone.now()) + timedelta(microseconds=rng.choice([1, 1000, 10**6, 86_400 * 10**6]))
        if isinstance(field, models.DateField):
            return (old or timezone.now().date()) + timedelta(days=rng.choice([-1, 1, 365]))
        if isinstance(field, models.DecimalField):
            return (old or Decimal(0)) + Decimal(1).scaleb(-field.decimal_places)
        if isinstance(field, models.FloatField):
            return (old or 0.0) + rng.choice([0.5, 1e-9, 1.0, -0.25])
        if isinstance(field, models.IntegerField):
            old = old or 0
            return old + 1 if old < 30_000 else old - 1
        if isinstance(field, models.GenericIPAddressField):
            return rng.choice(["10.9.8.7", "2001:db8::1"])
        if isinstance(field, models.CharField | models.TextField):
            return self._text(old or "", field.max_length)
        raise AssertionError(f"no tampering for {type(field).__name__} {field.attname}")

    def _existing_pk(self, field):
        return field.related_model._base_manager.values_list("pk", flat=True).first()

    def _text(self, old: str, max_length: int | None) -> str:
        rng = self.rng
        edits = [
            lambda s: s + rng.choice(["x", " ", "é", "✓"]),
            lambda s: s[:-1] + ("y" if s[-1:] != "y" else "z"),
            lambda s: s.upper() if s != s.upper() else s.lower() + "q",
            lambda s: "",
        ]
        new = rng.choice(edits)(old)
        if max_length and len(new) > max_length:
            new = old[:-1] + ("y" if old[-1:] != "y" else "z")
        return new if new != old else old + "x"

    def _json(self, old):
        rng = self.rng
        if isinstance(old, dict) and old:
            key = rng.choice(sorted(old))
            value = old[key]
            changed = dict(old)
            if isinstance(value, float | int) and not isinstance(value, bool):
                changed[key] = value + rng.choice([0.01, 1, 1e-7])
            elif rng.random() < 0.5:
                del changed[key]
            else:
                changed[key] = {"forged": [value, 1.5, None]}
            return changed
        if isinstance(old, list) and old:
            return old[::-1] if len(old) > 1 and old != old[::-1] else [*old, 0.5]
        return {"forged": 1.25}

    # --- the kinds -------------------------------------------------------------------------

    def edit_field(self) -> tuple[str, Link, str]:
        link = self._row()
        values = _values(link)
        if self.rng.random() < 0.05:
            new = f"{self.rng.getrandbits(256):064x}"
            _write(link, chain_hash=new)
            return f"{link.model._meta.db_table} link {link.seq}: chain_hash -> {new}", link, "chain_hash"
        field = self.rng.choice(chain.document_fields(link.model))
        new = self._other_value(field, values[field.attname], link)
        _write(link, **{field.attname: new})
        what = f"{link.model._meta.db_table} link {link.seq}: {field.attname} {values[field.attname]!r} -> {new!r}"
        return what, link, field.attname

    def delete_row(self) -> str:
        link = self.rng.choice(self.links)
        link.model._base_manager.filter(pk=link.pk)._raw_delete(connection.alias)
        return f"deleted {link.model._meta.db_table} link {link.seq}"

    def insert_forged(self) -> str:
        rng = self.rng
        source = self._row()
        model = source.model
        values = _values(source)
        if "history_change_reason" in values:
            values["history_change_reason"] = (values["history_change_reason"] or "") + " (forged)"
        how = rng.choice(["tail", "tail-head-moved", "doubled"])
        if how == "doubled":
            taken = set(model._base_manager.values_list("chain_seq", flat=True))
            elsewhere = [s for s in self.by_seq if s not in taken]
            values["chain_seq"] = rng.choice(elsewhere) if elsewhere else self.last + 1
        else:
            values["chain_seq"] = self.last + 1
        prev = self.by_seq.get(values["chain_seq"] - 1)
        forge = rng.choice(["made-up", "wrong-key", "wrong-key-named"])
        values["chain_key"] = chain.keyring().current_id
        if forge == "made-up":
            values["chain_hash"] = f"{rng.getrandbits(256):064x}"
        else:
            if forge == "wrong-key-named":
                values["chain_key"] = auditkit.key_id(WRONG_KEY)
            values["chain_hash"] = auditkit.link_hash(
                WRONG_KEY,
                prev.key if prev else "",
                prev.hash if prev else auditkit.GENESIS,
                _document(model, values),
            )
        model._base_manager.bulk_create([model(**values)])
        if how == "tail-head-moved":
            _head_set(values["chain_seq"], values["chain_hash"], values["chain_key"])
        return f"forged {model._meta.db_table} row at link {values['chain_seq']} ({how}, {forge} hash)"

    def reorder(self) -> str:
        rng = self.rng
        if rng.random() < 0.5:
            a, b = rng.sample(self.links, 2)
            _write(a, chain_seq=-a.seq)
            _write(b, chain_seq=a.seq)
            _write(a, chain_seq=b.seq)
            return f"swapped links {a.seq} ({a.model._meta.db_table}) and {b.seq} ({b.model._meta.db_table})"
        model = rng.choice([m for m in self.tables if sum(1 for link in self.links if link.model is m) > 1])
        a, b = rng.sample([link for link in self.links if link.model is model], 2)
        keep = {"chain_seq"} if rng.random() < 0.5 else {"chain_seq", "chain_key", "chain_hash"}
        va, vb = _values(a), _values(b)
        _write(a, **{k: v for k, v in vb.items() if k not in keep})
        _write(b, **{k: v for k, v in va.items() if k not in keep})
        moved = "with their hashes" if "chain_hash" not in keep else "under their own hashes"
        return f"swapped the content of {model._meta.db_table} links {a.seq} and {b.seq} {moved}"

    def rehash(self) -> str:
        """Edit a row and recompute its hash (and every later one's, and the head's) with a key not the chain's."""
        link = self._row()
        values = _values(link)
        field = self.rng.choice([f for f in chain.document_fields(link.model) if f.attname not in ("chain_seq",)])
        values[field.attname] = self._other_value(field, values[field.attname], link)
        named = self.rng.random() < 0.3
        rest = self.rng.random() < 0.5
        prev = self.by_seq.get(link.seq - 1)
        prev_key, prev_hash = (prev.key, prev.hash) if prev else ("", auditkit.GENESIS)
        chain_key = auditkit.key_id(WRONG_KEY) if named else chain.keyring().current_id
        later = [x for x in self.links if x.seq > link.seq] if rest else []
        rows = {(link.model, link.pk): values} | _values_of(later)
        for current in [link, *later]:
            row = rows[current.model, current.pk]
            row["chain_key"] = chain_key
            row["chain_hash"] = auditkit.link_hash(WRONG_KEY, prev_key, prev_hash, _document(current.model, row))
            _write(current, **{k: v for k, v in row.items() if k != "chain_seq"})
            prev_key, prev_hash = chain_key, row["chain_hash"]
        if rest:
            _head_set(self.last, prev_hash, prev_key)
        return (
            f"{link.model._meta.db_table} link {link.seq}: {field.attname} changed, rehashed with another key"
            f"{' (named)' if named else ''}{' with every later link and the head' if rest else ''}"
        )

    def truncate_tail(self) -> str:
        k = self.rng.randint(1, 12)
        for link in self.links[-k:]:
            link.model._base_manager.filter(pk=link.pk)._raw_delete(connection.alias)
        head_too = self.rng.random() < 0.5
        if head_too:
            last = self.links[-k - 1]
            _head_set(last.seq, last.hash, last.key)
        return f"deleted the last {k} links{' and rolled the head back' if head_too else ''}"


KINDS = ("edit_field", "delete_row", "insert_forged", "reorder", "rehash", "truncate_tail")


@pytest.fixture
def populated(engineer, compliance, registered_model):
    populate(model=registered_model, engineer=engineer, compliance=compliance)


def test_it_detects_each_of_a_thousand_random_tamperings(populated):
    checkpoint = checkpoint_of_head()
    untouched = verifier.walk(checkpoints=[checkpoint])
    links = _links()
    assert untouched.ok, untouched.first_break.describe()
    assert untouched.rows_checked == len(links) >= 300
    assert untouched.checkpoints_checked == 1
    assert len({link.model for link in links}) >= 15

    rng = random.Random(SEED)
    tamperer = Tamperer(rng, links)
    tried: Counter = Counter()
    missed: list[str] = []
    misplaced: list[str] = []  # an edited row must be named as the first broken link
    started = time.perf_counter()
    for n in range(TAMPERINGS):
        kind = rng.choice(KINDS)
        try:
            with chain.history_rewrite():
                what = getattr(tamperer, kind)()
                if kind == "edit_field":
                    what, edited, column = what
                result = verifier.walk(checkpoints=[checkpoint])
                raise _Undo
        except _Undo:
            pass
        tried[kind] += 1
        if result.ok:
            missed.append(f"#{n} {kind}: {what}")
        elif kind == "edit_field" and column != "chain_seq" and result.first_break.seq != edited.seq:
            misplaced.append(f"#{n} {what}: {result.first_break.describe()}")
    elapsed = time.perf_counter() - started

    print(f"\n{TAMPERINGS} tamperings of {len(links)} links in {elapsed:.1f}s:", dict(sorted(tried.items())))
    assert not missed, "undetected:\n" + "\n".join(missed)
    assert not misplaced, "another link named:\n" + "\n".join(misplaced)
    assert sum(tried.values()) == TAMPERINGS and set(tried) == set(KINDS)
    after = verifier.walk(checkpoints=[checkpoint])
    assert after.ok and after.rows_checked == len(links), "a tampering was not rolled back"
