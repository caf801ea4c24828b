"""Status words in coloured badges, one look across the admin.

A badge carries a word and a tone; the tone says what the value means for the reader (good, bad,
needs a look, neutral), never what an underlying boolean is. The word is always there, so colour
is never the only signal.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

GOOD, BAD, WARN, NEUTRAL = "good", "bad", "warn", "neutral"
# Text and background colour per tone.
TONES = {
    GOOD: ("#1b5e20", "#e8f5e9"),
    BAD: ("#b71c1c", "#ffebee"),
    WARN: ("#6d4c00", "#fff3cd"),
    NEUTRAL: ("#37474f", "#eceff1"),
}


def badge(word: str, tone: str) -> SafeString:
    colour, background = TONES[tone]
    return format_html(
        '<span class="fp-badge fp-{}" style="display:inline-block;padding:1px 7px;border-radius:9px;'
        'white-space:nowrap;font-size:11px;font-weight:600;color:{};background:{}">{}</span>',
        tone,
        colour,
        background,
        word,
    )
