"""The rules of changes to a running account, as pure functions over ``AccountSnapshot``.

- The renewal date moves (a co-terming, a late signature, a multi-year deal): the renewal
  work re-plans to the new date. Work already opened for the old date is carried, never
  opened twice: the value exercise, the proposal and the outcome step are re-keyed to the new
  date with their due dates moved, their reminders start over (a snooze made for the old due
  date ends), their Salesforce Tasks are revised in place and their owners told; pending
  assessments name the new date. Nothing is left keyed by the old date, so nothing fires for
  it. A later date owes a new key valid until then (keys expire at the renewal date).
- The AE or CE changes hands: the outgoing owner or the CE leader may do it (the leader
  because the outgoing person may be gone). Open steps of the role move to the new owner, with
  their Salesforce Tasks; both people are told, once. An open red-account case is told too
  (once, as it is of a moved renewal date): its open parts and reminders follow.
- A new team's expansion gives its own seat count: its opportunity starts with those seats and
  winning it adds exactly them (``account_profile_rules.apply_hand_off`` adds a won expansion's
  seats).

Checks only read (the validators call them); applies call their check first, as in
the ``account_*_rules`` modules.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from schemas import limits
from schemas.account import (
    AccountSnapshot,
    AccountStep,
    LifecycleStage,
    RecordRenewalOutcome,
    RenewalOutcome,
    StepKind,
)
from schemas.account_changes import (
    AccountChange,
    MoveRenewalDate,
    OwedNotice,
    ReassignOwner,
    TaskRevision,
)
from schemas.common import Role, StepStatus
from schemas.errors import RuleViolation
from workflows import health_rules
from workflows.account_calendar import add_years, midnight
from workflows.account_schedule import VALUE_EXERCISE_DUE_DAYS, renewal_window_opens_at
from workflows.account_steps import (
    audit,
    check_actor,
    check_not_churned,
    check_profile_complete,
    grant_license,
    profile_changed,
)
from workflows.mrkdwn import escape

RENEWAL_WORK = (StepKind.VALUE_REALIZATION, StepKind.RENEWAL_PROPOSAL, StepKind.RENEWAL_OUTCOME)


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "-"


def _name(s: AccountSnapshot) -> str:
    """The account as the notices (Slack posts) name it: its name is Salesforce's or typed."""
    return escape(f"{s.profile.account_name} ({s.profile.account_id})")


def _new_change(s: AccountSnapshot) -> AccountChange:
    s.changes_made += 1
    change = AccountChange(s.changes_made)
    s.changes.append(change)
    return change


def _revision(step: AccountStep) -> TaskRevision | None:
    """The Task to write again for ``step``, if it has one already."""
    if not (step.salesforce_task and step.announced and step.due_at is not None):
        return None
    return TaskRevision(step.key, step.opened_as or step.key, step.title, step.due_at, step.owner)


# --- The renewal date ----------------------------------------------------------------------


def current_renewal_date(s: AccountSnapshot) -> datetime | None:
    return s.renewal.renewal_date if s.renewal is not None else s.profile.renewal_date


def check_move_renewal_date(
    s: AccountSnapshot, request: MoveRenewalDate, now: datetime
) -> datetime:
    """The new renewal date (midnight UTC), or why it cannot move there."""
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    check_profile_complete(s, "move the renewal date")
    if not request.reason.strip():
        raise RuleViolation(
            "moving the renewal date needs a reason (a co-terming, a late signature, a"
            " multi-year deal...)"
        )
    if request.renewal_date.utcoffset() is None:
        raise RuleViolation("the new renewal date must carry a time zone")
    new = midnight(request.renewal_date.astimezone(UTC))
    current = current_renewal_date(s)
    if new == current:
        raise RuleViolation(f"the renewal is already on {_day(new)}")
    if new <= now:
        raise RuleViolation(
            f"the new renewal date {_day(new)} is not in the future (today is {_day(now)})"
        )
    latest = add_years(midnight(now), 365 * limits.RENEWAL_MOVE_YEARS)
    if new > latest:
        raise RuleViolation(
            f"the new renewal date {_day(new)} is more than {limits.RENEWAL_MOVE_YEARS} years"
            f" ahead (at most {_day(latest)})"
        )
    if s.renewal is not None and s.renewal.outcome is not None:
        raise RuleViolation(
            f"the {_day(current)} renewal was already decided ({s.renewal.outcome.value}); the"
            " next renewal date is the outcome's (--next-renewal-date)"
        )
    return new


