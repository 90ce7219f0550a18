"""Snoozing a step (``SnoozeStep``): its next reminder moves by business days.

Pure rules (no Temporal): the workflows' validators call ``check_snooze`` and
``check_reach``, their handlers ``snooze``, and their reminder schedules read
``not_before_snooze``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from schemas import limits
from schemas.common import StepStatus
from schemas.errors import RuleViolation
from schemas.steps import PostedPrompt, SnoozeStep
from workflows.summaries import utc_minute

REAL_DAY = 86_400
SATURDAY = 5


class PromptedStep(Protocol):
    """A trial's, an account's or a security review's step, as prompts and snoozes see it."""

    prompts: list[PostedPrompt]
    snoozed_until: datetime | None

    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def status(self) -> StepStatus: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def completed_by(self) -> str | None: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def note(self) -> str: ...


def business_days_after(moment: datetime, days: int, day_seconds: int) -> datetime:
    """``days`` business days after ``moment``: weekends are skipped when a day is a real
    day; a demo's shortened day has no weekends."""
    if day_seconds != REAL_DAY:
        return moment + timedelta(seconds=day_seconds * days)
    at = moment
    left = days
    while left > 0:
        at += timedelta(days=1)
        if at.weekday() < SATURDAY:
            left -= 1
    return at


def check_snooze(
    request: SnoozeStep,
    step: PromptedStep | None,
    known: Iterable[str],
    of_record: dict[str, str],
    now: datetime,
) -> PromptedStep:
    """The step to snooze, or the reason it cannot be. ``of_record`` names who besides the
    step's owner may snooze it (``{"AE": U…, "CE": U…}``)."""
    limits.check(request, now)
    if not request.by.strip():
        raise RuleViolation("by: say who is snoozing (--by U…)")
    if step is None:
        raise RuleViolation(
            f"unknown step {request.step!r}; the open steps are: {', '.join(known) or 'none'}"
        )
    if step.status is not StepStatus.PENDING:
        raise RuleViolation(f"step {step.key!r} is {step.status.value}: nothing to snooze")
    if step.due_at is None:
        raise RuleViolation(f"step {step.key!r} has no due date, so no reminder to snooze")
    allowed = {step.owner, *(who for who in of_record.values() if who)}
    if request.by not in allowed:
        roles = ", ".join(f"the {role} {who}" for role, who in of_record.items() if who)
        raise RuleViolation(
            f"{request.by} may not snooze {step.key!r}: only its owner {step.owner}"
            + (f" or {roles}" if roles else "")
        )
    return step


def check_reach(
    step: PromptedStep,
    next_reminder: Callable[[Any], datetime | None],
    now: datetime,
    days: int,
    day_seconds: int,
) -> None:
    """Refuse a snooze that would put the step's next reminder more than ``MAX_SNOOZE_DAYS``
    business days past the one its schedule alone gives (``next_reminder`` of the step without
    its snooze): snoozes add up, and one after another would otherwise silence a step, past
    its due date, for as long as anyone repeats them.

    In the validators only: a handler replaying a run from before this bound takes what it
    accepted then."""
    snoozed_until = next_reminder(step)
    scheduled_at = next_reminder(dataclasses.replace(cast(Any, step), snoozed_until=None))
    if snoozed_until is None or scheduled_at is None:
        return
    reach = business_days_after(max(snoozed_until, now), days, day_seconds)
    furthest = business_days_after(max(scheduled_at, now), limits.MAX_SNOOZE_DAYS, day_seconds)
    if reach > furthest:
        raise RuleViolation(
            f"step {step.key!r} is snoozed until {utc_minute(max(snoozed_until, now))}:"
            f" {days} more business day(s) would reach {utc_minute(reach)}; snoozes add up to"
            f" at most {limits.MAX_SNOOZE_DAYS} business days past its scheduled reminder"
            f" (until {utc_minute(furthest)})"
        )


def check_not_escalated(step: PromptedStep, escalated: bool) -> None:
    if escalated:
        raise RuleViolation(
            f"step {step.key!r} was escalated to the CE leader: its reminders are over"
        )


def snooze(
    step: PromptedStep, next_reminder_at: datetime, now: datetime, days: int, day_seconds: int
) -> str:
    """Move the step's next reminder (due at ``next_reminder_at``, or now if that passed)
    by ``days``."""
    step.snoozed_until = business_days_after(max(next_reminder_at, now), days, day_seconds)
    return f"{step.title}: next reminder {utc_minute(step.snoozed_until)}"


def not_before_snooze(step: PromptedStep, at: datetime) -> datetime:
    """``at``, or the end of the step's snooze when that is later."""
    return max(at, step.snoozed_until) if step.snoozed_until is not None else at
