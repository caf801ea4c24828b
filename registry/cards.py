"""Model cards: a version's record as Markdown or PDF, built from the records, never edited by hand.

`card_data` gathers the facts; `card_markdown` and `card_pdf` only render them.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lifecycle.models import LifecycleState
from lifecycle.selectors import Runway
from registry import gates
from registry.data_cards import DataFile, version_data_files
from registry.models import Deployment, EvaluationResult, ModelVersion, Promotion, PromotionStatus
from registry.runway import versions_runway

# Apps that hold more facts about a version (the risk register) add them to its card:
# each provider returns lines of plain text. Registered in the app's ready(), so the
# registry never imports the apps built on it.
_RISK_LINES: list[Callable[[ModelVersion], list[str]]] = []


def register_risk_lines(provider: Callable[[ModelVersion], list[str]]) -> None:
    if provider not in _RISK_LINES:
        _RISK_LINES.append(provider)


def _user(user) -> str:
    return user.get_username() if user else "-"


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


_SOURCES = {
    "provider": "the provider",
    "manual": "set by compliance",
    "base_model": "the base model's date",
    "azure_fine_tuned": "a year after its base model's training retirement (Azure)",
}


def lifecycle_facts(found: Runway) -> dict[str, str]:
    """What the provider catalogue says today about the model a version runs on: its shutdown and replacement."""
    if not found.known:
        missing = f"not in the catalogue ({found.model_id})"
        return {"Runs on": found.model_id, "Shuts down": missing, "Replacement": "not in the catalogue"}
    if found.shutdown_date is None:
        shutdown = "none announced"
    else:
        day = found.shutdown_date.isoformat()
        if found.state == LifecycleState.SHUTDOWN:
            shutdown = f"shut down on {day}"
        else:
            shutdown = f"{day} ({found.days_left} day{'s' if found.days_left != 1 else ''} left)"
        shutdown += f"; source: {_SOURCES.get(found.source, found.source)}"
    return {
        "Runs on": found.model_id,
        "Shuts down": shutdown,
        "Replacement": found.replacement or "none announced",
    }


def price_words(cost: dict) -> str:
    """The price a cost forecast used, as the report kept it: its rate, base model and the day it took effect."""
    price = cost.get("price") or None
    if not price:
        return "no price in the table for this base model"
    usd = price.get("usd_per_1m_training_tokens")
    words = f"${usd} per 1M training tokens"
    if price.get("base_model"):
        words += f" for {price['base_model']}"
    if price.get("effective_from"):
        words += f", in force from {price['effective_from']}"
    return words


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def data_card_entry(data: DataFile) -> dict[str, Any]:
    """One data file on the card: what its check measured, or that it was not checked (never PII or excerpts)."""
    entry = {"role": data.role, "sha256": data.sha256, "checked": data.checked, "facts": {}, "override": ""}
    check = data.check
    if not data.checked:
        if check is not None and check.check_status in ("queued", "running", "failed"):
            entry["facts"] = {"Check": f"not checked (its check is {check.check_status})"}
        else:
            entry["facts"] = {"Check": "not checked (no dataset with this SHA-256 was uploaded)"}
        return entry
    report = check.report
    tokens = report.get("tokens") or {}
    cost = report.get("cost") or {}
    leakage = report.get("leakage") or {}
    billed = cost.get("billed_tokens")
    if billed is None:
        billed_words = "not forecast (only training files are billed)"
    else:
        usd = cost.get("usd")
        billed_words = (
            f"{_count(billed)} billed tokens ({cost.get('epochs')} epochs); "
            + (f"${usd:,.2f}" if usd is not None else "no dollar figure")
            + f" at {price_words(cost)}"
        )
    goldens = check.goldens or tuple(leakage.get("goldens") or ())
    if leakage.get("checked") is False or not goldens:
        leak_words = "not compared against any golden set"
    else:
        leak_words = (
            f"{leakage.get('exact', 0)} exact, {leakage.get('near', 0)} near, against {len(goldens)} golden "
            f"set{'s' if len(goldens) != 1 else ''} ({', '.join(g[:12] for g in goldens)})"
        )
    entry["facts"] = {
        "Checked": _when(check.checked_at),
        "Examples": _count(report.get("examples")),
        "Tokens per example": f"p50 {_count(tokens.get('p50'))}, p95 {_count(tokens.get('p95'))}, "
        f"max {_count(tokens.get('max'))}",
        "Billed tokens and cost": billed_words,
        "Findings": f"{check.blocking} blocking, {check.warnings} warnings",
        "Golden-set leakage": leak_words,
    }
    if check.overridden:
        override = check.override
        entry["override"] = f"by {override.by or '-'} on {_when(override.at)}: {override.justification}"
    return entry


TYPED = "typed in, not supported by verdicts"


def _rate(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _tally_row(intent: str, tally: dict) -> dict[str, str]:
    """One line of a run's table: a win rate, its Wilson 95% interval and the counts it rests on."""
    interval = "-" if tally.get("lower") is None else f"[{_rate(tally['lower'])}, {_rate(tally['upper'])}]"
    return {
        "intent": intent,
        "win_rate": _rate(tally.get("win_rate")),
        "interval": interval,
        "n": str(tally["n"]),
        "wins": str(tally["wins"]),
        "ties": str(tally["ties"]),
        "losses": str(tally["losses"]),
    }