def _carried_due(s: AccountSnapshot, step: AccountStep, new: datetime, now: datetime) -> datetime:
    """Where ``step`` would be due had the window opened for ``new``."""
    d = s.config.durations
    if step.kind is StepKind.VALUE_REALIZATION:
        opened = max(midnight(now), new - timedelta(days=d.value_exercise_lead_days))
        return min(opened + timedelta(days=VALUE_EXERCISE_DUE_DAYS), new)
    if step.kind is StepKind.RENEWAL_PROPOSAL:
        return max(new - timedelta(days=d.renewal_proposal_lead_days), midnight(now))
    return new


def moves_snoozed_work(s: AccountSnapshot) -> bool:
    """Whether a move re-plans renewal work whose reminders are snoozed."""
    tag = _day(current_renewal_date(s))
    return any(
        step.kind in RENEWAL_WORK
        and step.key.endswith(tag)
        and step.status is StepStatus.PENDING
        and step.snoozed_until is not None
        for step in s.steps
    )


def apply_move_renewal_date(
    s: AccountSnapshot, request: MoveRenewalDate, now: datetime, *, ends_snoozes: bool = True
) -> str:
    """``ends_snoozes=False``: runs from before, whose moved work kept the snooze made for its
    old due date (a move a month closer left a step due today silent for weeks)."""
    new = check_move_renewal_date(s, request, now)
    old = current_renewal_date(s)
    assert old is not None
    old_tag, new_tag = _day(old), _day(new)
    if s.renewal is not None:
        s.renewal.renewal_date = new
    s.profile = replace(s.profile, renewal_date=new)
    profile_changed(s)
    change = _new_change(s)
    moved: list[tuple[AccountStep, datetime | None]] = []
    carried = False
    for step in s.steps:
        renewal_work = step.kind in RENEWAL_WORK and step.key.endswith(old_tag)
        if renewal_work:
            carried = True
            if step.announced:
                step.opened_as = step.opened_as or step.key
            step.key = step.key.removesuffix(old_tag) + new_tag
        elif step.status is not StepStatus.PENDING or old_tag not in step.title:
            continue
        step.title = step.title.replace(old_tag, new_tag)
        if step.status is not StepStatus.PENDING:
            continue
        if renewal_work:
            moved.append((step, step.due_at))
            step.due_at = _carried_due(s, step, new, now)
            step.reminders_sent, step.last_reminded_at, step.escalated = 0, None, False
            if ends_snoozes:
                step.snoozed_until = None
            step.replanned = change.number
        revision = _revision(step)
        if revision is not None:
            change.tasks.append(revision)
    if carried and s.renewal is not None:
        s.renewal.carried_work = True
        opens = renewal_window_opens_at(s)
        if s.stage is LifecycleStage.RENEWAL and opens is not None and now < opens:
            s.stage = LifecycleStage.ADOPTION  # until the new date's window opens
    unissued = [grant for grant in s.licenses if grant.key_id is None]
    for grant in unissued:  # issued for the new date instead
        grant.expires_at = new
    keyed = new > old and not unissued
    if keyed:
        grant_license(s, f"renewal date moved to {new_tag}", s.profile.seats)
    health_rules.tell_case_of_renewal(s.vitals, new, request.actor, request.reason.strip(), now)
    _tell_renewal_move(s, change, request, old, new, moved)
    audit(
        s,
        now,
        request.actor,
        f"moved the renewal {old_tag} -> {new_tag}: {request.reason}",
        request.via,
    )
    kept = f"; carried: {', '.join(step.key for step, _ in moved)}" if moved else ""
    key = "; a new key valid until then follows" if keyed else ""
    return f"renewal moved from {old_tag} to {new_tag}{kept}{key}"


