"""The rules of a customer trial, as pure functions over ``TrialSnapshot``.

No Temporal here: the workflow calls these from its update validators (``check_*``, which
only read) and handlers (``apply_*``, which change the snapshot), so the rules are unit-tested
without a server and a rejected action provably changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from schemas import limits
from schemas.common import Role, StepStatus, TechnicalWinStatus
from schemas.errors import RuleViolation
from schemas.opportunity import (
    AdoptedByOpportunity,
    ConcludedByOpportunity,
    opportunity_workflow_id,
)
from schemas.steps import SnoozeStep
from schemas.trial import (
    MID_TRIAL_CHECK_IN,
    TRIAL_PLANNING_ITEMS,
    CompleteStep,
    ConcludeTrial,
    ExtendTrial,
    LicenseGrant,
    PlanningOverride,
    SetTechnicalWin,
    StartTrialOverride,
    StepView,
    TechnicalWinChange,
    TrialExtension,
    TrialOutcome,
    TrialPhase,
    TrialSnapshot,
    TrialStart,
    TrialState,
    TrialStep,
)
from workflows import step_snooze, summaries
from workflows.step_snooze import not_before_snooze

MAX_EXTENSION_DAYS = 180
PLANNING_KEYS = frozenset(item.key for item in TRIAL_PLANNING_ITEMS)


def check_start(start: TrialStart, now: datetime) -> None:
    limits.check(start, now, "cannot start the trial: ")
    problems = []
    for name in ("opportunity_id", "account_id", "account_name", "ce_owner", "ae_owner"):
        if not getattr(start, name).strip():
            problems.append(f"{name} is empty")
    if start.ce_owner and start.ce_owner == start.ae_owner:
        problems.append("the CE and the AE must be different people")
    if problems:
        raise RuleViolation("cannot start the trial: " + "; ".join(problems))


def new_snapshot(start: TrialStart, now: datetime, effect_scope: str) -> TrialSnapshot:
    check_start(start, now)
    due = now + timedelta(seconds=start.durations.planning_item_due_seconds)
    steps = [
        TrialStep(item.key, item.title, item.lead, owner_for(start, item.lead), due)
        for item in TRIAL_PLANNING_ITEMS
    ]
    steps.append(
        TrialStep(
            MID_TRIAL_CHECK_IN.key,
            MID_TRIAL_CHECK_IN.title,
            MID_TRIAL_CHECK_IN.lead,
            owner_for(start, MID_TRIAL_CHECK_IN.lead),
            None,
        )
    )
    return TrialSnapshot(
        start=start, effect_scope=effect_scope, phase=TrialPhase.PLANNING, steps=steps
    )


def owner_for(start: TrialStart, role: Role) -> str:
    return start.ce_owner if role is Role.CE else start.ae_owner


def day(s: TrialSnapshot) -> timedelta:
    return timedelta(seconds=s.start.durations.day_seconds)


def trial_length_days(s: TrialSnapshot) -> int:
    return s.start.length_days or s.start.durations.trial_length_days


def find_step(s: TrialSnapshot, key: str) -> TrialStep | None:
    return next((step for step in s.steps if step.key == key), None)


def _check_not_ended(s: TrialSnapshot) -> None:
    if s.phase is TrialPhase.ENDED:
        raise RuleViolation(
            f"the trial of {s.start.opportunity_id} has ended"
            f" ({s.outcome.value if s.outcome else 'no outcome'}); no further actions are accepted"
        )


def _check_actor(s: TrialSnapshot, actor: str, role: Role) -> None:
    if not actor.strip():
        raise RuleViolation("say who is acting: the actor is empty")
    owner = owner_for(s.start, role)
    if actor != owner:
        raise RuleViolation(
            f"{actor} is not the {role.value} of this trial (the {role.value} is {owner})"
        )


# --- Complete a step -------------------------------------------------------------------------


def check_complete_step(s: TrialSnapshot, request: CompleteStep) -> TrialStep:
    _check_not_ended(s)
    step = find_step(s, request.step)
    if step is None:
        known = ", ".join(item.key for item in s.steps)
        raise RuleViolation(f"unknown step {request.step!r}; the steps are: {known}")
    if request.role is not step.lead:
        raise RuleViolation(
            f"step {step.key!r} is led by the {step.lead.value}, not the {request.role.value}"
        )
    _check_actor(s, request.actor, request.role)
    if step.status is StepStatus.DONE:
        at = summaries.utc_minute(step.completed_at) if step.completed_at else "an unknown time"
        raise RuleViolation(
            f"step {step.key!r} was already completed by {step.completed_by} at {at}"
        )
    if step.status is StepStatus.SKIPPED:
        raise RuleViolation(f"step {step.key!r} was skipped when the trial started by override")
    if step.key == MID_TRIAL_CHECK_IN.key and s.phase is not TrialPhase.RUNNING:
        raise RuleViolation(
            "the mid-trial check-in can only be recorded once the trial has started"
        )
    return step


def apply_complete_step(s: TrialSnapshot, request: CompleteStep, now: datetime) -> str:
    step = check_complete_step(s, request)
    step.status = StepStatus.DONE
    step.completed_by = request.actor
    step.completed_via = request.via
    step.completed_at = now
    step.note = request.note
    open_items = [
        item for item in s.steps if item.key in PLANNING_KEYS and item.status is StepStatus.PENDING
    ]
    if s.phase is TrialPhase.PLANNING and open_items:
        return f"{step.title}: done. {len(open_items)} planning item(s) still open."
    if s.phase is TrialPhase.PLANNING:
        return f"{step.title}: done. Planning is complete; the trial starts now."
    return f"{step.title}: done."


def planning_complete(s: TrialSnapshot) -> bool:
    return all(
        step.status is not StepStatus.PENDING for step in s.steps if step.key in PLANNING_KEYS
    )


# --- Start by override -----------------------------------------------------------------------


def check_override(s: TrialSnapshot, request: StartTrialOverride) -> list[TrialStep]:
    _check_not_ended(s)
    if s.phase is not TrialPhase.PLANNING:
        raise RuleViolation("the trial has already started; there is nothing to override")
    _check_actor(s, request.actor, request.role)
    if not request.reason.strip():
        raise RuleViolation("an override needs a reason, and the reason is recorded")
    open_steps = [
        step for step in s.steps if step.key in PLANNING_KEYS and step.status is StepStatus.PENDING
    ]
    if not open_steps:
        raise RuleViolation("every planning item is complete; the trial starts without an override")
    return open_steps


def apply_override(s: TrialSnapshot, request: StartTrialOverride, now: datetime) -> str:
    open_steps = check_override(s, request)
    for step in open_steps:
        step.status = StepStatus.SKIPPED
    s.override = PlanningOverride(
        request.actor, request.role, request.reason.strip(), now, [step.key for step in open_steps]
    )
    return (
        f"Override recorded: the trial starts now with {len(open_steps)} planning item(s) skipped"
        f" ({', '.join(step.key for step in open_steps)})."
    )


# --- Start, extend, end ----------------------------------------------------------------------


def start_trial(s: TrialSnapshot, now: datetime) -> None:
    s.phase = TrialPhase.RUNNING
    s.started_at = now
    s.ends_at = now + day(s) * trial_length_days(s)
    s.midpoint_at = now + (s.ends_at - now) / 2
    check_in = find_step(s, MID_TRIAL_CHECK_IN.key)
    if check_in is not None:
        check_in.due_at = s.midpoint_at + timedelta(seconds=s.start.durations.check_in_due_seconds)
    s.trial_dates_version += 1
    s.licenses.append(LicenseGrant("trial start", s.ends_at))


def check_extend(s: TrialSnapshot, request: ExtendTrial) -> None:
    _check_not_ended(s)
    if request.days <= 0:
        raise RuleViolation(f"an extension must be a positive number of days, not {request.days}")
    if request.days > MAX_EXTENSION_DAYS:
        raise RuleViolation(
            f"{request.days} days is longer than the longest extension ({MAX_EXTENSION_DAYS} days)"
        )
    if s.phase is not TrialPhase.RUNNING:
        raise RuleViolation("the trial has not started yet; extend it once it runs")
    _check_actor(s, request.actor, request.role)
    if not request.reason.strip():
        raise RuleViolation("an extension needs a reason")


def check_extend_request(s: TrialSnapshot, request: ExtendTrial, now: datetime) -> None:
    """The validator's check: ``check_extend``, and a trial whose end has come is not revived.

    The end is seen by the main loop's timer; an extension that reaches the workflow with it
    (the worker was down over the end, say) finds the trial still running there. Not the
    handler's: an extension accepted so before this was checked replays as it ran."""
    check_extend(s, request)
    if s.ends_at is not None and now >= s.ends_at:
        raise RuleViolation(
            f"the trial of {s.start.opportunity_id} ended at {summaries.utc_minute(s.ends_at)};"
            " it can no longer be extended"
        )


