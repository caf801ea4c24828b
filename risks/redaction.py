"""Redaction of personal data in incident examples, before they are stored.

Example failures are quoted from real conversations; what identifies a person
(an email address, a phone number, a card or account number) is replaced by a
placeholder. It is a safety net, not a guarantee: reporters redact names themselves.
"""

from __future__ import annotations

import re

_PATTERNS = [
    ("[email]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    # IBAN: country code, check digits, then 11-30 letters or digits (spaces allowed in groups of four).
    ("[iban]", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")),
    # Phone numbers: international (+44 20 7946 0958) or national with a trunk 0 (020 7946 0958).
    ("[phone]", re.compile(r"(?:\+\d{1,3}|\b0)(?:[ .-]?\(?\d+\)?){2,}(?=\b)")),
    # Card-like and account-like numbers: 12 to 19 digits, spaces or dashes allowed between them.
    ("[number]", re.compile(r"\b\d(?:[ -]?\d){11,18}\b")),
]


def redact(text: str) -> str:
    for placeholder, pattern in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text
