"""`check_file`: one streaming pass over a JSONL dataset, then the whole-file analyses
(near-duplicates and near leakage by MinHash LSH over the signatures kept in numpy arrays).

Memory is bounded by the longest allowed line plus, per example, a few integers and two 512-byte
MinHash signatures (about 100 MB at 100,000 examples); no raw text outlives its line.
"""

from __future__ import annotations

import base64
import hashlib
import json
from array import array
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from datasets.checks import chat_format, pii, reader, text
from datasets.checks.models import context_limit, encoding_for
from datasets.checks.policy import BLOCKING, WARNING, default_policy
from datasets.checks.tokens import counter, example_tokens

REPORT_VERSION = 1
KINDS = ("training", "validation", "golden")
MAX_FINDINGS_PER_CODE = 100
MAX_LEAK_ITEMS = 1000
TOP_SYSTEM_PROMPTS = 20
HISTOGRAM_BOUNDS = tuple(2**k for k in range(5, 18))  # 32 ... 131,072 tokens, then an open bucket
# OpenAI's default epochs (cookbook): 3, raised for small files, lowered for large ones.
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MIN_EPOCHS, MAX_EPOCHS = 3, 100, 25_000, 1, 25
# LSH bands x rows: 16 x 8 for near-duplicates (J >= 0.8 found with p > 0.95), 42 x 3 for near
# leakage (J >= 0.5 with p > 0.99). Candidates are then checked on the full signature.
DUP_BANDS, DUP_ROWS = 16, 8
LEAK_BANDS, LEAK_ROWS = 42, 3
_BAND_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
     0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9],
    dtype=np.uint64,
)  # fmt: skip


def default_epochs(examples: int) -> int:
    if examples <= 0:
        return 0
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


class _Findings:
    def __init__(self) -> None:
        self.kept: list[dict] = []
        self.counts: Counter = Counter()

    def add(self, code: str, line: int, detail: str, excerpt: str = "") -> None:
        self.counts[code] += 1
        if self.counts[code] <= MAX_FINDINGS_PER_CODE:
            self.kept.append({"code": code, "line": line, "excerpt": excerpt, "detail": detail})


