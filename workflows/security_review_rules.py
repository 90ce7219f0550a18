"""The rules of a security review, as pure functions over ``SecurityReviewSnapshot``.

No Temporal here: the workflow calls these from its update validators (``check_*``, which
only read) and handlers (``apply_*``, which change the snapshot), so the rules are unit-tested
without a server and a rejected action provably changes nothing.

Timeline: the answers are due ``security_review_due_seconds`` after the questionnaire arrives;
each step is due a share of that window (``SecurityStepDefinition.due_tenths``: with 10 days,
access 1 day, deployment type 2, CE first pass 4, Security CE review 8, answers 10). A Security
PM escalation adds ``security_pm_extra_seconds``: the PM review is due that long after the
Security CE review, and the answers (the review's due date) move by the same amount.

Overdue steps the owner can act on (every step before them done or skipped) remind the owner
``overdue_reminder_delay_seconds`` after the later of the due time and the moment the step
opened, then every ``overdue_reminder_repeat_seconds``; after ``escalate_after_reminders``
reminders the next one is an escalation to the CE leader instead (once per step), and the
reminders go on after it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import Enum

from schemas import limits
from schemas.common import DeploymentType, Region, StepStatus
from schemas.errors import RuleViolation
from schemas.opportunity import (
    AdoptedByOpportunity,
    ConcludedByOpportunity,
    opportunity_workflow_id,
)
from schemas.security_review import (
    ANSWERS_RETURNED,
    CE_FIRST_PASS,
    NOTE_DEPLOYMENT_TYPE,
    SECURITY_CE_REVIEW,
    SECURITY_PM_REVIEW,
    SECURITY_REVIEW_STEPS,
    CompleteSecurityStep,
    DeclineFirstPass,
    EscalateToSecurityPM,
    SecurityPMEscalation,
    SecurityReviewPhase,
    SecurityReviewResult,
    SecurityReviewSnapshot,
    SecurityReviewStart,
    SecurityReviewState,
    SecurityRole,
    SecurityStep,
    SecurityStepDefinition,
    SecurityStepView,
)
from workflows import summaries
from workflows.step_snooze import not_before_snooze

DEFINITIONS = {definition.key: definition for definition in SECURITY_REVIEW_STEPS}
RESOLVED = (StepStatus.DONE, StepStatus.SKIPPED)


def _choices(enum: type[Enum]) -> str:
    return ", ".join(repr(member.value) for member in enum)


def parse_region(value: object) -> Region:
    """The region named by ``value``, or a violation that lists the valid regions."""
    if isinstance(value, Region):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RuleViolation(f"the region is missing; it is one of {_choices(Region)}")
    try:
        return Region(str(value))
    except ValueError:
        raise RuleViolation(
            f"unknown region {value!r}; the regions are {_choices(Region)}"
        ) from None


def parse_deployment_type(value: object) -> DeploymentType:
    if isinstance(value, DeploymentType):
        return value
    try:
        return DeploymentType(str(value))
    except ValueError:
        raise RuleViolation(
            f"unknown deployment type {value!r}; it is one of {_choices(DeploymentType)}"
        ) from None


def check_start(start: SecurityReviewStart, now: datetime) -> None:
    """Every problem of a start input in one message; the parent calls it before starting."""
    # The region and deployment type are parsed below, naming their choices.
    limits.check(start, now, "cannot start the security review: ", ("region", "deployment_type"))
    problems = []
    for name in ("opportunity_id", "account_id", "account_name", "ae_owner", "ce_owner"):
        if not str(getattr(start, name) or "").strip():
            problems.append(f"{name} is empty")
    region: Region | None = None
    try:
        region = parse_region(start.region)
    except RuleViolation as err:
        problems.append(err.message)
    if start.deployment_type is not None:
        try:
            parse_deployment_type(start.deployment_type)
        except RuleViolation as err:
            problems.append(err.message)
    if start.ce_owner and start.ce_owner == start.ae_owner:
        problems.append("the CE and the AE must be different people")
    if region is not None and not start.roster.security_ce_for(region).strip():
        problems.append(f"the roster names no Security CE for {region.value}")
    if not start.roster.security_pm.strip():
        problems.append("the roster names no Security PM")
    if not start.roster.ce_leader.strip():
        problems.append("the roster names no CE leader")
    durations = start.durations
    if durations.security_review_due_seconds < 1:
        problems.append(
            "security_review_due_seconds must be positive,"
            f" not {durations.security_review_due_seconds}"
        )
    if durations.security_pm_extra_seconds < 1:
        problems.append(
            f"security_pm_extra_seconds must be positive, not {durations.security_pm_extra_seconds}"
        )
    if durations.escalate_after_reminders < 0:
        problems.append(
            f"escalate_after_reminders cannot be negative, not {durations.escalate_after_reminders}"
        )
    if problems:
        raise RuleViolation("cannot start the security review: " + "; ".join(problems))


def _due(start: SecurityReviewStart, received_at: datetime, tenths: int) -> datetime:
    return received_at + timedelta(
        seconds=start.durations.security_review_due_seconds * tenths // 10
    )


def _new_step(definition: SecurityStepDefinition, owner: str, due_at: datetime) -> SecurityStep:
    return SecurityStep(definition.key, definition.title, definition.role, owner, due_at)


def new_snapshot(
    start: SecurityReviewStart, now: datetime, effect_scope: str
) -> SecurityReviewSnapshot:
    check_start(start, now)
    # A start built without type checks may carry plain strings: keep the enums from here on.
    start = replace(
        start,
        region=parse_region(start.region),
        deployment_type=(
            None if start.deployment_type is None else parse_deployment_type(start.deployment_type)
        ),
    )
    security_ce = start.roster.security_ce_for(start.region)
    owners = {
        SecurityRole.AE: start.ae_owner,
        SecurityRole.CE: start.ce_owner,
        SecurityRole.SECURITY_CE: security_ce,
    }
    steps = []
    for definition in SECURITY_REVIEW_STEPS:
        if definition.due_tenths is None:
            continue  # the Security PM step is added by an escalation
        steps.append(
            _new_step(definition, owners[definition.role], _due(start, now, definition.due_tenths))
        )
    due_at = _due(start, now, 10)
    s = SecurityReviewSnapshot(
        start=start,
        effect_scope=effect_scope,
        phase=SecurityReviewPhase.OPEN,
        steps=steps,
        security_ce=security_ce,
        received_at=now,
        due_at=due_at,
        original_due_at=due_at,
    )
    if start.deployment_type is not None:
        noted = require_step(s, NOTE_DEPLOYMENT_TYPE.key)
        noted.status = StepStatus.DONE
        noted.completed_at = now
        noted.note = f"{start.deployment_type.value}: known from the opportunity"
        s.deployment_type = start.deployment_type
    return s


def find_step(s: SecurityReviewSnapshot, key: str) -> SecurityStep | None:
    return next((step for step in s.steps if step.key == key), None)


def require_step(s: SecurityReviewSnapshot, key: str) -> SecurityStep:
    step = find_step(s, key)
    assert step is not None, key
    return step


def _when(moment: datetime | None) -> str:
    return summaries.utc_minute(moment) if moment else "an unknown time"


def _check_open(s: SecurityReviewSnapshot) -> None:
    if s.phase is SecurityReviewPhase.CONCLUDED:
        raise RuleViolation(
            f"the security review of {s.start.opportunity_id} was concluded"
            f" ({_when(s.concluded_at)}: {s.conclusion_reason}); no further actions are accepted"
        )
    if s.phase is SecurityReviewPhase.ANSWERED:
        raise RuleViolation(
            f"the security review of {s.start.opportunity_id} is answered"
            f" ({_when(s.answered_at)}); no further actions are accepted"
        )


def _check_actor_named(actor: str) -> None:
    if not actor.strip():
        raise RuleViolation("say who is acting: the actor is empty")


def _check_owner(step: SecurityStep, actor: str, verb: str = "complete") -> None:
    _check_actor_named(actor)
    if actor != step.owner:
        raise RuleViolation(
            f"{actor} cannot {verb} {step.key!r}: it belongs to the {step.role.value}, {step.owner}"
        )


def _check_pending(step: SecurityStep) -> None:
    if step.status is StepStatus.DONE:
        by = f" by {step.completed_by}" if step.completed_by else " when the review started"
        raise RuleViolation(f"step {step.key!r} is already done{by} ({_when(step.completed_at)})")
    if step.status is StepStatus.SKIPPED:
        raise RuleViolation(f"step {step.key!r} was declined by {step.completed_by}: {step.note}")


def prerequisites(s: SecurityReviewSnapshot, step: SecurityStep) -> list[SecurityStep]:
    """Every step of this review that ``step`` waits on, directly or not, in review order."""
    wanted: set[str] = set()
    pending = list(DEFINITIONS[step.key].depends_on)
    while pending:
        key = pending.pop()
        if key in wanted or find_step(s, key) is None:
            continue
        wanted.add(key)
        pending.extend(DEFINITIONS[key].depends_on)
    return [other for other in s.steps if other.key in wanted]


def missing_prerequisites(s: SecurityReviewSnapshot, step: SecurityStep) -> list[SecurityStep]:
    return [other for other in prerequisites(s, step) if other.status not in RESOLVED]


def is_open(s: SecurityReviewSnapshot, step: SecurityStep) -> bool:
    """The step is pending and its owner can act on it now."""
    return (
        s.phase is SecurityReviewPhase.OPEN
        and step.status is StepStatus.PENDING
        and not missing_prerequisites(s, step)
    )


def opened_at(s: SecurityReviewSnapshot, step: SecurityStep) -> datetime:
    """When the step's last prerequisite was done (the questionnaire's arrival if none)."""
    moments = [other.completed_at for other in prerequisites(s, step) if other.completed_at]
    return max([s.received_at, *moments])


def _check_unlocked(s: SecurityReviewSnapshot, step: SecurityStep) -> None:
    missing = missing_prerequisites(s, step)
    if missing:
        waiting = ", ".join(f"{other.key} ({other.role.value} {other.owner})" for other in missing)
        raise RuleViolation(f"{step.key!r} cannot be completed yet: waiting for {waiting}")


# --- Complete or decline a step --------------------------------------------------------------


def check_complete_step(s: SecurityReviewSnapshot, request: CompleteSecurityStep) -> SecurityStep:
    _check_open(s)
    step = find_step(s, request.step)
    if step is None:
        if request.step == SECURITY_PM_REVIEW.key:
            raise RuleViolation(
                f"step {request.step!r} exists only once the review is escalated to the Security PM"
            )
        known = ", ".join(other.key for other in s.steps)
        raise RuleViolation(f"unknown step {request.step!r}; the steps are: {known}")
    _check_owner(step, request.actor)
    _check_pending(step)
    _check_unlocked(s, step)
    if step.key == NOTE_DEPLOYMENT_TYPE.key:
        if request.deployment_type is None:
            raise RuleViolation(
                f"say which deployment type the customer prefers: one of {_choices(DeploymentType)}"
            )
        parse_deployment_type(request.deployment_type)
    elif request.deployment_type is not None:
        raise RuleViolation(
            f"a deployment type is noted with {NOTE_DEPLOYMENT_TYPE.key!r}, not with {step.key!r}"
        )
    return step


def apply_complete_step(
    s: SecurityReviewSnapshot, request: CompleteSecurityStep, now: datetime
) -> str:
    step = check_complete_step(s, request)
    step.status = StepStatus.DONE
    step.completed_by = request.actor
    step.completed_via = request.via
    step.completed_at = now
    step.note = request.note.strip()
    if step.key == NOTE_DEPLOYMENT_TYPE.key:
        assert request.deployment_type is not None
        s.deployment_type = parse_deployment_type(request.deployment_type)
        step.note = "; ".join(filter(None, [s.deployment_type.value, step.note]))
    if step.key == ANSWERS_RETURNED.key:
        s.phase = SecurityReviewPhase.ANSWERED
        s.answered_at = now
        return f"{step.title}: done. The security review is complete."
    return f"{step.title}: done.{_next_up(s)}"


def _next_up(s: SecurityReviewSnapshot) -> str:
    open_steps = [step for step in s.steps if is_open(s, step)]
    if not open_steps:
        return ""
    return (
        " Next: "
        + ", ".join(
            f"{step.title} ({step.role.value} {step.owner}, due {_when(step.due_at)})"
            for step in open_steps
        )
        + "."
    )


def check_decline_first_pass(s: SecurityReviewSnapshot, request: DeclineFirstPass) -> SecurityStep:
    """The CE may decline the optional first pass at any time before taking it."""
    _check_open(s)
    step = require_step(s, CE_FIRST_PASS.key)
    _check_owner(step, request.actor, "decline")
    _check_pending(step)
    if not request.reason.strip():
        raise RuleViolation("declining the first pass needs a reason")
    return step


def apply_decline_first_pass(
    s: SecurityReviewSnapshot, request: DeclineFirstPass, now: datetime
) -> str:
    step = check_decline_first_pass(s, request)
    step.status = StepStatus.SKIPPED
    step.completed_by = request.actor
    step.completed_via = request.via
    step.completed_at = now
    step.note = request.reason.strip()
    return f"{step.title}: declined ({step.note}).{_next_up(s)}"


# --- Concluded with the opportunity ---------------------------------------------------------


def adopt(s: SecurityReviewSnapshot, signal: AdoptedByOpportunity) -> bool:
    """The opportunity of the review's deal adopts it (one started by an earlier run of it)."""
    if signal.opportunity_workflow_id != opportunity_workflow_id(s.start.opportunity_id):
        return False
    s.opportunity_workflow_id = signal.opportunity_workflow_id
    return True


