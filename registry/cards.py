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
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.wording import plural
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
            shutdown = f"{day} ({plural(found.days_left, 'day')} left)"
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
        "Findings": f"{check.blocking} blocking, {plural(check.warnings, 'warning')}",
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


# How a reader says a metric; any other name is read with its underscores as spaces.
METRIC_WORDS = {
    "win_rate": "win rate",
    "refusal_rate": "refusal rate",
    "golden_score": "golden-set score",
    "p95_latency_ms": "p95 latency (ms)",
    "win_rate_lower": "win rate, lower 95% bound",
    "win_rate_upper": "win rate, upper 95% bound",
    "comparisons": "comparisons",
    "human_rated_share": "share rated by humans",
    "judge_human_kappa": "judge-human kappa",
}


def metric_words(name: str) -> str:
    return METRIC_WORDS.get(name, name.replace("_", " "))


def _metrics_words(evaluation: EvaluationResult) -> str:
    """The metrics as recorded, named in words; a win rate typed in by hand says it is not supported by verdicts."""
    words = []
    for name, value in sorted(evaluation.metrics.items()):
        typed = evaluation.evidence is None and name == "win_rate"
        words.append(f"{metric_words(name)} {value:g}" + (f" ({TYPED})" if typed else ""))
    return ", ".join(words)


def _tier_reason(model) -> str:
    """Why the model has its risk tier: the reason written when the tier was last set (the history keeps it)."""
    if model.risk_tier == "unclassified":
        return "Not classified yet: Compliance has not set a risk tier."
    rows = list(model.history.order_by("-history_date", "-history_id").values("risk_tier", "history_change_reason"))
    reason = ""
    for row, earlier in zip(rows, [*rows[1:], None], strict=True):
        if row["risk_tier"] == model.risk_tier and (earlier is None or earlier["risk_tier"] != model.risk_tier):
            reason = row["history_change_reason"] or ""
            break
    return reason or "No reason was written when the tier was set."


def _training_data_words(version: ModelVersion, data_card: list[dict]) -> list[str]:
    """What the version was trained on: the changelog's words, then what the data check measured."""
    lines = [line.strip() for line in version.changelog.splitlines() if line.strip()]
    for entry in data_card:
        facts = entry["facts"]
        if entry["checked"]:
            lines.append(
                f"{entry['role'].capitalize()} file {entry['sha256'][:12]}…: {facts['Examples']} examples, "
                f"checked {facts['Checked']}; findings: {facts['Findings']}; golden-set leakage: "
                f"{facts['Golden-set leakage']}."
            )
        else:
            lines.append(f"{entry['role'].capitalize()} file {entry['sha256'][:12]}…: not checked (see the data card).")
    return lines or ["No changelog and no data file recorded."]


def _evaluation_data_words(evaluations: list[dict]) -> list[str]:
    """What the version was evaluated on: the golden sets and side-by-side runs, or the digests typed in."""
    if not evaluations:
        return ["No evaluation recorded."]
    lines = []
    for ev in evaluations:
        evidence = ev["evidence"]
        if evidence is not None:
            facts = evidence["facts"]
            lines.append(
                f"{ev['suite']}: side-by-side run on golden set {facts['Golden set']} against "
                f"{facts['Baseline']}, judged by {facts['Judge']}; {facts['Verdicts']}."
            )
        else:
            lines.append(
                f"{ev['suite']}: results typed in, against {ev['baseline']}; golden set SHA-256 "
                f"{ev['golden_set_sha256'][:12]}…"
            )
    return lines