def _excerpt(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        raw = raw[:2000].decode("utf-8", "replace")
    return pii.redact(raw.replace("\x00", ""))


def _percentile(ordered: np.ndarray, q: float) -> int:
    if not len(ordered):
        return 0
    return int(ordered[min(len(ordered) - 1, max(0, int(np.ceil(q * len(ordered))) - 1))])


class _Rows:
    """Growing uint32 matrix of signatures, allocated in blocks."""

    def __init__(self, width: int = text.NUM_PERM, block: int = 8192) -> None:
        self.blocks: list[np.ndarray] = []
        self.width, self.block, self.n = width, block, 0

    def append(self, row: np.ndarray) -> None:
        if self.n % self.block == 0:
            self.blocks.append(np.zeros((self.block, self.width), dtype=np.uint32))
        self.blocks[-1][self.n % self.block] = row
        self.n += 1

    def matrix(self) -> np.ndarray:
        if not self.blocks:
            return np.zeros((0, self.width), dtype=np.uint32)
        out = np.concatenate(self.blocks)[: self.n]
        self.blocks = []
        return out


def _band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    keys = np.zeros((sigs.shape[0], bands), dtype=np.uint64)
    for r in range(rows):
        cols = sigs[:, [b * rows + r for b in range(bands)]].astype(np.uint64)
        keys ^= (cols + np.uint64(r + 1)) * _BAND_MIX[r]
        keys = (keys << np.uint64(13)) | (keys >> np.uint64(51))
    return keys


def _near_duplicates(sigs: np.ndarray, exact: np.ndarray) -> dict[int, tuple[int, float]]:
    """Later index -> (earliest similar index, similarity), for pairs not already exact duplicates."""
    if len(sigs) < 2:
        return {}
    keys = _band_keys(sigs, DUP_BANDS, DUP_ROWS)
    pairs = []
    for b in range(DUP_BANDS):
        order = np.argsort(keys[:, b], kind="stable")
        ordered = keys[order, b]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        run_of = np.repeat(starts, np.diff(np.r_[starts, len(ordered)]))
        others = np.flatnonzero(run_of != np.arange(len(ordered)))
        if len(others):
            pairs.append(np.stack([order[run_of[others]], order[others]], axis=1))
    if not pairs:
        return {}
    candidates = np.unique(np.concatenate(pairs), axis=0)
    candidates = candidates[exact[candidates[:, 0]] != exact[candidates[:, 1]]]
    found: dict[int, tuple[int, float]] = {}
    for chunk in range(0, len(candidates), 50_000):
        part = candidates[chunk : chunk + 50_000]
        sims = (sigs[part[:, 0]] == sigs[part[:, 1]]).mean(axis=1)
        for (a, b), s in zip(part.tolist(), sims.tolist(), strict=True):
            if s >= text.NEAR_DUPLICATE_THRESHOLD and (b not in found or a < found[b][0]):
                found[b] = (a, round(s, 3))
    return found


def _near_leaks(user_sigs: np.ndarray, golden_sigs: np.ndarray) -> dict[int, tuple[int, float]]:
    """Training index -> (golden index, similarity) of its most similar golden prompt at or above the threshold."""
    if not len(user_sigs) or not len(golden_sigs):
        return {}
    tkeys = _band_keys(user_sigs, LEAK_BANDS, LEAK_ROWS)
    gkeys = _band_keys(golden_sigs, LEAK_BANDS, LEAK_ROWS)
    best: dict[int, tuple[int, float]] = {}
    for b in range(LEAK_BANDS):
        gorder = np.argsort(gkeys[:, b], kind="stable")
        gsorted = gkeys[gorder, b]
        lo = np.searchsorted(gsorted, tkeys[:, b], side="left")
        hi = np.searchsorted(gsorted, tkeys[:, b], side="right")
        hits = np.flatnonzero(hi > lo)
        if not len(hits):
            continue
        counts = (hi - lo)[hits]
        t_idx = np.repeat(hits, counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        g_idx = gorder[np.repeat(lo[hits], counts) + offsets]
        for chunk in range(0, len(t_idx), 50_000):
            ti, gi = t_idx[chunk : chunk + 50_000], g_idx[chunk : chunk + 50_000]
            sims = (user_sigs[ti] == golden_sigs[gi]).mean(axis=1)
            keep = sims >= text.NEAR_LEAK_THRESHOLD
            for t, g, s in zip(ti[keep].tolist(), gi[keep].tolist(), sims[keep].tolist(), strict=True):
                s = round(s, 3)
                if t not in best or (s, -g) > (best[t][1], -best[t][0]):
                    best[t] = (g, s)
    return best


def _user_text(messages: list) -> list[str]:
    return [chat_format.text_of(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]


class _GoldenIndex:
    def __init__(self, goldens: Sequence[dict]) -> None:
        self.exact: dict[str, tuple[str, int]] = {}
        self.owners: list[tuple[str, int]] = []
        rows = []
        for golden in sorted(goldens, key=lambda g: g.get("sha256", "")):
            sha = golden.get("sha256", "")
            for index, h in enumerate(golden.get("prompt_hashes", ())):
                self.exact.setdefault(h, (sha, index))
            for index, encoded in enumerate(golden.get("signatures", ())):
                if encoded:
                    rows.append(np.frombuffer(base64.b64decode(encoded), dtype="<u4").astype(np.uint32))
                    self.owners.append((sha, index))
        self.sigs = np.stack(rows) if rows else np.zeros((0, text.NUM_PERM), dtype=np.uint32)

    def __bool__(self) -> bool:
        return bool(self.exact) or bool(len(self.sigs))


def _bad_file(source, findings: _Findings, sample: bytes) -> bool:
    """Whole-file problems that stop parsing (the file is still hashed). True if parsing should stop."""
    if source.total == 0:
        findings.add("empty_file", 0, "the file is empty")
        return True
    if source.total > reader.MAX_FILE_BYTES:
        findings.add(
            "file_too_large", 0, f"{source.total} bytes, over the {reader.MAX_FILE_BYTES} byte limit; not parsed"
        )
        return True
    if b"\x00" in sample:
        findings.add("binary_file", 0, "the file holds NUL bytes: binary, or UTF-16, not UTF-8 JSON lines")
        return True
    stripped = sample.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        findings.add(
            "not_jsonl",
            0,
            "the file is a JSON array; fine-tuning wants one JSON object per line",
            _excerpt(sample[:200]),
        )
        return True
    if not stripped:
        findings.add("empty_file", 0, "the file holds only whitespace")
        return True
    return False


def check_file(
    path,
    *,
    kind: str,
    base_model: str,
    goldens: Sequence[dict] = (),
    price: dict | None = None,
    policy: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Check a JSON-lines dataset and return its report (see docs/datasets.md). Raises only for a
    caller's error (unknown kind or base model, unreadable path); bad content becomes findings."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    policy = policy or default_policy()
    encoding = encoding_for(base_model)
    limit = context_limit(base_model)
    count = counter(encoding)
    golden_index = _GoldenIndex(goldens) if kind != "golden" else _GoldenIndex(())
    source = reader.open_source(path, progress)
    findings = _Findings()

    examples = valid = 0
    token_counts, assistant_counts = array("I"), array("I")
    exact_seen: dict[bytes, int] = {}
    exact_keys = array("Q")
    lines_of = array("I")
    sig_rows, user_rows = _Rows(), _Rows()
    user_lines = array("I")
    without_system = refusals = exact_dups = 0
    system_prompts: Counter = Counter()
    system_excerpts: dict[str, str] = {}
    languages: Counter = Counter()
    pii_counts: Counter = Counter()
    leak_items: list[dict] = []
    exact_leak_lines: set[int] = set()

    if _bad_file(source, findings, reader.sniff(path)):
        reader.drain(source)
    else:
        for number, raw in reader.lines(source):
            if raw is None:
                examples += 1
                findings.add("line_too_long", number, f"the line is over {reader.MAX_LINE_BYTES} bytes; skipped")
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                findings.add("blank_line", number, "an empty line")
                continue
            examples += 1
            if b"\x00" in raw:
                findings.add("invalid_utf8", number, "the line holds NUL bytes", _excerpt(raw))
                continue
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                findings.add("invalid_utf8", number, f"not UTF-8 at byte {error.start}", _excerpt(raw))
                continue
            try:
                example = json.loads(decoded)
            except (ValueError, RecursionError) as error:
                findings.add("invalid_json", number, f"not JSON: {str(error)[:80]}", _excerpt(decoded))
                continue
            errors = chat_format.validate(example)
            if errors:
                for code in sorted({e[0] for e in errors}):
                    first = next(e for e in errors if e[0] == code)
                    where = f" (messages[{first[2]}])" if first[2] is not None else ""
                    findings.add(code, number, first[1] + where, _excerpt(decoded))
                continue
            valid += 1
            messages = example["messages"]
            total, assistant = example_tokens(example, count)
            token_counts.append(total)
            assistant_counts.append(assistant)
            if total > limit:
                findings.add(
                    "over_context", number, f"{total} tokens, over {base_model}'s {limit}; it will be truncated"
                )

            canonical = json.dumps(example, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            key = hashlib.blake2b(canonical.encode("utf-8", "replace"), digest_size=8).digest()
            first_line = exact_seen.setdefault(key, number)
            if first_line != number:
                exact_dups += 1
                findings.add("exact_duplicate", number, f"the same example as line {first_line}")
            exact_keys.append(int.from_bytes(key, "little"))
            lines_of.append(number)

            contents = [chat_format.text_of(m.get("content")) for m in messages]
            joined = "\n".join(contents)
            sig = text.signature(text.normalise(joined))
            sig_rows.append(sig if sig is not None else np.zeros(text.NUM_PERM, dtype=np.uint32))

            systems = [c for m, c in zip(messages, contents, strict=True) if m["role"] in ("system", "developer")]
            if systems:
                fp = hashlib.sha256(systems[0].encode("utf-8", "replace")).hexdigest()[:16]
                system_prompts[fp] += 1
                if fp not in system_excerpts and len(system_excerpts) < 1000:
                    system_excerpts[fp] = pii.redact(systems[0], 80)
            else:
                without_system += 1
            if any(m["role"] == "assistant" and text.is_refusal(c) for m, c in zip(messages, contents, strict=True)):
                refusals += 1
            languages[text.language(joined)] += 1

            for index, content in enumerate(contents):
                hits = pii.find(content) if content else []
                for kind_ in pii.KINDS:
                    spans = [h for h in hits if h[0] == kind_]
                    if spans:
                        pii_counts[kind_] += len(spans)
                        start = spans[0][1]
                        findings.add(
                            f"pii_{kind_}",
                            number,
                            f"{len(spans)} in messages[{index}] ({messages[index]['role']})",
                            pii.redact(content[max(0, start - 40) : spans[0][2] + 40]),
                        )

            if golden_index:
                users = _user_text(messages)
                normal = [text.normalise(u) for u in users]
                match = None
                for h in [text.text_hash(" ".join(normal))] + [text.text_hash(n) for n in normal]:
                    if h in golden_index.exact:
                        match = golden_index.exact[h]
                        break
                if match is not None:
                    exact_leak_lines.add(number)
                    leak_items.append(
                        {
                            "line": number,
                            "match": "exact",
                            "golden_sha256": match[0],
                            "golden_item": match[1],
                            "similarity": 1.0,
                        }
                    )
                    findings.add(
                        "golden_leak_exact",
                        number,
                        f"a user turn is golden item {match[1]} of {match[0][:12]}",
                        pii.redact(" ".join(users)),
                    )
                else:
                    usig = text.signature(" ".join(normal))
                    if usig is not None:
                        user_rows.append(usig)
                        user_lines.append(number)

    # Whole-file analyses
    sigs = sig_rows.matrix()
    near = _near_duplicates(
        sigs, np.frombuffer(exact_keys, dtype=np.uint64) if len(exact_keys) else np.zeros(0, np.uint64)
    )
    for later, (earlier, sim) in sorted(near.items()):
        findings.add(
            "near_duplicate", int(lines_of[later]), f"similar to line {lines_of[earlier]} (estimated Jaccard {sim})"
        )
    del sigs

    if golden_index:
        user_sigs = user_rows.matrix()
        for t, (g, sim) in sorted(_near_leaks(user_sigs, golden_index.sigs).items()):
            sha, item = golden_index.owners[g]
            line = int(user_lines[t])
            leak_items.append(
                {"line": line, "match": "near", "golden_sha256": sha, "golden_item": item, "similarity": sim}
            )
            findings.add(
                "golden_leak_near",
                line,
                f"a user turn is close to golden item {item} of {sha[:12]} (estimated Jaccard {sim})",
            )

    min_examples, recommended = policy.get("min_examples", 10), policy.get("recommended_examples", 50)
    if source.total and valid < min_examples:
        findings.add("too_few_examples", 0, f"{valid} valid examples; OpenAI requires at least {min_examples}")
    elif source.total and valid < recommended:
        findings.add("few_examples", 0, f"{valid} valid examples; {recommended} or more are advised")
    if valid and without_system:
        findings.add("missing_system", 0, f"{without_system} of {valid} examples have no system message")
    if len(system_prompts) > 1:
        findings.add("several_system_prompts", 0, f"{len(system_prompts)} distinct system prompts; production uses one")
    if kind == "training" and valid and not refusals:
        findings.add("no_refusals", 0, "no assistant turn refuses; the model will not learn when to decline")

    # Severities and the report
    leaked = len(leak_items)
    severities = dict(policy.get("severities", {}))

    def severity(code: str) -> str:
        level = severities.get(code, WARNING)
        if code.startswith("golden_leak_") and leaked <= policy.get("leakage_blocking_above", 0):
            return WARNING if level == BLOCKING else level
        return level

    for finding in findings.kept:
        finding["severity"] = severity(finding["code"])
    kept = sorted(findings.kept, key=lambda f: (f["line"], f["code"]))
    kept = [{k: f[k] for k in ("code", "severity", "line", "excerpt", "detail")} for f in kept]
    counts = dict(sorted(findings.counts.items()))

    ordered = np.sort(np.frombuffer(token_counts, dtype=np.uint32)) if len(token_counts) else np.zeros(0, np.uint32)
    histogram = [[bound, 0] for bound in HISTOGRAM_BOUNDS] + [[None, 0]]
    if len(ordered):
        edges = np.searchsorted(np.array(HISTOGRAM_BOUNDS), ordered, side="left")
        for bucket, n in zip(*np.unique(edges, return_counts=True), strict=True):
            histogram[int(bucket)][1] = int(n)
    billable = int(np.minimum(ordered.astype(np.int64), limit).sum()) if len(ordered) else 0
    epochs = default_epochs(valid) if kind == "training" else None
    billed = billable * epochs if epochs is not None else None
    usd = None
    if price is not None and billed is not None and price.get("usd_per_1m_training_tokens") is not None:
        usd = round(billed / 1_000_000 * float(price["usd_per_1m_training_tokens"]), 4)

    return {
        "report_version": REPORT_VERSION,
        "sha256": source.sha.hexdigest(),
        "bytes": source.total,
        "kind": kind,
        "base_model": base_model,
        "encoding": encoding,
        "context_limit": limit,
        "examples": examples,
        "valid_examples": valid,
        "findings": kept,
        "findings_truncated": {c: n - MAX_FINDINGS_PER_CODE for c, n in counts.items() if n > MAX_FINDINGS_PER_CODE},
        "counts": counts,
        "blocking": sum(n for c, n in counts.items() if severity(c) == BLOCKING),
        "warnings": sum(n for c, n in counts.items() if severity(c) == WARNING),
        "tokens": {
            "min": int(ordered[0]) if len(ordered) else 0,
            "p50": _percentile(ordered, 0.5),
            "p95": _percentile(ordered, 0.95),
            "max": int(ordered[-1]) if len(ordered) else 0,
            "total": int(ordered.astype(np.int64).sum()),
            "assistant_total": int(sum(assistant_counts)),
            "histogram": histogram,
            "over_context": counts.get("over_context", 0),
        },
        "cost": {
            "epochs": epochs,
            "billable_tokens_per_epoch": billable,
            "billed_tokens": billed,
            "usd": usd,
            "price": price,
        },
        "quality": {
            "exact_duplicates": exact_dups,
            "near_duplicates": len(near),
            "near_duplicate_threshold": text.NEAR_DUPLICATE_THRESHOLD,
            "without_system": without_system,
            "without_system_share": round(without_system / valid, 4) if valid else 0.0,
            "distinct_system_prompts": len(system_prompts),
            "system_prompts": [
                [fp, n] for fp, n in sorted(system_prompts.items(), key=lambda i: (-i[1], i[0]))[:TOP_SYSTEM_PROMPTS]
            ],
            "system_prompt_excerpts": {
                fp: system_excerpts.get(fp, "")
                for fp, _ in sorted(system_prompts.items(), key=lambda i: (-i[1], i[0]))[:TOP_SYSTEM_PROMPTS]
            },
            "refusals": refusals,
            "refusal_share": round(refusals / valid, 4) if valid else 0.0,
            "languages": dict(sorted(languages.items())),
        },
        "pii": {k: pii_counts.get(k, 0) for k in pii.KINDS},
        "leakage": {
            "checked": bool(golden_index),
            "goldens": sorted(g.get("sha256", "") for g in goldens) if kind != "golden" else [],
            "exact": sum(1 for i in leak_items if i["match"] == "exact"),
            "near": sum(1 for i in leak_items if i["match"] == "near"),
            "near_threshold": text.NEAR_LEAK_THRESHOLD,
            "items": sorted(leak_items, key=lambda i: (i["line"], i["golden_sha256"], i["golden_item"]))[
                :MAX_LEAK_ITEMS
            ],
        },
        "method": {
            "tokenizer": "bpe-openai " + _version("bpe-openai"),
            "minhash": f"rensa {_version('rensa')} R-MinHash, {text.NUM_PERM} permutations, seed {text.SEED}, "
            f"word {text.SHINGLE_WORDS}-shingles",
        },
        "policy": policy,
    }


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


def golden_fingerprint(path) -> dict:
    """What Fineprint keeps of a golden set: per item, the hash of its normalised prompt (its user
    turns, or a `prompt`/`input`/`question` field) and its MinHash signature; no text."""
    source = reader.open_source(path)
    hashes: list[str] = []
    signatures: list[str] = []
    skipped = 0
    if _bad_file(source, _Findings(), reader.sniff(path)):
        reader.drain(source)
    else:
        for _number, raw in reader.lines(source):
            try:
                item = json.loads(raw.decode("utf-8")) if raw and raw.strip() else None
            except (ValueError, RecursionError):
                item = None
            prompt = None
            if isinstance(item, dict):
                if isinstance(item.get("messages"), list):
                    prompt = " ".join(text.normalise(u) for u in _user_text(item["messages"]))
                else:
                    field = next(
                        (item[k] for k in ("prompt", "input", "question") if isinstance(item.get(k), str)), None
                    )
                    prompt = text.normalise(field) if field is not None else None
            if not prompt:
                skipped += raw is None or bool(raw.strip())
                continue
            hashes.append(text.text_hash(prompt))
            sig = text.signature(prompt)
            signatures.append(base64.b64encode(sig.astype("<u4").tobytes()).decode() if sig is not None else "")
    return {
        "version": 1,
        "sha256": source.sha.hexdigest(),
        "bytes": source.total,
        "items": len(hashes),
        "skipped_lines": skipped,
        "method": {
            "normalise": "NFKC casefold, non-word to space",
            "hash": "blake2b-96",
            "minhash": f"rensa R-MinHash {text.NUM_PERM} seed {text.SEED} word {text.SHINGLE_WORDS}-shingles",
        },
        "prompt_hashes": hashes,
        "signatures": signatures,
    }