def conclude(s: SecurityReviewSnapshot, signal: ConcludedByOpportunity, now: datetime) -> bool:
    """The review's opportunity closed or was abandoned: an open review ends unanswered, with
    that reason. Only its own opportunity may; an ended review is left as it is."""
    if signal.opportunity_workflow_id != opportunity_workflow_id(s.start.opportunity_id):
        return False
    if s.phase is not SecurityReviewPhase.OPEN:
        return False
    s.phase = SecurityReviewPhase.CONCLUDED
    s.concluded_at = now
    s.conclusion_reason = signal.describe()
    return True


# --- Escalate to the Security PM -------------------------------------------------------------


def check_escalate(s: SecurityReviewSnapshot, request: EscalateToSecurityPM) -> None:
    _check_open(s)
    _check_actor_named(request.actor)
    if request.actor not in (s.start.ce_owner, s.security_ce):
        raise RuleViolation(
            f"{request.actor} cannot involve the Security PM: only the CE ({s.start.ce_owner})"
            f" or the Security CE ({s.security_ce}) can"
        )
    if s.escalation is not None:
        raise RuleViolation(
            f"the review is already escalated to the Security PM (by {s.escalation.actor}"
            f" at {_when(s.escalation.at)}: {s.escalation.reason})"
        )
    review = require_step(s, SECURITY_CE_REVIEW.key)
    if review.status is StepStatus.DONE:
        raise RuleViolation(
            f"the Security CE review is already done (by {review.completed_by}"
            f" at {_when(review.completed_at)}); escalate before it is complete"
        )
    if not request.reason.strip():
        raise RuleViolation("an escalation to the Security PM needs a reason")