def _agreement_words(figures: dict) -> str:
    """Judge-human agreement, when some items were rated both by the judge and by a human; else ""."""
    judge_human = (figures.get("agreement") or {}).get("judge_human") or {}
    if not judge_human.get("items"):
        return ""
    kappa = judge_human.get("kappa")
    kappa_words = f"Cohen's kappa {kappa:.2f}" if kappa is not None else "Cohen's kappa undefined (one outcome only)"
    return (
        f"{judge_human['agreement']:.2f} of {judge_human['pairs']} judge-human pairs agree, "
        f"on {judge_human['items']} items rated by both; {kappa_words}"
    )


def evidence_entry(evaluation: EvaluationResult) -> dict[str, Any] | None:
    """What a side-by-side run's verdicts say, for an evaluation created from one; None when typed in.

    The run is reached through the reverse one-to-one `sbs_run` (the registry never imports sbs),
    loaded with the evaluation by the caller's select_related.
    """
    figures = evaluation.evidence
    if figures is None:
        return None
    run = getattr(evaluation, "sbs_run", None)
    golden = run.golden if run is not None else None
    if golden is not None and golden.golden_set_id is not None:
        golden_words = f"{golden.golden_set.name} v{golden.golden_version}"
    else:
        golden_words = f"SHA-256 {evaluation.golden_set_sha256}"
    share = figures.get("human_share")
    facts = {
        "Golden set": golden_words,
        "Baseline": evaluation.baseline or "-",
        "Judge": run.judge if run is not None else "-",
        "Verdicts": f"{figures['verdicts']:,} on {figures['items_rated']:,} of {figures['golden_items']:,} items",
        "Human-rated share": "-" if share is None else f"{share:.2f}",
    }
    agreement = _agreement_words(figures)
    if agreement:
        facts["Judge-human agreement"] = agreement
    return {
        "title": f"{evaluation.suite} against {evaluation.baseline or '-'}, ran {_when(evaluation.ran_at)}",
        "facts": facts,
        # Overall first, then every intent in name order (as run_figures keeps them).
        "rows": [_tally_row("overall", figures["overall"])]
        + [_tally_row(intent, tally) for intent, tally in figures["per_intent"].items()],
    }


def _metrics_words(evaluation: EvaluationResult) -> str:
    """The metrics as recorded; a win rate typed in by hand says it is not supported by verdicts."""
    words = []
    for name, value in sorted(evaluation.metrics.items()):
        typed = evaluation.evidence is None and name == "win_rate"
        words.append(f"{name} {value:g}" + (f" ({TYPED})" if typed else ""))
    return ", ".join(words)


