"""Snoozing an account step's reminders (``snooze_step``): pure rules over the snapshot."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from schemas.account import AccountSnapshot, AccountStep, LifecycleStage
from schemas.common import StepStatus
from schemas.errors import RuleViolation
from schemas.steps import SnoozeStep
from workflows import step_snooze
from workflows.account_schedule import next_reminder_at


def check_snooze(s: AccountSnapshot, request: SnoozeStep, now: datetime) -> AccountStep:
    """An open step with a due date, snoozed by its owner or the account's AE or CE."""
    if s.stage is LifecycleStage.CHURNED:
        raise RuleViolation(f"{s.profile.account_name} churned; nothing more to snooze")
    step = next((item for item in s.steps if item.key == request.step), None)
    known = [item.key for item in s.steps if item.status is StepStatus.PENDING]
    of_record = {"AE": s.profile.ae_owner, "CE": s.profile.ce_owner}
    checked = step_snooze.check_snooze(request, step, known, of_record, now)
    assert isinstance(checked, AccountStep)
    step_snooze.check_not_escalated(checked, checked.escalated)
    return checked


def check_snooze_request(s: AccountSnapshot, request: SnoozeStep, now: datetime) -> None:
    """The validator's check: ``check_snooze``, and how far the snooze would reach."""
    step, day_seconds = check_snooze(s, request, now), s.config.durations.day_seconds
    step_snooze.check_reach(step, partial(next_reminder_at, s), now, request.days, day_seconds)


def apply_snooze(s: AccountSnapshot, request: SnoozeStep, now: datetime) -> str:
    step = check_snooze(s, request, now)
    next_at = next_reminder_at(s, step)
    return step_snooze.snooze(step, next_at, now, request.days, s.config.durations.day_seconds)