def apply_escalate(s: SecurityReviewSnapshot, request: EscalateToSecurityPM, now: datetime) -> str:
    check_escalate(s, request)
    extra = timedelta(seconds=s.start.durations.security_pm_extra_seconds)
    review = require_step(s, SECURITY_CE_REVIEW.key)
    pm_step = _new_step(SECURITY_PM_REVIEW, s.start.roster.security_pm, review.due_at + extra)
    s.steps.insert(s.steps.index(review) + 1, pm_step)
    answers = require_step(s, ANSWERS_RETURNED.key)
    answers.due_at = answers.due_at + extra
    previous = s.due_at
    s.due_at = previous + extra
    s.escalation = SecurityPMEscalation(
        request.actor, request.reason.strip(), now, previous, s.due_at
    )
    return (
        f"Escalated to the Security PM {pm_step.owner}: answers are now due"
        f" {_when(s.due_at)} (was {_when(previous)})."
    )


# --- Time ------------------------------------------------------------------------------------


def status_at(step: SecurityStep, now: datetime) -> StepStatus:
    if step.status is StepStatus.PENDING and now > step.due_at:
        return StepStatus.OVERDUE
    return step.status


def next_reminder_at(s: SecurityReviewSnapshot, step: SecurityStep) -> datetime | None:
    if not is_open(s, step):
        return None
    durations = s.start.durations
    if step.last_reminded_at is None:
        at = max(step.due_at, opened_at(s, step)) + timedelta(
            seconds=durations.overdue_reminder_delay_seconds
        )
    else:
        at = step.last_reminded_at + timedelta(seconds=durations.overdue_reminder_repeat_seconds)
    return not_before_snooze(step, at)