def _limitations(data: dict) -> list[str]:
    """What the records say this version cannot be relied on for."""
    lines = []
    typed = [ev for ev in data["evaluations"] if ev["evidence"] is None and TYPED in ev["metrics"]]
    if typed:
        lines.append(
            f"{plural(len(typed), 'win rate')} typed in by hand, not supported by verdicts: "
            "no interval says how far to trust them."
        )
    if not data["evaluations"]:
        lines.append("Never evaluated: its quality is unknown.")
    failed = [r for r in data["gate"]["rules"] if r["outcome"] != gates.PASS]
    for rule in failed:
        lines.append(f"Release gate rule {rule['rule']}: {rule['outcome']} ({rule['detail']}).")
    shuts = data["version"].get("Shuts down", "")
    if shuts.startswith("not in the catalogue"):
        lines.append("The model it runs on is not in the provider catalogue: no shutdown date is known.")
    elif shuts and shuts != "none announced":
        lines.append(f"The model it runs on shuts down: {shuts}.")
    unchecked = [f for f in data["data_card"] if not f["checked"]]
    if unchecked:
        lines.append(f"{plural(len(unchecked), 'data file')} not checked before training.")
    return lines or ["None recorded beyond the out-of-scope uses above."]


def _ethics(data: dict) -> list[str]:
    """What bears on people: overridden data findings, risks and incidents against the version."""
    lines = [f"Findings overridden on the {f['role']} file {f['override']}" for f in data["data_card"] if f["override"]]
    lines += data["risks"]
    lines.append(
        "Data files are checked for personal data and golden-set leakage before training; the card never "
        "shows their content."
    )
    return lines


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
        "intended_use": {"Purpose": model.purpose, "Permitted uses": model.permitted_uses or "-"},
        "out_of_scope_use": model.out_of_scope_uses or "None written: ask the business owner before any new use.",
        "model": {
            "Business owner": _user(model.business_owner),
            "Technical owner": _user(model.technical_owner),
            "Base model (new versions)": model.base_model,
            "Risk tier": model.get_risk_tier_display(),
            "Why this tier": _tier_reason(model),
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
                "status": p.get_status_display(),
                "approved": p.status == PromotionStatus.APPROVED,
                "by": _user(p.decided_by),
                "on": _when(p.decided_at),
                "meaning": p.signature_meaning or p.get_status_display(),
                "reason": p.decision_reason,
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
    data["training_data"] = _training_data_words(version, data["data_card"])
    data["evaluation_data"] = _evaluation_data_words(data["evaluations"])
    data["limitations"] = _limitations(data)
    data["ethics"] = _ethics(data)
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


def sign_off_rows(data: dict[str, Any]) -> list[list[str]]:
    """Who answers for this version, and who approved each step: role, name, what they signed, when."""
    model = data["model"]
    rows = [
        ["Business owner", model["Business owner"], "answers for its use", "-"],
        ["Technical owner", model["Technical owner"], "answers for how it is built and run", "-"],
    ]
    rows += [[f"Approver, {d['target']}", d["by"], d["meaning"], d["on"]] for d in data["decisions"] if d["approved"]]
    return rows


APPROVAL_HEADER = ["Target", "Requested", "Decision", "By", "On", "Reason"]


def approval_rows(data: dict[str, Any]) -> list[list[str]]:
    return [
        [
            d["target"],
            d["requested"],
            d["status"] + (f"; gate overridden: {d['override']}" if d["override"] else ""),
            d["by"],
            d["on"],
            d["reason"] or "-",
        ]
        for d in data["decisions"]
    ]


def card_markdown(data: dict[str, Any]) -> str:
    # Every value from the records goes through md_text, even those that are choices
    # today: a field that becomes free text later must not become a way in.
    e = md_text
    lines = [f"# Model card: {e(data['title'])}", ""]

    def pairs(title: str, values: dict[str, str]) -> None:
        lines.extend([f"## {title}", "", "| | |", "|---|---|"])
        lines.extend(f"| {e(k)} | {e(v)} |" for k, v in values.items())
        lines.append("")

    def items(title: str, values: list[str]) -> None:
        lines.extend([f"## {title}", "", *[f"- {e(v)}" for v in values], ""])

    def grid(header: list[str], rows: list[list[str]]) -> None:
        lines.extend(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)])
        lines.extend("| " + " | ".join(e(c) for c in row) + " |" for row in rows)
        lines.append("")

    pairs("Model", data["model"])
    pairs("Intended use", data["intended_use"])
    lines.extend(["## Out-of-scope use", "", e(data["out_of_scope_use"]), ""])
    pairs("Version", data["version"])
    # Each line of the changelog stays an item of its own: escaped, it can still not link or run anything.
    items("Training data", data["training_data"])
    items("Evaluation data", data["evaluation_data"])
    lines.extend(["## Evaluations", ""])
    if data["evaluations"]:
        grid(
            ["Suite", "Ran", "Baseline", "Metrics", "Per intent"],
            [[ev["suite"], ev["ran"], ev["baseline"], ev["metrics"], ev["per_intent"]] for ev in data["evaluations"]],
        )
    else:
        lines.extend(["No evaluation recorded.", ""])
    for ev in data["evaluations"]:
        evidence = ev["evidence"]
        if evidence is None:
            continue
        lines.extend([f"### Side-by-side evidence: {e(evidence['title'])}", "", "| | |", "|---|---|"])
        lines.extend(f"| {e(k)} | {e(v)} |" for k, v in evidence["facts"].items())
        lines.append("")
        grid(EVIDENCE_HEADER, [[row[key] for key in EVIDENCE_COLUMNS] for row in evidence["rows"]])
    gate = data["gate"]
    lines.extend([f"## Release gate: {'passed' if gate['passed'] else 'not passed'} ({e(gate['policy'])})", ""])
    grid(
        ["Rule", "Value", "Outcome", "Evidence"],
        [[r["rule"], r["value"], r["outcome"], r["detail"]] for r in gate["rules"]],
    )
    items("Limitations", data["limitations"])
    items("Ethical considerations", data["ethics"])
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
    lines.extend(["## Deployments", ""])
    for d in data["deployments"]:
        lines.append(f"- {e(d['environment'])} at {e(d['traffic'])}, {e(d['from'])} to {e(d['to'])} ({e(d['kind'])})")
    if not data["deployments"]:
        lines.append("Never deployed.")
    lines.append("")
    items("Risks and incidents", data["risks"] or ["No risk or incident recorded for this version."])
    lines.extend(["## Approvals", ""])
    if data["decisions"]:
        grid(APPROVAL_HEADER, approval_rows(data))
    else:
        lines.extend(["No decision recorded.", ""])
    lines.extend(["## Sign-off", ""])
    grid(["Role", "Name", "Signed for", "On"], sign_off_rows(data))
    lines.extend(
        [
            "---",
            f"Generated from the records at {data['generated_at']}; not edited by hand. "
            f"SHA-256 of its facts: `{data['sha256']}`.",
            "",
        ]
    )
    return "\n".join(lines)