def _tell_renewal_move(
    s: AccountSnapshot,
    change: AccountChange,
    request: MoveRenewalDate,
    old: datetime,
    new: datetime,
    moved: list[tuple[AccountStep, datetime | None]],
) -> None:
    what = (
        f"The renewal of {_name(s)} moved from {_day(old)} to {_day(new)}"
        f" (by <@{request.actor}>: {escape(request.reason.strip())})."
    )
    change.notices.append(OwedNotice(s.config.announce_channel, what))
    by_owner: dict[str, list[str]] = {}
    for step, was in moved:
        by_owner.setdefault(step.owner, []).append(
            f"{escape(step.title)}: now due {_day(step.due_at)} (was {_day(was)})"
        )
    for owner, lines in by_owner.items():
        change.notices.append(
            OwedNotice(owner, f"{what} Your open work moves with it: " + "; ".join(lines) + ".")
        )


# --- The AE and the CE ---------------------------------------------------------------------


def ce_leader(s: AccountSnapshot) -> str:
    return s.config.roster.ce_leader


def _owner_of(s: AccountSnapshot, role: Role) -> str:
    return s.profile.ae_owner if role is Role.AE else s.profile.ce_owner


def leader_to_look_up(s: AccountSnapshot, request: ReassignOwner) -> bool:
    """Whether only the roster of the day can say if the actor may reassign: they are neither
    the outgoing owner nor the CE leader the account last knew (the roster may have rotated
    since; the account looks it up only when it needs one of its people)."""
    return request.actor not in (_owner_of(s, Role(request.role)), ce_leader(s))


def leader_to_confirm(s: AccountSnapshot, request: ReassignOwner) -> bool:
    """Whether the actor may reassign only as the CE leader the account last knew (not as the
    outgoing owner): the roster may have rotated them out since, which only the roster of the
    day can say."""
    return request.actor != _owner_of(s, Role(request.role)) and request.actor == ce_leader(s)


def check_reassign_owner(
    s: AccountSnapshot, request: ReassignOwner, *, leader_known: bool = True
) -> str:
    """The outgoing owner, or why the role cannot change hands so. ``leader_known=False`` (the
    validator, which cannot look the roster up) leaves who may to the handler, which asks the
    roster first when ``leader_to_look_up``."""
    check_not_churned(s)
    role = Role(request.role)
    current = _owner_of(s, role)
    if not current:
        raise RuleViolation(
            f"the account has no {role.value} yet: name one with `dealcycle account profile"
            f" --{role.value.lower()}`"
        )
    leader = ce_leader(s)
    if not request.actor.strip():
        raise RuleViolation("say who you are (--by)")
    new = request.new_owner
    # Before who may reassign: the outgoing owner repeating a reassignment that went through is
    # no longer the owner, and would be told they may not, rather than that it is done.
    if new == current:
        raise RuleViolation(f"{new} is already the account's {role.value}; nothing to reassign")
    if leader_known and request.actor not in (current, leader):
        raise RuleViolation(
            f"{request.actor} cannot reassign the {role.value}: the outgoing {role.value}"
            f" ({current}) or the CE leader ({leader}) does"
        )
    if not new.strip():
        raise RuleViolation(f"name the new {role.value} (--to)")
    other = Role.CE if role is Role.AE else Role.AE
    if new == _owner_of(s, other):
        raise RuleViolation(
            f"the AE and the CE must be different people: {new} is the account's {other.value}"
        )
    return current