def extension_of_license(s: TrialSnapshot, index: int) -> TrialExtension:
    """The extension that owed ``s.licenses[index]``. Each extension appends one grant and the
    start's grant comes before any extension, so the last grants are the extensions', in order."""
    first_extension_grant = len(s.licenses) - len(s.extensions)
    if index < first_extension_grant:
        raise ValueError(f"license {index} was not issued for an extension")
    return s.extensions[index - first_extension_grant]


def apply_extend(s: TrialSnapshot, request: ExtendTrial, now: datetime) -> str:
    check_extend(s, request)
    assert s.ends_at is not None
    s.ends_at = s.ends_at + day(s) * request.days
    s.extensions.append(
        TrialExtension(request.days, request.reason.strip(), request.actor, now, s.ends_at)
    )
    s.trial_dates_version += 1
    s.licenses.append(LicenseGrant(f"extension {len(s.extensions)}", s.ends_at, announced=False))
    return (
        f"Trial extended by {request.days} day(s) to {summaries.utc_minute(s.ends_at)};"
        " a new key is issued."
    )


def check_conclude(s: TrialSnapshot, request: ConcludeTrial) -> None:
    _check_not_ended(s)
    if s.phase is not TrialPhase.RUNNING:
        raise RuleViolation("the trial has not started; there is nothing to conclude")
    _check_actor(s, request.actor, request.role)
    if not request.reason.strip():
        raise RuleViolation("concluding a trial early needs a reason")


