"""The data card on a version's admin page: each file it trains or validates on, as the datasets app checked it.

Read-only HTML built with format_html: the token histogram as an inline SVG bar chart drawn
here (no JavaScript, so it prints and survives a strict CSP), the findings counted by
severity and by code, the cost forecast with the price it used, leakage against golden sets,
personal data as counts only, and Compliance's override flagged as gate overrides are.

The report's findings carry redacted excerpts; none is shown here, and nothing of the PII
block but its counts: the page is read by every role.
"""

from __future__ import annotations

from collections import Counter

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.wording import plural
from registry.cards import price_words
from registry.data_cards import DataCheck, DataFile

# Severity, its badge's noun for one finding and for several, colour.
SEVERITIES = (
    ("blocking", "blocking", "blocking", "#c62828"),
    ("warning", "warning", "warnings", "#8d6e00"),
    ("info", "info", "info", "#546e7a"),
)
PII_WORDS = {
    "email": "E-mail addresses",
    "phone": "Phone numbers",
    "iban": "IBANs",
    "card": "Card numbers",
    "ip": "IPs",
}

# The chart's geometry, in px: a fixed size so the page's layout does not move with the data.
CHART_WIDTH, CHART_HEIGHT = 460, 170
PLOT_LEFT, PLOT_TOP, PLOT_BOTTOM = 44, 12, 34  # room for the y labels, the top count, the x labels
BAR_COLOUR = "#417690"  # the admin's header blue


def _tokens_label(bound: int | None) -> str:
    if bound is None:
        return "more"
    return f"{bound // 1024}k" if bound >= 1024 and bound % 1024 == 0 else str(bound)


def histogram_buckets(check: DataCheck) -> list[tuple[int | None, int]]:
    """The report's histogram from its first to its last non-empty bucket: (upper bound, examples).

    The engine reports fixed power-of-two buckets (32 ... 131,072 tokens, then an open one with
    no upper bound); most are empty, so only the span that holds examples is drawn.
    """
    raw = ((check.report or {}).get("tokens") or {}).get("histogram") or []
    buckets = [(None if upper is None else int(upper), int(count)) for upper, count in raw]
    filled = [i for i, (_, count) in enumerate(buckets) if count]
    return buckets[filled[0] : filled[-1] + 1] if filled else []


def histogram_svg(check: DataCheck) -> SafeString:
    """The token histogram as an inline SVG bar chart: one bar per bucket, its count on top, examples on hover."""
    buckets = histogram_buckets(check)
    if not buckets:
        return format_html('<p class="quiet">{}</p>', "No valid example, so no token counts.")
    plot_width = CHART_WIDTH - PLOT_LEFT - 8
    plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    base = PLOT_TOP + plot_height
    highest = max(count for _, count in buckets)
    slot = plot_width / len(buckets)
    bar = max(4.0, slot * 0.72)
    parts = []
    lower = None
    for index, (upper, count) in enumerate(buckets):
        height = round(plot_height * count / highest, 1)
        x = round(PLOT_LEFT + index * slot + (slot - bar) / 2, 1)
        middle = round(PLOT_LEFT + index * slot + slot / 2, 1)
        span = f"over {lower}" if upper is None else (f"{lower + 1}-{upper}" if lower is not None else f"up to {upper}")
        parts.append(
            format_html(
                '<rect class="fp-bar" x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{} tokens: {} example{}</title></rect>"
                '<text x="{}" y="{}" text-anchor="middle" font-size="10">{}</text>'
                '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#666">{}</text>',
                x,
                round(base - height, 1),
                round(bar, 1),
                height,
                BAR_COLOUR,
                span,
                count,
                "" if count == 1 else "s",
                middle,
                round(base - height - 3, 1),
                count or "",
                middle,
                base + 13,
                ("≤" if upper is not None else "") + _tokens_label(upper if upper is not None else lower),
            )
        )
        lower = upper
    axis = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#666">{}</text>'
        '<text x="{}" y="{}" text-anchor="end" font-size="10" fill="#666">0</text>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#666">tokens per example</text>',
        PLOT_LEFT,
        base,
        CHART_WIDTH - 8,
        base,
        PLOT_LEFT - 6,
        PLOT_TOP + 8,
        highest,
        PLOT_LEFT - 6,
        base,
        PLOT_LEFT + plot_width / 2,
        CHART_HEIGHT - 4,
    )
    return format_html(
        '<svg class="fp-histogram" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}">{}{}</svg>',
        CHART_WIDTH,
        CHART_HEIGHT,
        CHART_WIDTH,
        CHART_HEIGHT,
        f"Examples by token count, {len(buckets)} buckets",
        axis,
        format_html_join("", "{}", ((part,) for part in parts)),
    )


def findings_by_code(check: DataCheck) -> list[tuple[str, str, int]]:
    """Each finding code of the report with its severity and count, blocking first, then by count.

    A code's severity is the one its findings carry (the report keeps the first hundred of each
    code, so every counted code has one); failing that, the report's policy's.
    """
    report = check.report or {}
    severity_of = {f["code"]: f.get("severity", "warning") for f in reversed(report.get("findings") or [])}
    policy = (report.get("policy") or {}).get("severities") or {}
    order = {key: i for i, (key, *_) in enumerate(SEVERITIES)}
    rows = [
        (code, severity_of.get(code) or policy.get(code, "warning"), int(count))
        for code, count in (report.get("counts") or {}).items()
        if count
    ]
    return sorted(rows, key=lambda r: (order.get(r[1], 9), -r[2], r[0]))


