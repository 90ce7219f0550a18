"""Contracts of the Closed Won intake: the scheduled poll of Salesforce that hands won deals
to their accounts' workflows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.account import AccountHandOff

CLOSED_WON_INTAKE_WORKFLOW_TYPE = "ClosedWonIntakeWorkflow"
CLOSED_WON_SCHEDULE_ID = "closed-won-intake"
CLOSED_WON_WATERMARK = "closed-won"


@dataclass(frozen=True)
class DealClosed:
    """``dealcycle deal-closed``: one deal, named, with what dealcycle knows of it that
    Salesforce does not (its opportunity workflow's owners, Slack members)."""

    opportunity_id: str
    kind: str = ""
    ae_owner: str = ""
    ce_owner: str = ""
    region: str = ""


@dataclass(frozen=True)
class IntakeRun:
    watermark_name: str = CLOSED_WON_WATERMARK
    batch_size: int = 200
    first_poll_lookback_days: int = 7
    """With no watermark yet, look this far back for Closed Won deals."""
    max_pages: int = 50
    """Pages of ``batch_size`` one run reads before it continues as new (its history stays
    small); a page shorter than ``batch_size`` ends the run sooner."""
    deal_closed: DealClosed | None = None
    """Hand off this one deal, read by Id (the watermark neither read nor moved)."""


@dataclass(frozen=True)
class WatermarkRequest:
    name: str


@dataclass(frozen=True)
class Watermark:
    """How far the intake has handed off, in the order it reads: ``(LastModifiedDate, Id)``
    of the last deal handed off. Watermarks saved before the intake paged by Id have no
    ``last_id``: their ``value`` is a whole second and ``seen_ids`` the deals of that second
    already read."""

    name: str
    value: datetime | None
    seen_ids: list[str] = field(default_factory=list)
    last_id: str = ""


@dataclass(frozen=True)
class ClosedWonPoll:
    since: datetime
    """Read records modified at this moment or later (SOQL datetimes have whole seconds)."""
    limit: int = 200
    after_id: str = ""
    """With it, the next page after ``(since, after_id)``: records modified after ``since``,
    or at ``since`` with a greater Id, ordered by ``LastModifiedDate, Id``."""
    opportunity_id: str = ""
    """With it, that one opportunity, whatever its stage (``deal-closed``)."""


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
    read: int = 0
    """Records the query returned, deals or not (a page of ``limit`` means more may follow)."""
    last_modified: datetime | None = None
    last_id: str = ""
    """Where the page ended, in ``(LastModifiedDate, Id)`` order, counting records that are
    no deal to hand off (no ``AccountId``), so that the next page starts after them."""
    without_account: list[str] = field(default_factory=list)
    """Closed Won opportunities with no ``AccountId``: nothing to hand them to."""
    refused: str = ""
    """Why the opportunity named by the poll cannot be handed off (none such, not Closed
    Won, no account)."""
    read_at: datetime | None = None
    """When the query was sent, by the worker's clock."""


@dataclass(frozen=True)
class HandOffDecision:
    """What the intake did with one deal, and why."""

    opportunity_id: str
    account_workflow_id: str
    decision: str
    """``started``, ``already running``, ``skipped`` or ``refused`` (a field out of the
    account's bounds: not handed off, passed over until Salesforce's fix brings it back)."""
    why: str = ""


@dataclass(frozen=True)
class HandOffPage:
    """A page of deals, handed off concurrently (``DEALCYCLE_INTAKE_CONCURRENCY`` at once)."""

    hand_offs: list[AccountHandOff] = field(default_factory=list)


@dataclass(frozen=True)
class DealOutcome:
    """What became of one deal of a page: ``failed`` says why it was not handed off (after
    a few tries), and the watermark stays before it."""

    opportunity_id: str
    account_workflow_id: str
    decision: str = ""
    why: str = ""
    skipped: bool = False
    failed: str = ""


@dataclass(frozen=True)
class HandOffPageResult:
    outcomes: list[DealOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class FailedHandOff:
    opportunity_id: str
    why: str


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
    """Every skipped deal's, and the others' up to a few hundred (``decisions_left_out``)."""
    failed: list[FailedHandOff] = field(default_factory=list)
    """Deals whose hand-off failed: the watermark stays before the first, so the next run
    hands them off again."""
    decisions_left_out: int = 0
    """Deals handed off but left out of ``handed_off`` and ``decisions`` (a large run lists
    the first few hundred)."""
    handed_off_count: int = 0
    pages: int = 0
    refused: str = ""
    """Why the deal ``deal-closed`` named was not handed off."""
    without_account: list[str] = field(default_factory=list)
    """Closed Won opportunities read with no ``AccountId`` (nothing to hand them to), up to a
    few hundred: the watermark moves past them, and Salesforce's fix brings them back."""