def reminders_due(s: SecurityReviewSnapshot, now: datetime) -> list[SecurityStep]:
    due = []
    for step in s.steps:
        at = next_reminder_at(s, step)
        if at is not None and at <= now:
            due.append(step)
    return due


def escalates_now(s: SecurityReviewSnapshot, step: SecurityStep) -> bool:
    """Whether the step's next reminder goes to the CE leader instead of its owner."""
    return (
        not step.escalated_to_leader
        and step.reminders_sent >= s.start.durations.escalate_after_reminders
    )


def record_reminder(s: SecurityReviewSnapshot, step: SecurityStep, now: datetime) -> None:
    if escalates_now(s, step):
        step.escalated_to_leader = True
    else:
        step.reminders_sent += 1
    step.last_reminded_at = now


def next_wake_up(s: SecurityReviewSnapshot) -> datetime | None:
    """The earliest moment something is due by the clock alone."""
    wake_up = next_named_wake_up(s)
    return wake_up.at if wake_up is not None else None


def next_named_wake_up(s: SecurityReviewSnapshot) -> summaries.WakeUp | None:
    """``next_wake_up`` with what it is for (the timer's summary in the Web UI)."""
    return summaries.earliest(
        summaries.WakeUp(at, summaries.reminder(step.title))
        for step in s.steps
        if (at := next_reminder_at(s, step)) is not None
    )