def card_data(version: ModelVersion) -> dict[str, Any]:
    model = version.model
    found = versions_runway([version])[version.pk]
    gate = gates.gate_evaluate(version)
    decided = (
        Promotion.objects.filter(version=version)
        .exclude(status=PromotionStatus.PENDING)
        .select_related("requested_by", "decided_by")
        .order_by("decided_at")
    )
    deployments = Deployment.objects.filter(version=version).order_by("started_at")
    data = {
        "title": f"{model.display_name} ({model.name}) version {version.version}",
        "model": {
            "Purpose": model.purpose,
            "Permitted uses": model.permitted_uses or "-",
            "Out-of-scope uses": model.out_of_scope_uses or "-",
            "Business owner": _user(model.business_owner),
            "Technical owner": _user(model.technical_owner),
            "Base model (new versions)": model.base_model,
            "Risk tier": model.get_risk_tier_display(),
        },
        "version": {
            "Status": version.get_status_display(),
            "Registered": f"{_when(version.created_at)} by {_user(version.created_by)}",
            # The provider it was trained on (a model that moved keeps its earlier versions' provider).
            "Provider": version.get_provider_display(),
            "Base model": version.base_model,
            # From the provider catalogue as it is today (the fine-tuned model's own date, else its base model's).
            **lifecycle_facts(found),
            "Training file SHA-256": version.training_file_sha256,
            "Validation file SHA-256": version.validation_file_sha256 or "-",
            "Provider file ids": ", ".join(f for f in (version.training_file_id, version.validation_file_id) if f)
            or "-",
        },
        "changelog": version.changelog,
        "job": {
            "Job": version.provider_job_id or "-",
            "Status": version.job_status or "-",
            "Fine-tuned model": version.fine_tuned_model or "-",
            "Trained tokens": str(version.trained_tokens or "-"),
            "Hyperparameters": json.dumps(version.hyperparameters, sort_keys=True) if version.hyperparameters else "-",
            "Seed": str(version.seed if version.seed is not None else "-"),
            "Error": f"{version.job_error_code}: {version.job_error_message}" if version.job_error_code else "-",
        },
        "data_card": [data_card_entry(f) for f in version_data_files(version)],
        "evaluations": [
            {
                "suite": e.suite,
                "ran": f"{_when(e.ran_at)} by {_user(e.ran_by)}",
                "baseline": e.baseline or "-",
                "metrics": _metrics_words(e),
                "per_intent": ", ".join(f"{k} {v:g}" for k, v in sorted(e.per_intent.items())) or "-",
                "golden_set_sha256": e.golden_set_sha256,
                "evidence": evidence_entry(e),
            }
            for e in version.evaluations.select_related("ran_by", "sbs_run__golden__golden_set").order_by(
                "ran_at", "id"
            )
        ],
        "gate": {
            "passed": gate.passed,
            "policy": f"policy v{gate.policy.version}" if gate.policy.version else "the default policy",
            "rules": [
                {
                    "rule": r.rule,
                    "value": "-" if r.value is None else f"{r.value:g}",
                    "outcome": r.outcome,
                    "detail": r.detail,
                }
                for r in gate.rules
            ],
        },
        "decisions": [
            {
                "target": p.target + (f" {p.traffic_percent}%" if p.traffic_percent else ""),
                "requested": f"{_when(p.requested_at)} by {_user(p.requested_by)}: {p.justification}",
                "decision": f"{p.signature_meaning or p.status} {_when(p.decided_at)} by {_user(p.decided_by)}: "
                f"{p.decision_reason}",
                "override": p.override_justification or "",
            }
            for p in decided
        ],
        "deployments": [
            {
                "environment": d.environment,
                "traffic": f"{d.traffic_percent}%",
                "from": _when(d.started_at),
                "to": _when(d.ended_at) if d.ended_at else "now",
                "kind": d.kind,
            }
            for d in deployments
        ],
        "risks": [line for provider in _RISK_LINES for line in provider(version)],
        "generated_at": _when(timezone.now()),
    }
    facts = {k: v for k, v in data.items() if k != "generated_at"}
    data["sha256"] = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()
    return data


# One pass, so the entities and escapes added here are never escaped again. Brackets
# become entities, not backslash escapes, so no `](` is left for a looser parser to
# read as a link target.
_MD_LITERAL = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;", "\\": "\\\\", "`": "\\`", "|": "\\|"}
)


def md_text(value: Any) -> str:
    """Record-supplied text as literal Markdown inline text, safe in a paragraph, a list item or a table cell.

    `<` as an entity leaves no raw HTML tag and no `<scheme:...>` autolink; bracket
    entities leave no link or image; an escaped pipe cannot split a table cell; a
    newline would end the cell or the list item, so it becomes a space. Quotes stay
    as they are: they matter only inside a tag, and none can open. Block syntax (a
    leading `#` or `-` in a changelog) can restyle a paragraph but not link or run
    anything, so it is left alone.
    """
    return " ".join(str(value).translate(_MD_LITERAL).split())


