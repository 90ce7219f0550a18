"""Contracts of the Closed Won intake: the scheduled poll of Salesforce that hands won deals
to their accounts' workflows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CLOSED_WON_INTAKE_WORKFLOW_TYPE = "ClosedWonIntakeWorkflow"
CLOSED_WON_SCHEDULE_ID = "closed-won-intake"
CLOSED_WON_WATERMARK = "closed-won"


@dataclass(frozen=True)
class IntakeRun:
    watermark_name: str = CLOSED_WON_WATERMARK
    batch_size: int = 200
    first_poll_lookback_days: int = 7
    """With no watermark yet, look this far back for Closed Won deals."""


@dataclass(frozen=True)
class WatermarkRequest:
    name: str


@dataclass(frozen=True)
class Watermark:
    """The newest ``LastModifiedDate`` read, to the second, and the ids read in that second."""

    name: str
    value: datetime | None
    seen_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClosedWonPoll:
    since: datetime
    """Read records modified in this second or later (SOQL datetimes have whole seconds)."""
    limit: int = 200


@dataclass(frozen=True)
class ClosedWonDeal:
    """What one SOQL query tells of a won deal and its account (``Account.Name`` and the
    account's fields come in the same query)."""

    opportunity_id: str
    account_id: str
    account_name: str
    kind: str
    seats: int
    last_modified: datetime
    closed_at: datetime | None = None
    """``CloseDate`` at midnight UTC (None in results recorded before it was read)."""
    region: str = ""
    deployment_type: str = ""
    tier: int = 0
    amount: float = 0.0


@dataclass(frozen=True)
class ClosedWonBatch:
    deals: list[ClosedWonDeal] = field(default_factory=list)


@dataclass(frozen=True)
class HandOffDecision:
    """What the intake did with one deal, and why."""

    opportunity_id: str
    account_workflow_id: str
    decision: str
    """``started``, ``already running`` or ``skipped``."""
    why: str = ""


@dataclass(frozen=True)
class IntakeResult:
    handed_off: list[str]
    """Deals sent to their account's workflow (started, or signalled while running)."""
    already_handed_off: list[str]
    """Kept for results of older runs; today's hand-off does not read the account first."""
    watermark: datetime | None
    skipped: list[str] = field(default_factory=list)
    """Deals not handed off: their account's workflow closed after the deal did."""
    decisions: list[HandOffDecision] = field(default_factory=list)
