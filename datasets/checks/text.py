"""Text features shared by the duplicate and leakage checks (normalisation, word shingles,
MinHash), and the offline heuristics for refusals and language."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
from rensa import RMinHash

# MinHash over word 3-shingles of the normalised text, 128 permutations (R-MinHash, rensa).
SHINGLE_WORDS = 3
NUM_PERM = 128
SEED = 20261126
# Estimated Jaccard similarity at or above which two examples are near-duplicates, and a training
# user turn nearly matches a golden prompt (a paraphrase that keeps half its word triples).
NEAR_DUPLICATE_THRESHOLD = 0.8
NEAR_LEAK_THRESHOLD = 0.5

_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation and underscores to spaces, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def text_hash(normalised: str) -> str:
    return hashlib.blake2b(normalised.encode(), digest_size=12).hexdigest()


def shingles(normalised: str) -> list[str]:
    words = normalised.split()
    if len(words) <= SHINGLE_WORDS:
        return [normalised] if normalised else []
    return [" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(normalised: str) -> np.ndarray | None:
    tokens = shingles(normalised)
    if not tokens:
        return None
    sketch = RMinHash(num_perm=NUM_PERM, seed=SEED)
    sketch.update(tokens)
    return np.asarray(sketch.digest(), dtype=np.uint32)


REFUSAL = re.compile(
    r"\b(?:i(?:'| a)m sorry,? but|i (?:can(?:'|no)t|cannot|won'?t|am unable to|'m unable to|am not able to) "
    r"(?:help|assist|provide|do that|comply|share|answer)|i must decline|as an ai\b)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    return REFUSAL.search(text[:400]) is not None


# Language: Unicode script first; for Latin script, the most frequent function words of seven
# languages. A heuristic (no offline detector is installed), good enough for a mix, not for a verdict.
_SCRIPTS = (
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_STOPWORDS = {
    "en": "the and is are to of in that it for you with this be not on have what",
    "fr": "le la les et est des une un que pas pour dans vous il je sur avec",
    "de": "der die das und ist nicht ein eine ich sie mit zu auf den für sich",
    "es": "el la los las y es que de en un una por para no con se",
    "it": "il lo la gli le e è che di un una per non con sono",
    "nl": "de het een en is van dat niet ik je op te voor met zijn",
    "pt": "o a os as e é que de em um uma para não com se",
}
_STOP = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}


def language(text: str) -> str:
    sample = text[:300]
    for lang, pattern in _SCRIPTS:
        if len(pattern.findall(sample)) >= 3:
            return lang
    words = sample.lower().split()
    best, best_score = "und", 1
    for lang, stop in _STOP.items():
        score = sum(1 for w in words if w in stop)
        if score > best_score:
            best, best_score = lang, score
    return best
