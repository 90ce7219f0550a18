"""The daily digest: one DM a day, per person who prefers it, with their overdue steps and
the steps due in the coming week, instead of one DM per reminder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.todo import TodoItem

DAILY_DIGEST_WORKFLOW_TYPE = "DailyDigestWorkflow"
DIGEST_SCHEDULE_ID = "daily-digest"


@dataclass(frozen=True)
class DigestRun:
    """Input of ``DailyDigestWorkflow`` (the schedule's action)."""

    week_days: int = 7
    """How far ahead "due this week" looks."""
    items_per_person: int = 20
    """Listed in one DM at most; the rest are counted (``dealcycle todo`` lists them all)."""


@dataclass(frozen=True)
class DigestRequest:
    """Input of the ``gather_daily_digests`` activity."""

    as_of: datetime
    week_days: int
    items_per_person: int


@dataclass(frozen=True)
class PersonDigest:
    member_id: str
    overdue: list[TodoItem] = field(default_factory=list)
    due_this_week: list[TodoItem] = field(default_factory=list)
    not_listed: int = 0
    """Steps beyond ``items_per_person``."""


@dataclass(frozen=True)
class DigestBatch:
    people: list[PersonDigest] = field(default_factory=list)
    """Only people with something overdue or due this week."""
    nothing_due: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DigestResult:
    day: str
    sent: list[str] = field(default_factory=list)
    """Member ids whose digest DM this run posted."""
    not_sent: list[str] = field(default_factory=list)
    """Member ids whose DM failed or expired (tomorrow's lists the same steps)."""
    nothing_due: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    """Member ids whose digest DM an earlier run posted the same day: not posted again."""
