"""Snoozing a security review step's reminders (``snooze_step``): pure rules."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from schemas.errors import RuleViolation
from schemas.security_review import SecurityReviewPhase, SecurityReviewSnapshot, SecurityStep
from schemas.steps import SnoozeStep
from workflows import step_snooze
from workflows.security_review_rules import is_open, next_reminder_at


def check_snooze(s: SecurityReviewSnapshot, request: SnoozeStep, now: datetime) -> SecurityStep:
    """A step its owner can act on now, snoozed by that owner or the deal's AE or CE, before or
    after its escalation to the CE leader."""
    if s.phase is not SecurityReviewPhase.OPEN:
        raise RuleViolation(f"the security review is {s.phase.value}: nothing to snooze")
    step = next((item for item in s.steps if item.key == request.step), None)
    known = [item.key for item in s.steps if is_open(s, item)]
    of_record = {"AE": s.start.ae_owner, "CE": s.start.ce_owner}
    checked = step_snooze.check_snooze(request, step, known, of_record, now)
    assert isinstance(checked, SecurityStep)
    if not is_open(s, checked):
        raise RuleViolation(f"step {checked.key!r} waits on earlier steps: it is not reminded yet")
    # Unlike an account step's, a review step's reminders go on after its escalation to the
    # CE leader (once per step), each with its Snooze button: a snooze still moves the next.
    return checked


def check_snooze_request(s: SecurityReviewSnapshot, request: SnoozeStep, now: datetime) -> None:
    """The validator's check: ``check_snooze``, and how far the snooze would reach."""
    step, day_seconds = check_snooze(s, request, now), s.start.durations.day_seconds
    step_snooze.check_reach(step, partial(next_reminder_at, s), now, request.days, day_seconds)


def apply_snooze(s: SecurityReviewSnapshot, request: SnoozeStep, now: datetime) -> str:
    step = check_snooze(s, request, now)
    next_at = next_reminder_at(s, step)
    assert next_at is not None
    return step_snooze.snooze(step, next_at, now, request.days, s.start.durations.day_seconds)