def apply_conclude(s: TrialSnapshot, request: ConcludeTrial, now: datetime) -> str:
    check_conclude(s, request)
    s.concluded_by = request.actor
    s.conclusion_reason = request.reason.strip()
    end_trial(s, now)
    assert s.outcome is not None
    return f"Trial concluded early: {s.outcome.value}."


def end_with_opportunity(s: TrialSnapshot, signal: ConcludedByOpportunity, now: datetime) -> bool:
    """The trial's opportunity closed or was abandoned: the trial ends now with that reason.

    Only the trial's own opportunity (same opportunity id) may; a trial that has ended already
    is left as it is (a second conclusion changes nothing). Returns whether the trial ended."""
    if signal.opportunity_workflow_id != opportunity_workflow_id(s.start.opportunity_id):
        return False
    if s.phase is TrialPhase.ENDED:
        return False
    s.concluded_by = signal.opportunity_workflow_id
    s.conclusion_reason = signal.describe()
    s.ended_with_opportunity = True
    end_trial(s, now)
    return True


def adopt(s: TrialSnapshot, signal: AdoptedByOpportunity) -> bool:
    """The opportunity of the trial's deal adopts it; another workflow may not."""
    if signal.opportunity_workflow_id != opportunity_workflow_id(s.start.opportunity_id):
        return False
    s.opportunity_workflow_id = signal.opportunity_workflow_id
    return True


def outcome_for(status: TechnicalWinStatus) -> TrialOutcome:
    if status is TechnicalWinStatus.WON:
        return TrialOutcome.TECHNICAL_WIN
    if status is TechnicalWinStatus.LOST:
        return TrialOutcome.TECHNICAL_LOSS
    return TrialOutcome.NO_DECISION


def end_trial(s: TrialSnapshot, now: datetime) -> None:
    s.phase = TrialPhase.ENDED
    s.ended_at = now
    s.outcome = outcome_for(s.technical_win)


# --- Technical win ---------------------------------------------------------------------------


def check_technical_win(s: TrialSnapshot, request: SetTechnicalWin) -> None:
    _check_not_ended(s)
    _check_actor(s, request.actor, Role.CE)
    if request.status is s.technical_win:
        raise RuleViolation(f"the technical win is already {request.status.value!r}")


def apply_technical_win(s: TrialSnapshot, request: SetTechnicalWin, now: datetime) -> str:
    check_technical_win(s, request)
    previous = s.technical_win
    s.technical_win = request.status
    s.technical_win_changes.append(
        TechnicalWinChange(request.status, request.actor, now, request.note)
    )
    return f"Technical win: {previous.value} -> {request.status.value}."


# --- Time ------------------------------------------------------------------------------------


def status_at(step: TrialStep, now: datetime) -> StepStatus:
    if step.status is StepStatus.PENDING and step.due_at is not None and now > step.due_at:
        return StepStatus.OVERDUE
    return step.status


def _remindable(s: TrialSnapshot) -> list[TrialStep]:
    if s.phase is TrialPhase.PLANNING:
        return [step for step in s.steps if step.key in PLANNING_KEYS]
    if s.phase is TrialPhase.RUNNING:
        return [step for step in s.steps if step.key == MID_TRIAL_CHECK_IN.key]
    return []


