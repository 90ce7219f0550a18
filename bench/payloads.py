"""Payloads of the bench-only workflows.

Kept out of the workflow modules and imported with ``imports_passed_through`` (as dealcycle's
workflows import ``schemas``), so the sandbox does not rebuild these dataclasses for every
workflow it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.account import RecordFeatureRequest, SubmitAccountPlan


@dataclass(frozen=True)
class NoopRequest:
    step: str
    actor: str


@dataclass(frozen=True)
class NoopAck:
    message: str
    count: int


@dataclass(frozen=True)
class BareTrialInput:
    opportunity_id: str
    account_id: str
    account_name: str
    ce_owner: str
    ae_owner: str
    seats: int = 25
    length_days: int = 30
    planning_items: int = 8
    day_seconds: int = 86400
    planning_item_due_seconds: int = 7 * 86400
    overdue_reminder_delay_seconds: int = 86400
    check_in_due_seconds: int = 2 * 86400
    channel: str = "#dealcycle-trials"


@dataclass(frozen=True)
class BareTrialResult:
    opportunity_id: str
    outcome: str
    license_key_ids: list[str]


@dataclass(frozen=True)
class BareAccountInput:
    """What ``BareAccountWorkflow`` replays: an account-year's durable waits and effects.

    ``script`` is the account's sequence of wake-ups, recorded from a real ``AccountWorkflow``
    run by ``bench.year_of_accounts``, one compact string per wake-up (the workflow's module
    says how they read); ``base`` is the moment its timer offsets count from; ``cursor`` is
    where a continued run picks up.
    """

    account_id: str
    account_name: str
    ce_owner: str
    ae_owner: str
    seats: int
    tier: int
    renewal_date: datetime
    base: datetime
    script: list[str]
    cursor: int = 0
    run: int = 0
    arrived: list[str] | None = None
    """Updates accepted but not yet acted on when the run continued as new (carried over,
    as an account carries what its handlers already applied), with the last plan and
    feature request they brought."""
    plan: SubmitAccountPlan | None = None
    feature: RecordFeatureRequest | None = None


@dataclass(frozen=True)
class BareAccountPosition:
    cursor: int
    script_length: int
    run: int