def severity_counts(check: DataCheck) -> dict[str, int]:
    """Findings by severity: blocking and warnings as the check counted them, info the rest."""
    counted = Counter()
    for _, severity, count in findings_by_code(check):
        counted[severity] += count
    return {"blocking": check.blocking, "warning": check.warnings, "info": counted["info"]}


def _badge(text, colour: str) -> SafeString:
    return format_html(
        '<span style="display:inline-block;padding:1px 7px;border-radius:9px;background:{};color:#fff;'
        'font-weight:bold;margin-right:6px">{}</span>',
        colour,
        text,
    )


def _number(value) -> str:
    return "-" if value is None else f"{value:,}"


def _rows(rows) -> SafeString:
    return format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows)


def _override(check: DataCheck) -> SafeString:
    if not check.overridden:
        return mark_safe("")
    override = check.override
    return format_html(
        '<p class="fp-override" style="border-left:4px solid #c62828;background:#fdecea;padding:6px 10px">'
        "<strong>Blocking findings overridden</strong> by {} on {}: {}</p>",
        override.by or "-",
        override.at.strftime("%Y-%m-%d %H:%M UTC") if override.at else "-",
        override.justification,
    )


def _checked(data: DataFile) -> SafeString:
    check = data.check
    report = check.report
    tokens = report.get("tokens") or {}
    cost = report.get("cost") or {}
    leakage = report.get("leakage") or {}
    pii = report.get("pii") or {}
    severities = severity_counts(check)
    badges = format_html_join(
        "",
        "{}",
        (
            (_badge(plural(severities[key], one, many), colour if severities[key] else "#9e9e9e"),)
            for key, one, many, colour in SEVERITIES
        ),
    )
    by_code = findings_by_code(check)
    codes = (
        format_html(
            '<table class="fp-findings"><tr><th>Finding</th><th>Severity</th><th>Count</th></tr>{}</table>',
            format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", by_code),
        )
        if by_code
        else format_html("<p>{}</p>", "No finding.")
    )
    if leakage.get("checked") is False or (not check.goldens and not leakage.get("goldens")):
        leak = "not compared against any golden set"
    else:
        goldens = check.goldens or tuple(leakage.get("goldens") or ())
        leak = (
            f"{leakage.get('exact', 0)} exact, {leakage.get('near', 0)} near, against "
            f"{len(goldens)} golden set{'s' if len(goldens) != 1 else ''} ({', '.join(g[:12] for g in goldens)})"
        )
    pii_words = ", ".join(f"{PII_WORDS.get(kind, kind)} {int(n)}" for kind, n in pii.items()) or "not reported"
    billed = cost.get("billed_tokens")
    cost_words = (
        "not forecast (only training files are billed)"
        if billed is None
        else f"{_number(billed)} billed tokens ({cost.get('epochs')} epochs x "
        f"{_number(cost.get('billable_tokens_per_epoch'))}), "
        + (f"${cost['usd']:,.2f}" if cost.get("usd") is not None else "no dollar figure")
        + f"; price: {price_words(cost)}"
    )
    facts = _rows(
        [
            (
                "Examples",
                f"{_number(report.get('examples'))} ({_number(report.get('valid_examples'))} valid)"
                if report.get("valid_examples") is not None
                else _number(report.get("examples")),
            ),
            (
                "Tokens",
                f"p50 {_number(tokens.get('p50'))}, p95 {_number(tokens.get('p95'))}, "
                f"max {_number(tokens.get('max'))}; "
                f"{_number(tokens.get('over_context'))} over the context limit",
            ),
            ("Cost forecast", cost_words),
            ("Golden-set leakage", leak),
            ("Personal data (counts)", pii_words),
        ]
    )
    return format_html(
        '<div class="fp-data-file" style="margin-bottom:18px">'
        '<h4 style="margin:4px 0">{} file <code title="{}">{}…</code> <span class="quiet">checked {}</span></h4>'
        '{}<p>{}</p>{}<table class="fp-data-facts">{}</table>{}</div>',
        data.role.capitalize(),
        data.sha256,
        data.sha256[:12],
        check.checked_at.strftime("%Y-%m-%d %H:%M UTC") if check.checked_at else "-",
        _override(check),
        badges,
        histogram_svg(check),
        facts,
        codes,
    )


def _not_checked(data: DataFile) -> SafeString:
    check = data.check
    if check is None:
        why = "not checked: no dataset with this SHA-256 was uploaded"
    elif check.check_status in ("queued", "running"):
        why = f"not checked yet: its check is {check.check_status} ({check.check_progress or 0}%)"
    elif check.check_status == "failed":
        why = "not checked: its check failed"
    else:
        why = "not checked"
    return format_html(
        '<div class="fp-data-file" style="margin-bottom:18px">'
        '<h4 style="margin:4px 0">{} file <code title="{}">{}…</code></h4>'
        '<p class="fp-not-checked"><strong>{}</strong></p></div>',
        data.role.capitalize(),
        data.sha256,
        data.sha256[:12],
        why[0].upper() + why[1:],
    )


def data_card_display(files: list[DataFile]) -> SafeString:
    """The version's data card: each named file checked, or said not to be."""
    if not files:
        return format_html("<p>{}</p>", "Not checked: the version names no data file.")
    return format_html_join("", "{}", ((_checked(f) if f.checked else _not_checked(f),) for f in files))
