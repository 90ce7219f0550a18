"""Payloads of the bench-only workflows.

Kept out of the workflow modules and imported with ``imports_passed_through`` (as dealcycle's
workflows import ``schemas``), so the sandbox does not rebuild these dataclasses for every
workflow it runs.
"""

from __future__ import annotations

from dataclasses import dataclass


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
