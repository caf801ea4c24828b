"""The register acts by itself on the provider lifecycle: runway risks opened, raised and closed.

Every hour (risks.tasks.lifecycle_risks_update_task) Fineprint looks at each live
deployment's runway (registry.runway). A registered model with a live deployment
whose base model shuts down within LIFECYCLE_WARN_DAYS gets ONE risk, found again
on every tick through its RunwayRisk link, with a treatment action "Migrate ...
before DATE". As the shutdown nears, its residual score rises a stage at a time:

    stage       days left                    residual (2026.1)     band
    warning     <= LIFECYCLE_WARN_DAYS (90)  likelihood 2 x impact 4 = 8   Medium
    near        <= 30                        3 x 4 = 12                    High
    imminent    <= 7                         5 x 4 = 20                    Critical
    shut_down   <= 0 (the date has come)     5 x 5 = 25                    Critical

The inherent score is 5 x 5 = 25 (untreated, the model certainly stops answering),
so the residual never exceeds it. The scores are set when the stage changes, never
in between: a compliance officer's own assessment stands until the next stage.
The model's owners are emailed once per stage of the first three (90, 30, 7 days;
a risk first seen at 5 days gets the 7-day email only). When no live deployment of
the model runs on a base that shuts down within the window any more (production
moved to a version on an active base, or the provider withdrew or postponed the
date), the risk closes itself with the reason and its action is marked done (the
model moved) or cancelled (the date went away).

Everything is written by the service account with a reason, one model per
transaction, and only when something changed: ten ticks in a row write nothing
after the first. The service account holds no role, so these writes do what
risks.services does (same validation, cadence and acceptance rules) without its
role check, reusing its helpers.

Emails go through an outbox (RunwayNotice): the row is written in the same
transaction as the change that owes it, so a committed stage always has its
notices, and a unique constraint makes it once per stage and person. They are
sent after commit, each claimed by a conditional update so two workers never
both send it. Delivery is at least once: a worker that dies after the mail
server accepted a message but before recording it leaves the claim to expire
(NOTICE_LEASE), and the next tick sends it again; a failed send is retried on
the next tick.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.audit import audited_save, service_user
from core.references import reference_next
from core.validation import full_clean
from core.wording import plural
from lifecycle.selectors import IMMINENT_DAYS, NEAR_DAYS, Runway, runway_urgency
from lifecycle.selectors import today as lifecycle_today
from registry.models import Environment, RegisteredModel
from registry.runway import LiveDeployment, live_deployments
from risks.models import (
    AcceptanceStatus,
    ActionStatus,
    Category,
    NoticeStatus,
    Risk,
    RiskStatus,
    RunwayNotice,
    RunwayRisk,
    RunwayStage,
    Treatment,
    TreatmentAction,
)
from risks.models.risk import ACTION_FINISHED
from risks.scoring import Band, matrix
from risks.services import acceptance_active, acceptance_end, relations_set, risk_lock, risk_scores_settle

logger = logging.getLogger(__name__)

# The stages after the warning window (LIFECYCLE_WARN_DAYS, a setting): fixed by issue 11.
INHERENT = (5, 5)  # (likelihood, impact): without a migration the model certainly stops answering
RESIDUAL = {
    RunwayStage.WARNING: (2, 4),  # Medium 8: time to migrate, nothing done yet
    RunwayStage.NEAR: (3, 4),  # High 12
    RunwayStage.IMMINENT: (5, 4),  # Critical 20: a week is too short to train, gate and approve
    RunwayStage.SHUT_DOWN: (5, 5),  # Critical 25: the deployment has stopped answering
}
# The stages whose owners are emailed (the day it shuts down tells them nothing new).
NOTIFIED = (RunwayStage.WARNING, RunwayStage.NEAR, RunwayStage.IMMINENT)
# How long a claimed notice may stay unsent before another tick sends it: far longer than
# any send may take (EMAIL_TIMEOUT per attempt to connect or answer).
NOTICE_LEASE = timedelta(minutes=15)
ACTION_LEAD_DAYS = 1  # the action is due the day before the shutdown: the last day it still runs


def runway_stage(days_left: int | None, *, warn_days: int) -> str | None:
    """The stage of a runway with `days_left`, or None outside the warning window (or no date)."""
    # RunwayStage's values are lifecycle's urgency words: the thresholds live once, there.
    return runway_urgency(days_left, warn_days=warn_days)


def threshold_of(stage: str, *, warn_days: int) -> str:
    return {
        RunwayStage.WARNING: f"within the {warn_days}-day warning window",
        RunwayStage.NEAR: f"{NEAR_DAYS} days or fewer",
        RunwayStage.IMMINENT: f"{IMMINENT_DAYS} days or fewer",
        RunwayStage.SHUT_DOWN: "the shutdown date has come",
    }[stage]


@dataclass
class LifecycleRiskRun:
    """What one tick did, by risk reference (the task's result)."""

    on: date
    opened: list[str] = field(default_factory=list)
    rescored: list[str] = field(default_factory=list)
    restated: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    notices_owed: int = 0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["on"] = self.on.isoformat()
        return data


@dataclass
class NoticeRun:
    sent: int = 0
    failed: int = 0


# --- The tick ---------------------------------------------------------------------------


def lifecycle_risks_update(*, on: date | None = None) -> LifecycleRiskRun:
    """Open, raise, restate and close the runway risks as of `on` (today); then send what is owed."""
    on = on or lifecycle_today()
    warn_days = settings.LIFECYCLE_WARN_DAYS
    actor = service_user()
    run = LifecycleRiskRun(on=on)
    by_model: dict[int, list[LiveDeployment]] = {}
    for live in live_deployments(on=on):
        by_model.setdefault(live.deployment.model_id, []).append(live)
    at_risk = {
        model_id
        for model_id, rows in by_model.items()
        if any(runway_stage(r.runway.days_left, warn_days=warn_days) for r in rows)
    }
    watched = set(RunwayRisk.objects.filter(closed_at__isnull=True).values_list("model_id", flat=True))
    for model_id in sorted(at_risk | watched):
        try:
            with transaction.atomic():
                _model_settle(
                    model_id=model_id, rows=by_model.get(model_id, []), on=on, warn_days=warn_days, actor=actor, run=run
                )
        except IntegrityError:
            # Another worker opened the risk between our read and our write: it is done.
            logger.info("runway risk of model %s settled by another run", model_id)
    # Also sends what an earlier tick owed and could not send (mail server down, worker lost).
    transaction.on_commit(runway_notices_send)
    return run


def _model_settle(
    *, model_id: int, rows: list[LiveDeployment], on: date, warn_days: int, actor, run: LifecycleRiskRun
) -> None:
    # The model's row lock serialises two ticks (and a promotion) on the same model.
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    link = RunwayRisk.objects.select_for_update().filter(model=model, closed_at__isnull=True).first()
    affected = [r for r in rows if runway_stage(r.runway.days_left, warn_days=warn_days)]
    if not affected:
        if link is not None:
            _close(link, model=model, rows=rows, warn_days=warn_days, actor=actor, run=run)
        return
    if link is None:
        _open(model, affected=affected, warn_days=warn_days, actor=actor, run=run)
    else:
        _follow(link, model=model, affected=affected, warn_days=warn_days, actor=actor, run=run)


# --- What the risk says ------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """The runway of a model's affected live deployments, soonest shutdown first."""

    model: RegisteredModel
    affected: list[LiveDeployment]
    warn_days: int

    @property
    def headline(self) -> Runway:
        return self.affected[0].runway

    @property
    def base_model(self) -> str:
        return self.headline.base_model

    @property
    def shutdown_date(self) -> date:
        return self.headline.shutdown_date

    @property
    def days_left(self) -> int:
        return self.headline.days_left

    @property
    def stage(self) -> str:
        return runway_stage(self.days_left, warn_days=self.warn_days)

    @property
    def provider(self) -> str:
        return self.model.get_provider_display()

    @property
    def versions(self) -> list:
        return list({r.deployment.version_id: r.deployment.version for r in self.affected}.values())

    def deployment_names(self) -> list[str]:
        names = []
        # Production first: it is what the organisation runs on.
        for row in sorted(self.affected, key=lambda r: r.deployment.environment != Environment.PRODUCTION):
            name = f"{row.deployment.environment} {row.deployment.version.version}"
            if (row.runway.base_model, row.runway.shutdown_date) != (self.base_model, self.shutdown_date):
                name += f" (on {row.runway.base_model}, shuts down {row.runway.shutdown_date:%Y-%m-%d})"
            names.append(name)
        return names

    @property
    def deployments(self) -> str:
        return _join(self.deployment_names())[:500]

    @property
    def title(self) -> str:
        return f"{self.model.name}: base model {self.base_model} shuts down {self.shutdown_date:%Y-%m-%d}"[:200]

    @property
    def statement(self) -> str:
        day = f"{self.shutdown_date:%Y-%m-%d}"
        verb = "stops" if len(self.affected) == 1 else "stop"
        return (
            f"{self.provider} shuts down {self.base_model} on {day}, and a fine-tuned model shuts down with its "
            f"base model -> {self.model.name}'s {self.deployments} {verb} answering on that day -> whatever relies "
            f"on {self.model.name} fails from {day} unless it is migrated to a version on an active base model."
        )

    @property
    def action(self) -> str:
        return f"Migrate {self.model.name} to an active base model before {self.shutdown_date:%Y-%m-%d}"

    @property
    def due_on(self) -> date:
        return self.shutdown_date - timedelta(days=ACTION_LEAD_DAYS)

    @property
    def days_text(self) -> str:
        if self.days_left > 0:
            return f"{plural(self.days_left, 'day')} left"
        return "shut down today" if self.days_left == 0 else f"shut down {plural(-self.days_left, 'day')} ago"

    @property
    def when(self) -> str:
        day = f"{self.shutdown_date:%Y-%m-%d}"
        if self.days_left > 0:
            return f"{self.days_text} until {self.base_model} shuts down on {day}"
        return f"{self.base_model} shut down on {day}"

    @property
    def threshold(self) -> str:
        return threshold_of(self.stage, warn_days=self.warn_days)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _scored(likelihood: int, impact: int) -> str:
    scoring = matrix()
    band = Band(scoring.band(likelihood, impact)).label
    return f"{band} ({likelihood} x {impact} = {scoring.score(likelihood, impact)})"


def _owner_of(model: RegisteredModel):
    return model.technical_owner or model.business_owner or service_user()


# --- Open, follow, close -------------------------------------------------------------------


def _open(model: RegisteredModel, *, affected: list[LiveDeployment], warn_days: int, actor, run) -> None:
    facts = Facts(model, affected, warn_days)
    owner = _owner_of(model)
    likelihood, impact = RESIDUAL[facts.stage]
    now = timezone.now()
    risk = Risk(
        title=facts.title,
        statement=facts.statement,
        category=Category.NIST_VALUE_CHAIN,
        owner=owner,
        inherent_likelihood=INHERENT[0],
        inherent_impact=INHERENT[1],
        residual_likelihood=likelihood,
        residual_impact=impact,
        treatment=Treatment.MITIGATE,
        mitigation=(
            "Train and evaluate a version on a base model with no announced shutdown, pass its release gate "
            f"against the current production version, and promote it before {facts.shutdown_date:%Y-%m-%d}."
        ),
        # Its treatment action is planned in the same transaction.
        status=RiskStatus.IN_TREATMENT,
        next_review_at=now,
        created_by=actor,
    )
    full_clean(risk, exclude=["reference", "owner", "delegate", "created_by"], validate_unique=False)
    risk.next_review_at = matrix(risk.matrix_version).next_review(risk.residual_band, now)
    risk.reference = reference_next("RISK")
    reason = (
        f"Opened by Fineprint: {facts.deployments} of {model.name} on {facts.base_model}, which shuts down on "
        f"{facts.shutdown_date:%Y-%m-%d} ({facts.days_text}, {facts.threshold}): residual "
        f"{_scored(likelihood, impact)}"
    )
    audited_save(risk, actor=actor, reason=reason)
    relations_set(risk, {"registered_models": [model], "model_versions": facts.versions}, actor=actor, reason=reason)
    action = TreatmentAction(risk=risk, action=facts.action, owner=owner, due_on=facts.due_on, created_by=actor)
    full_clean(action, exclude=["risk", "owner", "created_by"])
    audited_save(action, actor=actor, reason=f"Treatment action for {risk.reference} planned by Fineprint: {reason}")
    link = RunwayRisk(
        model=model,
        risk=risk,
        action=action,
        base_model=facts.base_model,
        shutdown_date=facts.shutdown_date,
        deployments=facts.deployments,
        stage=facts.stage,
    )
    audited_save(link, actor=actor, reason=reason)
    run.opened.append(risk.reference)
    run.notices_owed += _notices_owe(link, facts=facts, risk=risk)


def _follow(link: RunwayRisk, *, model: RegisteredModel, affected: list[LiveDeployment], warn_days: int, actor, run):
    """Bring an open runway risk in line with the facts; write only what changed."""
    facts = Facts(model, affected, warn_days)
    risk = risk_lock(link.risk)
    reasons: list[str] = []
    if risk.status == RiskStatus.CLOSED:
        # Closed by hand while the deployment still runs on a retiring base: the risk is still there.
        # (Deciding to live with it is an acceptance, which stands until the risk turns Critical.)
        has_action = link.action_id and link.action.status not in ACTION_FINISHED
        risk.status = RiskStatus.IN_TREATMENT if has_action else RiskStatus.OPEN
        reasons.append(
            f"Reopened by Fineprint: {facts.deployments} of {model.name} still on {facts.base_model}, which shuts "
            f"down on {facts.shutdown_date:%Y-%m-%d} ({facts.days_text})"
        )
        run.reopened.append(risk.reference)
    moved = (link.base_model, link.shutdown_date) != (facts.base_model, facts.shutdown_date)
    restated = moved or link.deployments != facts.deployments
    if restated:
        if moved and link.base_model == facts.base_model:
            what = (
                f"{facts.provider} moved the shutdown of {facts.base_model} from {link.shutdown_date:%Y-%m-%d} "
                f"to {facts.shutdown_date:%Y-%m-%d}"
            )
        elif moved:
            what = f"the soonest shutdown is now {facts.base_model} on {facts.shutdown_date:%Y-%m-%d}"
        else:
            what = f"the affected deployments are now {facts.deployments} (were {link.deployments})"
        reasons.append(f"Restated by Fineprint: {what}")
        risk.title, risk.statement = facts.title, facts.statement
        run.restated.append(risk.reference)
    rescored = link.stage != facts.stage
    if rescored:
        likelihood, impact = RESIDUAL[facts.stage]
        before = _scored(risk.residual_likelihood, risk.residual_impact)
        risk.residual_likelihood, risk.residual_impact = likelihood, impact
        # Never below the residual: a hand-lowered inherent score is raised with it.
        risk.inherent_likelihood = max(risk.inherent_likelihood, likelihood)
        risk.inherent_impact = max(risk.inherent_impact, impact)
        reasons.append(f"{facts.when} ({facts.threshold}): residual {before} -> {_scored(likelihood, impact)}")
        run.rescored.append(risk.reference)
    if reasons:
        reason = "; ".join(reasons)
        _risk_save(risk, actor=actor, reason=reason)
        if restated:
            relations_set(risk, {"model_versions": facts.versions}, actor=actor, reason=reason)
            _action_restate(link, facts=facts, actor=actor, reason=reason)
        link.base_model, link.shutdown_date, link.deployments = facts.base_model, facts.shutdown_date, facts.deployments
        link.stage = facts.stage
        audited_save(link, actor=actor, reason=reason)
    if rescored:
        run.notices_owed += _notices_owe(link, facts=facts, risk=risk)


def _risk_save(risk: Risk, *, actor, reason: str) -> None:
    """A change of scores by risk_update's rules (risks.services.risk_scores_settle)."""
    previous = Risk.objects.only("residual_band").get(pk=risk.pk).residual_band
    full_clean(risk, exclude=["reference", "owner", "delegate", "created_by"], validate_unique=False)
    reason = risk_scores_settle(risk, previous_band=previous, actor=actor, reason=reason)
    audited_save(risk, actor=actor, reason=reason)


def _action_restate(link: RunwayRisk, *, facts: Facts, actor, reason: str) -> None:
    if link.action_id is None:
        return
    action = TreatmentAction.objects.select_for_update().get(pk=link.action_id)
    if action.status in ACTION_FINISHED or (action.action, action.due_on) == (facts.action, facts.due_on):
        return
    action.action, action.due_on = facts.action, facts.due_on
    full_clean(action, exclude=["risk", "owner", "created_by"])
    audited_save(action, actor=actor, reason=reason)


def _close(link: RunwayRisk, *, model: RegisteredModel, rows: list[LiveDeployment], warn_days: int, actor, run):
    why, migrated = _close_reason(link, model=model, rows=rows, warn_days=warn_days)
    risk = risk_lock(link.risk)
    now = timezone.now()
    if risk.status != RiskStatus.CLOSED:
        acceptance = acceptance_active(risk)
        if acceptance is not None:
            acceptance_end(
                acceptance, status=AcceptanceStatus.REVOKED, actor=actor, reason=f"Risk closed: {why}", now=now
            )
        risk.status = RiskStatus.CLOSED
        audited_save(risk, actor=actor, reason=f"Closed by Fineprint: {why}")
        run.closed.append(risk.reference)
    if link.action_id is not None:
        action = TreatmentAction.objects.select_for_update().get(pk=link.action_id)
        if action.status not in ACTION_FINISHED:
            action.status = ActionStatus.DONE if migrated else ActionStatus.CANCELLED
            action.completed_at = now if migrated else None
            audited_save(action, actor=actor, reason=f"{'Done' if migrated else 'No longer needed'}: {why}")
    link.closed_at = now
    audited_save(link, actor=actor, reason=f"Closed: {why}")


def _runway_note(runway: Runway, *, warn_days: int) -> str:
    if not runway.known:
        return "not in the provider catalogue"
    if runway.shutdown_date is None:
        return "no shutdown announced"
    return (
        f"shuts down on {runway.shutdown_date:%Y-%m-%d}, {plural(runway.days_left, 'day')} away, beyond the "
        f"{warn_days}-day warning window"
    )


def _close_reason(link: RunwayRisk, *, model: RegisteredModel, rows: list[LiveDeployment], warn_days: int):
    """Why the risk no longer holds, and whether the model moved (the action is done) or the date went away."""
    production = next((r for r in rows if r.deployment.environment == Environment.PRODUCTION), None)
    if production is None:
        return f"no live deployment of {model.name} runs on a base model that shuts down within {warn_days} days", False
    version, runway = production.deployment.version.version, production.runway
    note = _runway_note(runway, warn_days=warn_days)
    if runway.base_model != link.base_model:
        return f"production now runs {version} on {runway.base_model} ({note})", True
    if runway.shutdown_date is None:
        provider = model.get_provider_display()
        return (
            f"{provider} withdrew the shutdown date of {link.base_model} ({note}); production runs {version} on it",
            False,
        )
    return f"{link.base_model} now {note}; production runs {version} on it", False


# --- Notices -------------------------------------------------------------------------------


def _recipients(model: RegisteredModel) -> list:
    people = {}
    for person in (model.technical_owner, model.business_owner):
        if person is not None and person.is_active and person.email and person.pk not in people:
            people[person.pk] = person
    return list(people.values())


def _notices_owe(link: RunwayRisk, *, facts: Facts, risk: Risk) -> int:
    """Write the stage's notices (in the caller's transaction); a notice already owed is not owed again."""
    if facts.stage not in NOTIFIED:
        return 0
    # A stage no more urgent than one already emailed (the date was postponed) tells nothing new.
    urgent = NOTIFIED[NOTIFIED.index(facts.stage) :]
    if RunwayNotice.objects.filter(runway_risk=link, stage__in=urgent).exclude(stage=facts.stage).exists():
        return 0
    subject = (
        f"[Fineprint] {facts.model.name}: {facts.base_model} shuts down on {facts.shutdown_date:%Y-%m-%d} "
        f"({facts.days_text})"
    )[:250]
    owed = 0
    for person in _recipients(facts.model):
        body = render_to_string(
            "risks/runway_notice.txt",
            {
                "name": person.get_full_name() or person.get_username(),
                "facts": facts,
                "risk": risk,
                "action": link.action,
                "near_days": NEAR_DAYS,
                "imminent_days": IMMINENT_DAYS,
            },
        )
        _, created = RunwayNotice.objects.get_or_create(
            runway_risk=link,
            stage=facts.stage,
            recipient=person,
            defaults={"email": person.email, "subject": subject, "body": body},
        )
        owed += created
    return owed


def _claimable(now) -> Q:
    return Q(status=NoticeStatus.PENDING) | Q(status=NoticeStatus.SENDING, claimed_at__lt=now - NOTICE_LEASE)


def runway_notices_send() -> NoticeRun:
    """Send every notice owed, each claimed first so no other worker sends it too. Safe to run twice."""
    result = NoticeRun()
    due = RunwayNotice.objects.filter(_claimable(timezone.now())).order_by("created_at", "id")
    for pk in list(due.values_list("pk", flat=True)):
        claimed_at = timezone.now()
        claimed = (
            RunwayNotice.objects.filter(_claimable(claimed_at), pk=pk)
            .update(status=NoticeStatus.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1)
        )  # fmt: skip
        if not claimed:
            continue  # another worker has it
        notice = RunwayNotice.objects.get(pk=pk)
        try:
            send_mail(subject=notice.subject, message=notice.body, from_email=None, recipient_list=[notice.email])
        except OSError as exc:  # smtplib.SMTPException, refused connections and timeouts alike
            logger.exception("Could not email %s about a runway risk; the next tick tries again.", notice.email)
            RunwayNotice.objects.filter(pk=pk, claimed_at=claimed_at).update(
                status=NoticeStatus.PENDING, last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            result.failed += 1
            continue
        RunwayNotice.objects.filter(pk=pk, claimed_at=claimed_at).update(
            status=NoticeStatus.SENT, sent_at=timezone.now(), last_error=""
        )
        result.sent += 1
    return result