def waiting_on(s: SecurityReviewSnapshot) -> list[SecurityStep]:
    return [step for step in s.steps if is_open(s, step)]


def state_view(s: SecurityReviewSnapshot, workflow_id: str, now: datetime) -> SecurityReviewState:
    return SecurityReviewState(
        workflow_id=workflow_id,
        opportunity_id=s.start.opportunity_id,
        account_id=s.start.account_id,
        account_name=s.start.account_name,
        ae_owner=s.start.ae_owner,
        ce_owner=s.start.ce_owner,
        region=s.start.region,
        security_ce=s.security_ce,
        security_pm=s.start.roster.security_pm,
        deployment_type=s.deployment_type,
        phase=s.phase,
        received_at=s.received_at,
        due_at=s.due_at,
        original_due_at=s.original_due_at,
        escalated_to_pm=s.escalation is not None,
        escalation_reason=s.escalation.reason if s.escalation else None,
        escalated_by=s.escalation.actor if s.escalation else None,
        steps=[
            SecurityStepView(
                step.key,
                step.title,
                step.role,
                step.owner,
                step.due_at,
                status_at(step, now),
                step.completed_by,
                step.completed_at,
                step.note,
                step.reminders_sent,
                step.escalated_to_leader,
                step.completed_via,
            )
            for step in s.steps
        ],
        waiting_on=[step.key for step in waiting_on(s)],
        answered_at=s.answered_at,
        as_of=now,
        concluded_at=s.concluded_at,
        conclusion_reason=s.conclusion_reason,
    )


def result_of(s: SecurityReviewSnapshot) -> SecurityReviewResult:
    assert s.answered_at is not None or s.phase is SecurityReviewPhase.CONCLUDED
    return SecurityReviewResult(
        opportunity_id=s.start.opportunity_id,
        security_ce=s.security_ce,
        due_at=s.due_at,
        escalated_to_pm=s.escalation is not None,
        answered_at=s.answered_at,
        deployment_type=s.deployment_type,
        escalation_reason=s.escalation.reason if s.escalation else None,
        conclusion_reason=s.conclusion_reason,
    )


# --- The roster as of now (looked up by the workflow) -----------------------------------------


def assign_security_ce(s: SecurityReviewSnapshot, member: str) -> None:
    """The region's Security CE today takes the review (done before it is announced)."""
    if not member.strip() or member == s.security_ce:
        return
    for step in s.steps:
        if step.role is SecurityRole.SECURITY_CE and step.status is StepStatus.PENDING:
            step.owner = member
    s.security_ce = member


def assign_security_pm(s: SecurityReviewSnapshot, member: str) -> None:
    """The Security PM today takes an escalation's PM review (done before it is announced)."""
    step = find_step(s, SECURITY_PM_REVIEW.key)
    if step is not None and step.status is StepStatus.PENDING and member.strip():
        step.owner = member