def open_steps(s: TrialSnapshot) -> list[TrialStep]:
    """The steps someone owes now: the to-do list's."""
    return [step for step in _remindable(s) if step.status is StepStatus.PENDING]


def next_reminder_at(s: TrialSnapshot, step: TrialStep) -> datetime | None:
    if step.status is not StepStatus.PENDING or step.due_at is None:
        return None
    durations = s.start.durations
    if step.last_reminded_at is None:
        at = step.due_at + timedelta(seconds=durations.overdue_reminder_delay_seconds)
    else:
        at = step.last_reminded_at + timedelta(seconds=durations.overdue_reminder_repeat_seconds)
    return not_before_snooze(step, at)


def check_snooze(s: TrialSnapshot, request: SnoozeStep, now: datetime) -> TrialStep:
    """Only a step that is reminded now (a planning item before the trial starts, the
    check-in while it runs) is snoozed, by its owner or the trial's AE or CE."""
    _check_not_ended(s)
    remindable = _remindable(s)
    step = next((item for item in remindable if item.key == request.step), None)
    known = [item.key for item in remindable if item.status is StepStatus.PENDING]
    if step is None and any(item.key == request.step for item in s.steps):
        when = (
            "the mid-trial check-in is, once the trial runs"
            if s.phase is TrialPhase.PLANNING
            else "the planning items are, until the trial starts"
        )
        raise RuleViolation(f"step {request.step!r} is not reminded now: {when}")
    of_record = {"AE": s.start.ae_owner, "CE": s.start.ce_owner}
    checked = step_snooze.check_snooze(request, step, known, of_record, now)
    assert isinstance(checked, TrialStep)
    return checked


def check_snooze_request(s: TrialSnapshot, request: SnoozeStep, now: datetime) -> None:
    """The validator's check: ``check_snooze``, and how far the snooze would reach."""
    step, day_seconds = check_snooze(s, request, now), s.start.durations.day_seconds
    step_snooze.check_reach(step, partial(next_reminder_at, s), now, request.days, day_seconds)


def apply_snooze(s: TrialSnapshot, request: SnoozeStep, now: datetime) -> str:
    step = check_snooze(s, request, now)
    next_at = next_reminder_at(s, step)
    assert next_at is not None
    return step_snooze.snooze(step, next_at, now, request.days, s.start.durations.day_seconds)


def reminders_due(s: TrialSnapshot, now: datetime) -> list[TrialStep]:
    due = []
    for step in _remindable(s):
        at = next_reminder_at(s, step)
        if at is not None and at <= now:
            due.append(step)
    return due


def next_wake_up(s: TrialSnapshot) -> datetime | None:
    """The earliest moment something is due by the clock alone."""
    wake_up = next_named_wake_up(s)
    return wake_up.at if wake_up is not None else None


def next_named_wake_up(s: TrialSnapshot) -> summaries.WakeUp | None:
    """``next_wake_up`` with what it is for (the timer's summary in the Web UI)."""
    moments = [
        summaries.WakeUp(at, summaries.reminder(step.title))
        for step in _remindable(s)
        if (at := next_reminder_at(s, step)) is not None
    ]
    if s.phase is TrialPhase.RUNNING:
        assert s.ends_at is not None and s.midpoint_at is not None
        moments.append(summaries.WakeUp(s.ends_at, summaries.moment("the trial ends")))
        if not s.check_in_prompted:
            moments.append(summaries.WakeUp(s.midpoint_at, summaries.opens("mid-trial check-in")))
    return summaries.earliest(moments)


def state_view(s: TrialSnapshot, workflow_id: str, now: datetime) -> TrialState:
    return TrialState(
        workflow_id=workflow_id,
        opportunity_id=s.start.opportunity_id,
        account_id=s.start.account_id,
        account_name=s.start.account_name,
        ce_owner=s.start.ce_owner,
        ae_owner=s.start.ae_owner,
        phase=s.phase,
        technical_win=s.technical_win,
        steps=[
            StepView(
                step.key,
                step.title,
                step.lead,
                step.owner,
                step.due_at,
                status_at(step, now),
                step.completed_by,
                step.completed_at,
                step.note,
                step.completed_via,
            )
            for step in s.steps
        ],
        started_at=s.started_at,
        ends_at=s.ends_at,
        extensions=list(s.extensions),
        license_key_ids=[grant.key_id for grant in s.licenses if grant.key_id],
        override_reason=s.override.reason if s.override else None,
        outcome=s.outcome,
        ended_at=s.ended_at,
        as_of=now,
        concluded_by=s.concluded_by,
        conclusion_reason=s.conclusion_reason,
        opportunity_workflow_id=s.opportunity_workflow_id,
    )