def apply_reassign_owner(s: AccountSnapshot, request: ReassignOwner, now: datetime) -> str:
    old = check_reassign_owner(s, request)
    role = Role(request.role)
    new = request.new_owner
    if role is Role.AE:
        s.profile = replace(s.profile, ae_owner=new)
    else:
        s.profile = replace(s.profile, ce_owner=new)
    change = _new_change(s)
    moved = [
        step
        for step in s.steps
        if step.status is StepStatus.PENDING and step.owner == old and step.role == role.value
    ]
    for step in moved:
        step.owner = new
        revision = _revision(step)
        if revision is not None:
            change.tasks.append(revision)
    why = f": {request.reason.strip()}" if request.reason.strip() else ""
    # The notices are Slack posts; the account's own note keeps the reason as typed.
    told_why = escape(why)
    case = health_rules.tell_case_of_owners(
        s.vitals, s.profile.ae_owner, s.profile.ce_owner, request.actor, request.reason.strip(), now
    )
    open_work = [f"{escape(step.title)} (due {_day(step.due_at)})" for step in moved]
    if case is not None:
        open_work.append(f"the {role.value}'s part of the open red-account case {case}")
    work = "; ".join(open_work) or "none"
    change.notices += [
        OwedNotice(
            old,
            f"You are no longer the {role.value} of {_name(s)}: <@{new}> takes over"
            f" (by <@{request.actor}>{told_why}). Your open work there is now theirs: {work}.",
        ),
        OwedNotice(
            new,
            f"You are now the {role.value} of {_name(s)}, after <@{old}> (by"
            f" <@{request.actor}>{told_why}). Open work now yours: {work}. See it with"
            f" `dealcycle account show {s.profile.account_id}`.",
        ),
    ]
    audit(s, now, request.actor, f"{role.value} {old} -> {new}{why}", request.via)
    return f"{new} is now the {role.value}; {len(moved)} open step(s) moved from {old}"


# --- A new team's seats ----------------------------------------------------------------------


def check_new_team_seats(s: AccountSnapshot, request: RecordRenewalOutcome) -> None:
    """Asked for by the validator only: an outcome accepted before the seats were asked for
    replays without them."""
    if request.outcome != RenewalOutcome.NEW_TEAM.value:
        if request.new_team_seats:
            raise RuleViolation("new-team seats belong to a new_team outcome")
        return
    seats = s.profile.seats
    if request.new_team_seats < 1:
        raise RuleViolation(
            f"a new-team expansion needs the new team's seat count (--team-seats): the"
            f" account's {seats} seats stay, winning the expansion adds the team's"
        )
    if seats + request.new_team_seats > limits.MAX_SEATS:
        raise RuleViolation(
            f"{seats} seats and a new team of {request.new_team_seats} would pass"
            f" {limits.MAX_SEATS} seats"
        )


def check_outcome_fields(s: AccountSnapshot, request: RecordRenewalOutcome) -> None:
    """What an outcome is given must be its own: a value it would ignore is refused, not
    dropped (``--seats 80`` on a plain renewal is a downsell the account cannot record). Asked
    for by the validator only, as ``check_new_team_seats``: outcomes accepted before replay."""
    outcome = request.outcome
    if request.seats and outcome != RenewalOutcome.SEAT_EXPANSION.value:
        raise RuleViolation(
            f"seats ({request.seats}) belong to a seat_expansion outcome: {outcome} keeps the"
            f" account's {s.profile.seats} seats (a new team's go in --team-seats)"
        )
    if request.expansion_opportunity_id.strip() and outcome != RenewalOutcome.NEW_TEAM.value:
        raise RuleViolation(
            f"an expansion opportunity ({request.expansion_opportunity_id.strip()}) belongs to"
            f" a new_team outcome, not {outcome}"
        )
    if request.next_renewal_date is not None and outcome == RenewalOutcome.CHURNED.value:
        raise RuleViolation("a churned customer has no next renewal date")
