"""The rules of a red-account case, as pure functions over ``RedAccountSnapshot``.

The case follows its account: when the account's AE or CE changes hands, or its renewal date
moves, the account tells the case (once, by ``CASE_SIGNAL``), and from then on the case's open
parts of the action plan, its reminders, its escalation and its tracker row name the new
owners, and its view the new date."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from schemas import limits
from schemas.common import Role
from schemas.errors import RuleViolation
from schemas.health import (
    CHURNED_CASE_SIGNAL_KIND,
    OWNERS_CHANGED_CASE_SIGNAL_KIND,
    RENEWAL_MOVED_CASE_SIGNAL_KIND,
    ActionPlanEntry,
    CaseAsk,
    CaseNote,
    CaseSignal,
    RecordActionPlan,
    RecordAsk,
    RedAccountCaseStart,
    RedAccountSnapshot,
    RedAccountState,
)
from workflows import summaries
from workflows.mrkdwn import escape


def check_start(start: RedAccountCaseStart, now: datetime) -> None:
    limits.check(start, now, "cannot open the red-account case: ")
    problems = [
        f"{name} is empty"
        for name in ("case_id", "account_id", "account_name", "reason")
        if not getattr(start, name).strip()
    ]
    if problems:
        raise RuleViolation("cannot open the red-account case: " + "; ".join(problems))


def new_snapshot(start: RedAccountCaseStart, now: datetime) -> RedAccountSnapshot:
    check_start(start, now)
    return RedAccountSnapshot(start=start, reasons=[start.reason])


def missing_from(s: RedAccountSnapshot) -> list[Role]:
    recorded = {entry.role for entry in s.plans}
    return [role for role in (Role.AE, Role.CE) if role not in recorded]


def action_plan_complete(s: RedAccountSnapshot) -> bool:
    return not missing_from(s)


def _check_open(s: RedAccountSnapshot) -> None:
    if s.resolved_at is not None:
        raise RuleViolation(
            f"case {s.start.case_id} was resolved on {s.resolved_at.date().isoformat()}"
        )


def _check_owner(s: RedAccountSnapshot, actor: str, role: Role) -> None:
    owner = s.start.ae_owner if role is Role.AE else s.start.ce_owner
    if not actor.strip():
        raise RuleViolation("say who you are (--by)")
    if actor not in (s.start.ae_owner, s.start.ce_owner):
        raise RuleViolation(
            f"{actor or 'nobody'} is neither the AE ({s.start.ae_owner}) nor the CE"
            f" ({s.start.ce_owner}) of {s.start.account_name}"
        )
    if actor != owner:
        raise RuleViolation(f"{actor} is not the account's {role.value} ({owner} is)")


def _check_text(name: str, value: str) -> None:
    if not value.strip():
        raise RuleViolation(f"{name} is empty")


def check_action_plan(s: RedAccountSnapshot, request: RecordActionPlan) -> None:
    _check_open(s)
    _check_owner(s, request.actor, request.role)
    for name in ("current_status", "needs", "intended_actions"):
        _check_text(name.replace("_", " "), getattr(request, name))


def repeated_action_plan(s: RedAccountSnapshot, request: RecordActionPlan) -> str | None:
    """The answer to ``request`` when it repeats, word for word, the part its role recorded
    last (a retried command, the form sent twice), or None when it says something new.

    Only who and what are compared: when and through what it came do not make a new plan."""
    check_action_plan(s, request)
    recorded = next((entry for entry in s.plans if entry.role is request.role), None)
    asked = (
        request.actor,
        request.current_status.strip(),
        request.needs.strip(),
        request.intended_actions.strip(),
    )
    if recorded is None or asked != (
        recorded.actor,
        recorded.current_status,
        recorded.needs,
        recorded.intended_actions,
    ):
        return None
    return _and_waiting(s, f"{request.role.value} part already recorded as given; nothing changed")


def apply_action_plan(s: RedAccountSnapshot, request: RecordActionPlan, now: datetime) -> str:
    check_action_plan(s, request)
    s.plans = [entry for entry in s.plans if entry.role is not request.role] + [
        ActionPlanEntry(
            request.role,
            request.actor,
            request.current_status.strip(),
            request.needs.strip(),
            request.intended_actions.strip(),
            now,
            via=request.via,
        )
    ]
    if action_plan_complete(s):
        return "action plan complete: both the AE and the CE have recorded theirs"
    return _and_waiting(s, f"{request.role.value} part recorded")


def _and_waiting(s: RedAccountSnapshot, message: str) -> str:
    """``message``, and whose part is still missing, if any."""
    if action_plan_complete(s):
        return message
    return f"{message}; waiting for the {', '.join(role.value for role in missing_from(s))}"


def check_ask(s: RedAccountSnapshot, request: RecordAsk) -> None:
    _check_open(s)
    _check_owner(s, request.actor, request.role)
    _check_text("the ask", request.ask)


def apply_ask(s: RedAccountSnapshot, request: RecordAsk, now: datetime) -> str:
    check_ask(s, request)
    number = len(s.asks) + 1
    # An ask from the case's thread (it has a permalink) is there already: not posted again.
    asked = CaseAsk(
        number,
        request.actor,
        request.ask.strip(),
        request.at or now,
        posted=bool(request.permalink),
        permalink=request.permalink,
        via=request.via,
    )
    s.asks = [*s.asks, asked]
    if asked.permalink:
        return f"ask #{number} recorded from the case's thread"
    if s.thread_ts == "":
        return (
            f"ask #{number} recorded; the case has no thread (its post was skipped), so it is"
            f" posted nowhere: `dealcycle red show {s.start.account_id}` lists it"
        )
    return f"ask #{number} recorded; it goes to the case's thread"


def case_signal_problem(s: RedAccountSnapshot, signal: CaseSignal) -> str | None:
    """Why the case drops ``signal`` (a signal cannot be refused), or None. A change of the
    account's owners or renewal date counts only from the case's own account (it names this
    case) and only with what changed."""
    if signal.kind not in (OWNERS_CHANGED_CASE_SIGNAL_KIND, RENEWAL_MOVED_CASE_SIGNAL_KIND):
        return None
    if signal.case_id != s.start.case_id:
        return f"{signal.kind} is for case {signal.case_id or '(none)'}, not {s.start.case_id}"
    if signal.kind == OWNERS_CHANGED_CASE_SIGNAL_KIND:
        if not (signal.ae_owner.strip() and signal.ce_owner.strip()):
            return f"{signal.kind} names no AE or no CE"
        if signal.ae_owner == signal.ce_owner:
            return f"{signal.kind} names {signal.ae_owner} as both the AE and the CE"
    elif signal.renewal_date is None:
        return f"{signal.kind} carries no renewal date"
    return None


def _note(s: RedAccountSnapshot, text: str) -> None:
    s.notes = [*s.notes, CaseNote(len(s.notes) + 1, text)]


def _why(signal: CaseSignal) -> str:
    return f" ({escape(signal.reason.strip())})" if signal.reason.strip() else ""


def _follow_owners(s: RedAccountSnapshot, signal: CaseSignal) -> bool:
    start = s.start
    handed = [
        (role, old, new)
        for role, old, new in (
            (Role.AE, start.ae_owner, signal.ae_owner),
            (Role.CE, start.ce_owner, signal.ce_owner),
        )
        if old != new
    ]
    if not handed:
        return False
    s.start = replace(start, ae_owner=signal.ae_owner, ce_owner=signal.ce_owner)
    s.owner_changes += 1
    missing = missing_from(s)
    # The outgoing owner is named, not mentioned: the account told them; the thread's
    # reminders are the new owner's from now on.
    lines = [
        f"<@{new}> is now the {role.value} of {escape(start.account_name)},"
        f" after {old or 'nobody'}"
        f"{_why(signal)}."
        + (f" The {role.value}'s part of the action plan is theirs." if role in missing else "")
        for role, old, new in handed
    ]
    _note(s, " ".join(lines))
    return True


def _follow_renewal(s: RedAccountSnapshot, signal: CaseSignal) -> bool:
    old, new = s.start.renewal_date, signal.renewal_date
    if new is None or new == old:
        return False
    s.start = replace(s.start, renewal_date=new)
    was = old.date().isoformat() if old else "not set"
    _note(
        s,
        f"The renewal of {escape(s.start.account_name)} moved to {new.date().isoformat()}"
        f" (was {was})"
        f"{_why(signal)}.",
    )
    return True


def apply_case_signal(s: RedAccountSnapshot, signal: CaseSignal) -> bool:
    """Returns whether anything changed (signals for a resolved case change nothing)."""
    if s.resolved_at is not None:
        return False
    if signal.kind == OWNERS_CHANGED_CASE_SIGNAL_KIND:
        return _follow_owners(s, signal)
    if signal.kind == RENEWAL_MOVED_CASE_SIGNAL_KIND:
        return _follow_renewal(s, signal)
    if signal.kind in ("resolved", CHURNED_CASE_SIGNAL_KIND):
        s.churned = signal.kind == CHURNED_CASE_SIGNAL_KIND
        s.resolved_at = signal.at
        s.resolved_by = signal.by
        s.resolved_colour = signal.colour
        s.resolution_reason = signal.reason
        return True
    if signal.reason and signal.reason not in s.reasons:
        s.reasons = [*s.reasons, signal.reason]
        return True
    return False


def reminder_due(s: RedAccountSnapshot, now: datetime) -> bool:
    at = next_reminder_at(s)
    return at is not None and now >= at


def next_reminder_at(s: RedAccountSnapshot) -> datetime | None:
    if s.resolved_at is not None or action_plan_complete(s) or s.thread_ts is None:
        return None
    interval = timedelta(seconds=s.start.config.reminder_interval_seconds)
    return (s.last_reminded_at or s.start.opened_at) + interval


def escalation_at(s: RedAccountSnapshot) -> datetime:
    return s.start.opened_at + timedelta(seconds=s.start.config.action_plan_sla_seconds)


def escalation_due(s: RedAccountSnapshot, now: datetime) -> bool:
    return (
        s.resolved_at is None
        and not s.escalated
        and not action_plan_complete(s)
        and now >= escalation_at(s)
    )


def next_wake_up(s: RedAccountSnapshot) -> datetime | None:
    wake_up = next_named_wake_up(s)
    return wake_up.at if wake_up is not None else None


def next_named_wake_up(s: RedAccountSnapshot) -> summaries.WakeUp | None:
    """``next_wake_up`` with what it is for (the timer's summary in the Web UI)."""
    moments: list[summaries.WakeUp] = []
    reminder_at = next_reminder_at(s)
    if reminder_at is not None:
        moments.append(summaries.WakeUp(reminder_at, summaries.reminder("the action plan")))
    if s.resolved_at is None and not s.escalated and not action_plan_complete(s):
        moments.append(
            summaries.WakeUp(escalation_at(s), summaries.moment("escalate: no action plan yet"))
        )
    return summaries.earliest(moments)


def state_view(s: RedAccountSnapshot) -> RedAccountState:
    return RedAccountState(
        case_id=s.start.case_id,
        account_id=s.start.account_id,
        account_name=s.start.account_name,
        reasons=list(s.reasons),
        opened_at=s.start.opened_at,
        thread_ts=s.thread_ts,
        action_plan=list(s.plans),
        action_plan_complete=action_plan_complete(s),
        missing_from=[role.value for role in missing_from(s)],
        asks=list(s.asks),
        reminders_sent=s.reminders_sent,
        escalated=s.escalated,
        resolved_at=s.resolved_at,
        resolved_colour=s.resolved_colour.value if s.resolved_colour else None,
        ae_owner=s.start.ae_owner,
        ce_owner=s.start.ce_owner,
        renewal_date=s.start.renewal_date,
        churned=s.churned,
    )


def resolution_post(account_name: str, colour: str, by: str, reason: str) -> str:
    """The thread's last word: the account is ``colour`` again, by the score (its reason says
    the score) or by the person who set it."""
    circle = "green" if colour == "green" else "yellow"
    why = f"by the {escape(reason)}" if by == "score" else f"<@{by}>: {escape(reason)}"
    return f":large_{circle}_circle: Resolved: {escape(account_name)} is {colour} again ({why})."