EVIDENCE_COLUMNS = ("intent", "win_rate", "interval", "n", "wins", "ties", "losses")
EVIDENCE_HEADER = ["intent", "win rate", "95% interval", "n", "wins", "ties", "losses"]


def card_markdown(data: dict[str, Any]) -> str:
    # Every value from the records goes through md_text, even those that are choices
    # today: a field that becomes free text later must not become a way in.
    e = md_text
    lines = [f"# Model card: {e(data['title'])}", ""]

    def pairs(title: str, values: dict[str, str]) -> None:
        lines.extend([f"## {title}", "", "| | |", "|---|---|"])
        lines.extend(f"| {e(k)} | {e(v)} |" for k, v in values.items())
        lines.append("")

    pairs("Model", data["model"])
    pairs("Version", data["version"])
    # Each line of the changelog stays a paragraph of its own: escaped, it can still not link or run anything.
    changelog = [e(line) for line in data["changelog"].splitlines() if line.strip()]
    lines.extend(["## Changelog", "", "\n\n".join(changelog), ""])
    pairs("Fine-tune job", data["job"])
    lines.extend(["## Data card", ""])
    for f in data["data_card"]:
        lines.extend([f"### {e(f['role'].capitalize())} file `{f['sha256']}`", "", "| | |", "|---|---|"])
        lines.extend(f"| {e(k)} | {e(v)} |" for k, v in f["facts"].items())
        lines.append("")
        if f["override"]:
            lines.extend([f"**Findings overridden:** {e(f['override'])}", ""])
    if not data["data_card"]:
        lines.extend(["Not checked: the version names no data file.", ""])
    lines.extend(["## Evaluations", ""])
    if data["evaluations"]:
        lines.extend(["| suite | ran | baseline | metrics | per intent |", "|---|---|---|---|---|"])
        lines.extend(
            f"| {e(ev['suite'])} | {e(ev['ran'])} | {e(ev['baseline'])} | {e(ev['metrics'])} | {e(ev['per_intent'])} |"
            for ev in data["evaluations"]
        )
    else:
        lines.append("No evaluation recorded.")
    for ev in data["evaluations"]:
        evidence = ev["evidence"]
        if evidence is None:
            continue
        lines.extend(["", f"### Side-by-side evidence: {e(evidence['title'])}", "", "| | |", "|---|---|"])
        lines.extend(f"| {e(k)} | {e(v)} |" for k, v in evidence["facts"].items())
        lines.extend(
            ["", "| intent | win rate | 95% interval | n | wins | ties | losses |", "|---|---|---|---|---|---|---|"]
        )
        lines.extend("| " + " | ".join(e(row[key]) for key in EVIDENCE_COLUMNS) + " |" for row in evidence["rows"])
    gate = data["gate"]
    lines.extend(
        [
            "",
            f"## Release gate: {'passed' if gate['passed'] else 'not passed'} ({e(gate['policy'])})",
            "",
            "| rule | value | outcome | evidence |",
            "|---|---|---|---|",
        ]
    )
    lines.extend(f"| {e(r['rule'])} | {e(r['value'])} | {e(r['outcome'])} | {e(r['detail'])} |" for r in gate["rules"])
    lines.extend(["", "## Approvals", ""])
    for d in data["decisions"]:
        override = f" **Gate overridden:** {e(d['override'])}" if d["override"] else ""
        lines.append(f"- {e(d['target'])}: requested {e(d['requested'])}; {e(d['decision'])}.{override}")
    if not data["decisions"]:
        lines.append("No decision recorded.")
    lines.extend(["", "## Deployments", ""])
    for d in data["deployments"]:
        lines.append(f"- {e(d['environment'])} at {e(d['traffic'])}, {e(d['from'])} to {e(d['to'])} ({e(d['kind'])})")
    if not data["deployments"]:
        lines.append("Never deployed.")
    lines.extend(
        [
            "",
            "## Risks and incidents",
            "",
            *([f"- {e(line)}" for line in data["risks"]] or ["No risk or incident recorded for this version."]),
            "",
            "---",
            f"Generated from the records at {data['generated_at']}; not edited by hand. "
            f"SHA-256 of its facts: `{data['sha256']}`.",
            "",
        ]
    )
    return "\n".join(lines)