def _unstranded(title: str) -> str:
    """Escaped, with its last two words held together, so a title that wraps never leaves one word alone."""
    head, _, last = escape(title).rpartition(" ")
    return f"{head}&nbsp;{last}" if head else last


class _NumberedCanvas(pdf_canvas.Canvas):
    """Writes "page n of m" at the foot of every page once the number of pages is known."""

    footer = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont("Helvetica", 7.5)
            self.setFillColor(colors.HexColor("#757575"))
            self.drawString(1.8 * cm, 1.1 * cm, self.footer)
            self.drawRightString(A4[0] - 1.8 * cm, 1.1 * cm, f"page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


def card_pdf(data: dict[str, Any]) -> bytes:
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    # A heading always goes to the next page with the first lines of what it heads.
    h2 = ParagraphStyle("CardH2", parent=styles["Heading2"], keepWithNext=1)
    h3 = ParagraphStyle("CardH3", parent=styles["Heading3"], keepWithNext=1)
    # An override stands out as it does on the admin page: a red rule, bold.
    flagged = ParagraphStyle(
        "flagged", parent=body, textColor=colors.HexColor("#c62828"), fontName="Helvetica-Bold", spaceBefore=4
    )
    cell = ParagraphStyle("CardCell", parent=body, fontSize=9, leading=11)
    bold_cell = ParagraphStyle("CardHead", parent=cell, fontName="Helvetica-Bold")

    def p(text: str, style=body) -> Paragraph:
        # Every record-supplied text is escaped: a changelog cannot inject markup.
        return Paragraph(escape(str(text)), style)

    def table(rows: list[list[str]], header: bool = False, widths: list[float] | None = None) -> Table:
        t = Table(
            [[p(c, bold_cell if header and i == 0 else cell) for c in row] for i, row in enumerate(rows)],
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

    def pairs(values: dict[str, str]) -> Table:
        return table([[k, v] for k, v in values.items()], widths=[4.6, 12.8])

    def bullets(values: list[str]) -> list:
        return [Paragraph("\u2022 " + escape(str(v)), body) for v in values]

    story = [Paragraph(f"Model card: {_unstranded(data['title'])}", styles["Title"])]
    story += [p("Model", h2), pairs(data["model"])]
    story += [p("Intended use", h2), pairs(data["intended_use"])]
    story += [p("Out-of-scope use", h2), p(data["out_of_scope_use"])]
    story += [p("Version", h2), pairs(data["version"])]
    story += [p("Training data", h2), *bullets(data["training_data"])]
    story += [p("Evaluation data", h2), *bullets(data["evaluation_data"])]
    story += [p("Evaluations", h2)]
    if data["evaluations"]:
        story.append(
            table(
                [["Suite", "Ran", "Baseline", "Metrics", "Per intent"]]
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
                    p(f"Side-by-side evidence: {evidence['title']}", h3),
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
        p(f"Release gate: {'passed' if gate['passed'] else 'not passed'} ({gate['policy']})", h2),
        table(
            [["Rule", "Value", "Outcome", "Evidence"]]
            + [[r["rule"], r["value"], r["outcome"], r["detail"]] for r in gate["rules"]],
            header=True,
        ),
    ]
    story += [p("Limitations", h2), *bullets(data["limitations"])]
    story += [p("Ethical considerations", h2), *bullets(data["ethics"])]
    story += [p("Fine-tune job", h2), pairs(data["job"])]
    # Each file's heading stays with its facts, and the section's heading with the first file:
    # the section never starts on a page's last line.
    section = [p("Data card", h2)]
    for f in data["data_card"]:
        block = [p(f"{f['role'].capitalize()} file {f['sha256']}", h3)]
        block += [pairs(f["facts"])]
        if f["override"]:
            block += [p(f"Findings overridden: {f['override']}", flagged)]
        story.append(KeepTogether(section + block))
        section = []
    if not data["data_card"]:
        story += section
        story.append(p("Not checked: the version names no data file."))
    story += [p("Deployments", h2)]
    story += [
        p(f"{d['environment']} at {d['traffic']}, {d['from']} to {d['to']} ({d['kind']})") for d in data["deployments"]
    ] or [p("Never deployed.")]
    story += [p("Risks and incidents", h2)]
    story += bullets(data["risks"]) or [p("No risk or incident recorded for this version.")]
    story += [p("Approvals", h2)]
    if data["decisions"]:
        story.append(table([APPROVAL_HEADER, *approval_rows(data)], header=True, widths=[2.0, 4.0, 2.6, 2.2, 2.4, 4.2]))
    else:
        story.append(p("No decision recorded."))
    story.append(
        KeepTogether(
            [
                p("Sign-off", h2),
                table([["Role", "Name", "Signed for", "On"], *sign_off_rows(data)], header=True, widths=[4, 3.4, 6, 4]),
                Spacer(1, 0.5 * cm),
                p(
                    f"Generated from the records at {data['generated_at']}; not edited by hand. "
                    f"SHA-256 of its facts: {data['sha256']}"
                ),
            ]
        )
    )
    buffer = io.BytesIO()

    class Canvas(_NumberedCanvas):
        footer = f"Model card: {data['title']}"

    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Model card: {data['title']}",
        leftMargin=1.8 * cm,
        rightMargin=1.8 * cm,
        bottomMargin=1.8 * cm,
    ).build(story, canvasmaker=Canvas)
    return buffer.getvalue()
