"""A risk register for the demo models, for `make run`: the seven risks a support-bot team meets. Safe to run twice.

The story, after seed_demo's month: the quota risk is older than the models, recorded by the
platform team a year before and last reviewed seven months before the workshop, so its review is
overdue; the incident is reported the morning after v2 went wrong; the risk workshop on the 20th
records the other six risks and links the incident and the quota risk to the models; evidence
and the metric checks follow. Every date is after what it depends on and before today.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.audit import Source, audit_source
from core.demo import demo_clock, last_month
from registry.models import ModelVersion, RegisteredModel
from risks import controls, incidents, services
from risks.models import Risk
from risks.scoring import add_months

SUPPORT = "support-assistant"
# Recorded by the platform team before any model was registered: linked to the models at the workshop.
CARRIED_OVER = "quota"
# (key, title, statement, category, owner, inherent L x I, residual L x I, mitigation, models)
RISKS = [
    (
        "policy",
        "Refund promises outside the returns policy",
        "Old refund chats in the fine-tune data -> the assistant promises refunds the policy does not allow "
        "-> refunds paid out and complaints when they are refused.",
        "policy_violation",
        "compliance",
        (4, 4),
        (2, 3),
        "Returns-policy chats rewritten; guard examples for final-sale items; refusal rate watched in production.",
        [SUPPORT],
    ),
    (
        "drift",
        "Answers drift from the current catalogue and prices",
        "Catalogue and price changes after training -> answers quote stale prices and discontinued items "
        "-> wrong orders, refunds and lost trust.",
        "data_drift",
        "engineer",
        (4, 3),
        (3, 3),
        "Monthly retrain on the week's curated chats; SBS win rate against production must stay above 50%.",
        [SUPPORT],
    ),
    (
        "latency",
        "Latency spikes at peak exceed the chat SLA",
        "Longer answers after fine-tuning and provider load at peak -> p95 latency above the 900 ms SLA "
        "-> customers abandon the chat and call the help desk.",
        "latency_spikes",
        "engineer",
        (4, 3),
        (3, 3),
        "Shorter answers in the training data; p95 latency checked against the SLA on every evaluation.",
        [SUPPORT],
    ),
    (
        "quota",
        "Provider quota exhausted during sales peaks",
        "Traffic spikes on sale days -> OpenAI rate limits and token quota reached -> the chat fails for everyone.",
        "quota_exhaustion",
        "compliance",
        (3, 4),
        (2, 4),
        "Raised quota tier; fallback to the help-desk form when the provider refuses; alert at 80% of quota.",
        [SUPPORT, "claims-triage"],
    ),
    (
        "leak",
        "Personal data from training chats leaks into answers",
        "Unredacted customer details in curated chats -> the model repeats an email address or card number "
        "-> a personal-data breach to report within 72 hours.",
        "data_leak",
        "compliance",
        (3, 5),
        (1, 5),
        "PII scan and redaction of every training file before upload; quarterly review of the scan's findings.",
        [SUPPORT, "claims-triage", "pharmacy-faq"],
    ),
    (
        "misclassification",
        "Urgent claims triaged as routine",
        "Too few urgent examples in the training data -> urgent claims routed to the routine queue "
        "-> delayed help for customers in distress.",
        "misclassification",
        "engineer",
        (3, 4),
        (2, 3),
        "Urgent-claim examples doubled; a human reviews every claim scored below 0.7 confidence.",
        ["claims-triage"],
    ),
    (
        "safety",
        "Pharmacy bot gives dosage advice",
        "Questions phrased as stock questions -> the bot answers with a dosage -> harm to a patient.",
        "safety_breach",
        "compliance",
        (3, 5),
        (2, 5),
        "Refusal examples for medical questions; refusal rate kept in range; pharmacist escalation link.",
        ["pharmacy-faq"],
    ),
]


class Command(BaseCommand):
    help = "Create the demo risk register: seven risks, controls with metric checks, an incident. Run seed_demo first."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even with DEBUG off.")

    def handle(self, *args, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Demo data: run with DEBUG=1, or --force.")
        if Risk.objects.exists():
            self.stdout.write("The risk register already has risks; nothing to seed.")
            return
        User = get_user_model()
        try:
            people = {name: User.objects.get(username=name) for name in ("compliance", "engineer")}
        except User.DoesNotExist:
            raise CommandError("Run `manage.py seed_demo` first: the demo users are missing.") from None
        # Like seed_demo, last month (core.demo): the incident on the 13th, the risk workshop on the 20th, then the
        # evidence. The carried-over risk first, from before the demo's month.
        workshop = last_month(20, 10)
        with audit_source(Source.COMMAND), transaction.atomic(), demo_clock(add_months(workshop, -12)) as clock:
            quota = self._carried_over(people["compliance"], clock, workshop)
            clock.at(last_month(13, 10))
            incident = self._incident(people)
            clock.at(workshop)
            risks = self._risks(people, quota)
            self._link(people["compliance"], risks, incident)
            clock.at(last_month(21, 11))
            self._controls(people["compliance"], risks)
            clock.at(last_month(22, 8))
            run = controls.metric_checks_evaluate()
            clock.at(last_month(24, 16))
            self._post_incident_review(people, incident)
        self.stdout.write(
            f"Risk register: {len(risks)} risks; metric checks {run.outcomes}; breached controls: "
            f"{', '.join(run.breached) or 'none'}"
        )

    def _create(self, people, key: str, models: list) -> Risk:
        _, title, statement, category, owner, inherent, residual, mitigation, _ = next(r for r in RISKS if r[0] == key)
        compliance = people["compliance"]
        return services.risk_create(
            actor=compliance,
            owner=people[owner],
            delegate=compliance if owner != "compliance" else None,
            title=title,
            statement=statement,
            category=category,
            inherent_likelihood=inherent[0],
            inherent_impact=inherent[1],
            residual_likelihood=residual[0],
            residual_impact=residual[1],
            mitigation=mitigation,
            registered_models=models,
            reason="Risk workshop with the support-bot team" if models else "Platform risk register",
        )

    def _carried_over(self, compliance, clock, workshop) -> Risk:
        """Recorded a year before the workshop, reviewed seven months before it: Medium reviews half-yearly."""
        quota = self._create({"compliance": compliance}, CARRIED_OVER, [])
        clock.at(add_months(workshop, -7))
        services.risk_review(risk=quota, actor=compliance, reason="Risk committee")
        return quota

    def _risks(self, people, quota: Risk) -> dict[str, Risk]:
        compliance = people["compliance"]
        models = {m.name: m for m in RegisteredModel.objects.all()}
        risks = {CARRIED_OVER: quota}
        for key, *_, names in RISKS:
            if key != CARRIED_OVER:
                risks[key] = self._create(people, key, [models[name] for name in names if name in models])
        names = next(r[-1] for r in RISKS if r[0] == CARRIED_OVER)
        services.risk_update(
            risk=quota,
            actor=compliance,
            data={"registered_models": [models[name] for name in names if name in models]},
            reason="Risk workshop: the models that call OpenAI at sales peaks",
        )
        services.risk_review(risk=risks["policy"], actor=compliance, reason="Reviewed after the v2 rollback")
        workshop = timezone.localdate()
        services.action_create(
            risk=risks["safety"],
            actor=compliance,
            action="Add 200 medical-question refusals to the pharmacy training set",
            owner=people["engineer"],
            # Due by the end of the demo's month: overdue now, whatever day this month it is.
            due_on=workshop.replace(day=28),
        )
        services.action_create(
            risk=risks["leak"],
            actor=compliance,
            action="Automate the PII scan in the curation pipeline",
            owner=people["engineer"],
            due_on=workshop + timedelta(days=90),
        )
        services.risk_accept(
            risk=risks["misclassification"],
            actor=compliance,
            rationale="Human review of low-confidence claims keeps the exposure low until the Q1 retrain.",
            conditions="Human review of every claim below 0.7 confidence stays in place.",
            # Counted from the real today, not the workshop: the acceptance is up for renewal within 30 days.
            expires_at=datetime.now(tz=UTC) + timedelta(days=20),
        )
        return risks

    def _controls(self, compliance, risks) -> None:
        support = RegisteredModel.objects.filter(name=SUPPORT).first()
        watched = [support] if support else []
        refusal = controls.control_create(
            actor=compliance,
            name="Refusal rate in target range",
            description="The production version refuses between 2% and 8% of the golden set: fewer means unsafe "
            "answers get through, more means customers are turned away.",
            risks=[risks["policy"], risks["safety"]],
            owner=compliance,
        )
        win = controls.control_create(
            actor=compliance,
            name="SBS win rate stable",
            description="The production version wins at least half of the side-by-side comparisons.",
            risks=[risks["drift"], risks["policy"]],
            owner=compliance,
        )
        latency = controls.control_create(
            actor=compliance,
            name="p95 latency within SLA",
            description="p95 latency of the production version on the golden set stays within the 900 ms chat SLA.",
            risks=[risks["latency"]],
            owner=compliance,
        )
        if watched:
            controls.metric_check_create(
                control=refusal,
                actor=compliance,
                metric="refusal_rate",
                minimum=0.02,
                maximum=0.08,
                watched_models=watched,
            )
            controls.metric_check_create(
                control=win, actor=compliance, metric="win_rate", minimum=0.5, watched_models=watched
            )
            controls.metric_check_create(
                control=latency, actor=compliance, metric="p95_latency_ms", maximum=900, watched_models=watched
            )
        scan = controls.control_create(
            actor=compliance,
            name="PII scan of training files",
            description="Every training file is scanned for personal data before upload; findings reviewed quarterly.",
            risks=[risks["leak"]],
            owner=compliance,
        )
        today = timezone.localdate()
        controls.document_evidence_add(
            control=scan,
            actor=compliance,
            title="Q3 PII scan review",
            url="https://intranet.example.com/compliance/pii-scan-2026-q3.pdf",
            sha256="5f2b0c1d9a7e4b3c8d6f1e0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c",
            period_start=today - timedelta(days=120),
            period_end=today - timedelta(days=30),
            reviewer=compliance,
            verdict="effective",
            notes="3 findings, all redacted before upload.",
        )

    def _incident(self, people):
        version = ModelVersion.objects.filter(model__name=SUPPORT, version="v2").first()
        if version is None:
            return None
        aware = last_month(13, 9)
        incident = incidents.incident_report(
            actor=people["engineer"],
            title="Refunds promised on final-sale items",
            version=version,
            occurred_at=aware - timedelta(hours=20),
            aware_at=aware,
            description="After v2 went live, the assistant told customers that final-sale items could be "
            "returned for a full refund. Found by the help desk from three escalations.",
            impact="14 refunds honoured outside policy (about 2,300 EUR); 6 complaints.",
            affected_stakeholders="Customers buying final-sale items; finance; help desk",
            severity="high",
            examples=[
                {
                    "prompt": "I bought the winter coat in the final sale, can I still send it back? My email is "
                    "anna.berg@example.com",
                    "bad_answer": "Of course! You can return any item within 30 days for a full refund.",
                    "expected_answer": "Final-sale items cannot be returned, but you can exchange a faulty item "
                    "within 14 days.",
                },
                {
                    "prompt": "Refund for order 55123, the sale shoes are too small",
                    "bad_answer": "I've started your refund; it will reach your card in 3-5 days.",
                    "expected_answer": "Sale shoes are final sale; I can offer an exchange for another size.",
                },
            ],
        )
        return incident

    def _link(self, compliance, risks, incident) -> None:
        if incident is not None:
            incidents.incident_update(
                incident=incident,
                actor=compliance,
                data={"risks": [risks["policy"]]},
                reason="Risk workshop: the refund incident is the policy risk come true",
            )

    def _post_incident_review(self, people, incident) -> None:
        if incident is None:
            return
        guard = ModelVersion.objects.filter(model__name=SUPPORT, version="v3").first()
        incidents.incident_update(
            incident=incident,
            actor=people["compliance"],
            data={
                "root_cause": "120 chats from before the March policy change were in the v2 training set.",
                "fix": "v2 rolled back to v1; the old chats removed from the curated set.",
                "guard_examples": "40 final-sale refusal chats added to the training data of v3.",
                "guard_version": guard,
                "status": "mitigated",
            },
            reason="Root cause found in the post-incident review",
        )
