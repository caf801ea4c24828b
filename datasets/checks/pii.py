"""Personal data in text: e-mail addresses, phone numbers, IBANs (mod-97 checked), card numbers
(Luhn checked) and IP addresses, located by offset; and the redaction every excerpt goes through."""

from __future__ import annotations

import ipaddress
import re

KINDS = ("email", "phone", "iban", "card", "ip")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# International (+CC ...) or North-American (NNN) NNN-NNNN / NNN-NNN-NNNN forms, 8 to 15 digits.
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])"
)
DIGITS = re.compile(r"\d")
LONG_DIGITS = re.compile(r"\d[\d .-]{4,}\d")
AT_WORD = re.compile(r"\S*@\S*")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _ip_ok(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def find(text: str) -> list[tuple[str, int, int]]:
    """Validated personal data in `text` as (kind, start, end), in text order. Earlier kinds win
    an overlap (an IBAN's digits are not also a card or a phone number)."""
    hits: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, m: re.Match) -> None:
        hits.append((kind, m.start(), m.end()))
        taken.append((m.start(), m.end()))

    if "@" in text:
        for m in EMAIL.finditer(text):
            add("email", m)
    if DIGITS.search(text) is None:
        return sorted(hits, key=lambda h: h[1])
    for m in IBAN.finditer(text):
        if free(m.start(), m.end()) and iban_ok(m.group()):
            add("iban", m)
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if free(m.start(), m.end()) and 13 <= len(digits) <= 19 and luhn_ok(digits):
            add("card", m)
    if "." in text:
        for m in IPV4.finditer(text):
            if free(m.start(), m.end()) and _ip_ok(m.group()):
                add("ip", m)
    if "::" in text or text.count(":") >= 7:
        for m in IPV6.finditer(text):
            if m.group().count(":") >= 2 and free(m.start(), m.end()) and _ip_ok(m.group()):
                add("ip", m)
    for m in PHONE.finditer(text):
        if free(m.start(), m.end()) and 8 <= len(re.sub(r"\D", "", m.group())) <= 15:
            add("phone", m)
    return sorted(hits, key=lambda h: h[1])


PLACEHOLDER = {"email": "[EMAIL]", "phone": "[PHONE]", "iban": "[IBAN]", "card": "[CARD]", "ip": "[IP]"}


def redact(text: str, limit: int = 120) -> str:
    """Text safe to store: every personal-data hit replaced by a placeholder, then, as a second
    guard (for fragments the validators reject or a cut truncated), any run of 6+ digits and any
    word with an @ masked; cut to `limit` characters."""
    window = text[: limit * 3]
    out, last = [], 0
    for kind, start, end in find(window):
        out.append(window[last:start])
        out.append(PLACEHOLDER[kind])
        last = end
    out.append(window[last:])
    safe = "".join(out)
    safe = LONG_DIGITS.sub(
        lambda m: "#" * len(m.group()) if sum(c.isdigit() for c in m.group()) >= 6 else m.group(), safe
    )
    safe = AT_WORD.sub(lambda m: "[EMAIL]" if m.group() != "[EMAIL]" else m.group(), safe)
    safe = " ".join(safe.split())
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"