def card_pdf(data: dict[str, Any]) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    # An override stands out as it does on the admin page: a red rule, bold.
    flagged = ParagraphStyle(
        "flagged", parent=body, textColor=colors.HexColor("#c62828"), fontName="Helvetica-Bold", spaceBefore=4
    )

    def p(text: str, style=body) -> Paragraph:
        # Every record-supplied text is escaped: a changelog cannot inject markup.
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[str]], header: bool = False, widths: list[float] | None = None) -> Table:
        t = Table(
            [[p(c) for c in row] for row in rows],
            repeatRows=1 if header else 0,
            hAlign="LEFT",
            colWidths=[w * cm for w in widths] if widths else None,
        )
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    *([("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)] if header else []),
                ]
            )
        )
        return t

    story = [p(f"Model card: {data['title']}", styles["Title"])]
    for title, key in (("Model", "model"), ("Version", "version")):
        story += [p(title, styles["Heading2"]), table([[k, v] for k, v in data[key].items()])]
    story += [p("Changelog", styles["Heading2"]), p(data["changelog"])]
    story += [p("Fine-tune job", styles["Heading2"]), table([[k, v] for k, v in data["job"].items()])]
    # Each file's heading stays with its facts, and the section's heading with the first file:
    # the section never starts on a page's last line.
    section = [p("Data card", styles["Heading2"])]
    for f in data["data_card"]:
        block = [p(f"{f['role'].capitalize()} file {f['sha256']}", styles["Heading3"])]
        block += [table([[k, v] for k, v in f["facts"].items()])]
        if f["override"]:
            block += [p(f"Findings overridden: {f['override']}", flagged)]
        story.append(KeepTogether(section + block))
        section = []
    if not data["data_card"]:
        story += section
        story.append(p("Not checked: the version names no data file."))
    story += [p("Evaluations", styles["Heading2"])]
    if data["evaluations"]:
        story.append(
            table(
                [["suite", "ran", "baseline", "metrics", "per intent"]]
                + [[e["suite"], e["ran"], e["baseline"], e["metrics"], e["per_intent"]] for e in data["evaluations"]],
                header=True,
            )
        )
    else:
        story.append(p("No evaluation recorded."))
    for ev in data["evaluations"]:
        evidence = ev["evidence"]
        if evidence is None:
            continue
        story.append(
            KeepTogether(
                [
                    p(f"Side-by-side evidence: {evidence['title']}", styles["Heading3"]),
                    table([[k, v] for k, v in evidence["facts"].items()]),
                    Spacer(1, 0.2 * cm),
                    # Wide enough for an interval on one line, within the frame (about 17 cm).
                    table(
                        [EVIDENCE_HEADER] + [[row[k] for k in EVIDENCE_COLUMNS] for row in evidence["rows"]],
                        header=True,
                        widths=[4.8, 2.0, 4.0, 1.5, 1.5, 1.5, 1.5],
                    ),
                ]
            )
        )
    gate = data["gate"]
    story += [
        p(f"Release gate: {'passed' if gate['passed'] else 'not passed'} ({gate['policy']})", styles["Heading2"]),
        table(
            [["rule", "value", "outcome", "evidence"]]
            + [[r["rule"], r["value"], r["outcome"], r["detail"]] for r in gate["rules"]],
            header=True,
        ),
    ]
    story += [p("Approvals", styles["Heading2"])]
    story += [
        p(
            f"{d['target']}: requested {d['requested']}; {d['decision']}."
            + (f" Gate overridden: {d['override']}" if d["override"] else "")
        )
        for d in data["decisions"]
    ]
    if not data["decisions"]:
        story.append(p("No decision recorded."))
    story += [p("Deployments", styles["Heading2"])]
    story += [
        p(f"{d['environment']} at {d['traffic']}, {d['from']} to {d['to']} ({d['kind']})") for d in data["deployments"]
    ] or [p("Never deployed.")]
    story += [p("Risks and incidents", styles["Heading2"])]
    story += [p(line) for line in data["risks"]] or [p("No risk or incident recorded for this version.")]
    story += [
        Spacer(1, 0.5 * cm),
        p(
            f"Generated from the records at {data['generated_at']}; not edited by hand. "
            f"SHA-256 of its facts: {data['sha256']}"
        ),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer, pagesize=A4, title=f"Model card: {data['title']}", leftMargin=1.8 * cm, rightMargin=1.8 * cm
    ).build(story)
    return buffer.getvalue()
