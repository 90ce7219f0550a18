"""Contracts of customer health and the red-account escalation (the Red Accounts program).

Health is a score from 0 to 100, the weighted mean of the latest usage, adoption and sentiment
readings (signals: they are feeds), turned into a colour by thresholds in configuration. The AE
or CE can set the colour by hand with a reason; a hand-set colour holds until the score crosses
a threshold or someone sets it again. A red account opens a ``RedAccountWorkflow`` case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.common import CustomerHealth, Role, SecurityRoster
from schemas.effects import Effect, EffectView

RED_ACCOUNT_WORKFLOW_TYPE = "RedAccountWorkflow"
HEALTH_SIGNAL = "health_signal"
CASE_SIGNAL = "case_signal"
CHURNED_CASE_SIGNAL_KIND = "churned"
"""``CaseSignal.kind`` when the customer churned: the case closes, reason "churned"."""
OWNERS_CHANGED_CASE_SIGNAL_KIND = "owners_changed"
"""``CaseSignal.kind`` when the account's AE or CE changed hands: the case follows them."""
RENEWAL_MOVED_CASE_SIGNAL_KIND = "renewal_moved"
"""``CaseSignal.kind`` when the account's renewal date moved: the case follows it."""


def red_account_workflow_id(account_id: str, number: int, scope: str = "") -> str:
    """``red-account-001ACME-2-3f9c2a7d10``: the account's second case, in the account run
    whose effect scope hashes to ``scope``. Without a scope (cases opened before it was
    added), ``red-account-001ACME-2``, which repeats when the account's workflow is started
    again; with it, an id (and every effect key derived from it) is never used twice."""
    base = f"red-account-{account_id}-{number}"
    return f"{base}-{scope}" if scope else base


class HealthInput(StrEnum):
    USAGE = "usage"
    ADOPTION = "adoption"
    SENTIMENT = "sentiment"


@dataclass(frozen=True)
class HealthConfig:
    """Weights of the inputs and the colour thresholds (score at least ``green_at`` is green,
    at least ``yellow_at`` yellow, else red)."""

    usage_weight: float = 0.4
    adoption_weight: float = 0.35
    sentiment_weight: float = 0.25
    green_at: float = 70.0
    yellow_at: float = 40.0
    red_accounts_channel: str = "#red-accounts"
    action_plan_sla_seconds: int = 3 * 86400
    """Past this, a case whose action plan is incomplete escalates to the CE leader."""
    reminder_interval_seconds: int = 86400
    """Reminders in the case's thread, until both owners have recorded the action plan."""


# --- Account workflow: signal and update -----------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A further reading carried by a ``HealthSignal``."""

    input: str
    value: float


@dataclass(frozen=True)
class HealthSignal:
    """A reading from a feed (product analytics, surveys): 0 to 100."""

    input: str
    """One of ``HealthInput``: usage, adoption, sentiment."""
    value: float
    source: str = ""
    observed_at: datetime | None = None
    more: list[Reading] = field(default_factory=list)
    """Readings of the other inputs taken with this one (the usage feed's day): applied with
    it, so one signal (one history event) carries them all and the colour is judged once, on
    all of them. A run from before ignores them (unknown fields are not decoded)."""


@dataclass(frozen=True)
class SetHealth:
    """The AE or CE sets the colour (a champion leaves, say); the reason is kept."""

    colour: str
    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass
class HealthChange:
    colour: CustomerHealth
    at: datetime
    by: str
    """``score`` or the person who set it."""
    reason: str
    score: float | None


@dataclass
class HealthState:
    """The account's health: carried with the account's state."""

    account_id: str = ""
    readings: dict[str, float] = field(default_factory=dict)
    reading_sources: dict[str, str] = field(default_factory=dict)
    score: float | None = None
    score_colour: CustomerHealth | None = None
    colour: CustomerHealth = CustomerHealth.GREEN
    history: list[HealthChange] = field(default_factory=list)
    synced_changes: int = 0
    """Colour changes written to Salesforce (counts every change since the account began)."""
    changes: int = 0
    cases_opened: int = 0
    open_case: str | None = None
    """The open ``RedAccountWorkflow`` id, if any."""
    case_started: bool = True
    """False between opening a case and its workflow having started."""
    case_reason: str = ""
    pending_case_signals: list[CaseSignal] = field(default_factory=list)
    case_scope: str = ""
    """Part of every case id, from the account's effect scope (``red_account_workflow_id``);
    empty in runs that began before it existed."""
    latest_case: str | None = None
    """The id of the last case opened (open or resolved); None if none, or opened before it
    was kept."""


@dataclass(frozen=True)
class HealthView:
    """What ``dealcycle health`` shows."""

    account_id: str
    account_name: str
    colour: str
    score: float | None
    readings: dict[str, float]
    reading_sources: dict[str, str]
    weights: dict[str, float]
    green_at: float
    yellow_at: float
    history: list[HealthChange]
    open_case: str | None
    cases_opened: int
    latest_case: str | None = None
    """The last case opened, for ``dealcycle red show ACCOUNT`` once none is open."""


# --- RedAccountWorkflow ----------------------------------------------------------------------


@dataclass(frozen=True)
class RedAccountCaseStart:
    case_id: str
    account_id: str
    account_name: str
    tier: int
    renewal_date: datetime | None
    ae_owner: str
    ce_owner: str
    reason: str
    opened_at: datetime
    config: HealthConfig
    roster: SecurityRoster
    account_workflow_url: str


@dataclass(frozen=True)
class CaseSignal:
    """From the account to its open case: still red (another reason), promoted, churned, or
    the account's owners or renewal date changed."""

    kind: str
    """``still_red``, ``resolved`` (promoted), ``churned`` (the customer left: the case
    closes without a word in its thread), ``owners_changed`` or ``renewal_moved``."""
    colour: CustomerHealth
    by: str
    reason: str
    at: datetime
    case_id: str = ""
    """The case it is for (the account may have opened another since)."""
    ae_owner: str = ""
    ce_owner: str = ""
    """``owners_changed``: the account's AE and CE from now on."""
    renewal_date: datetime | None = None
    """``renewal_moved``: the account's renewal date from now on."""


@dataclass(frozen=True)
class RecordActionPlan:
    actor: str
    role: Role
    current_status: str
    needs: str
    intended_actions: str
    via: str = ""


@dataclass(frozen=True)
class RecordAsk:
    """An ask of the business (an exec sponsor, a roadmap item), posted in the case's thread."""

    actor: str
    role: Role
    ask: str
    at: datetime | None = None
    """When it was asked (a thread reply's own time); ``None``: when it is recorded."""
    permalink: str = ""
    """The Slack message it was asked in: an ask from the case's thread is not posted there
    again. Empty for an ask recorded elsewhere (the CLI), which the thread is told of."""
    via: str = ""


@dataclass(frozen=True)
class CaseActionAccepted:
    message: str
    action_plan_complete: bool


@dataclass
class ActionPlanEntry:
    role: Role
    actor: str
    current_status: str
    needs: str
    intended_actions: str
    at: datetime
    posted: bool = False
    via: str = ""
    """Where it came from (``cli:<os user>``), beside ``actor``."""


@dataclass
class CaseAsk:
    number: int
    actor: str
    text: str
    at: datetime
    posted: bool = False
    permalink: str = ""
    """The thread reply it came from, when it came from the thread."""
    via: str = ""


@dataclass
class CaseNote:
    """A change of the account the case's thread is told of (new owners, a moved renewal)."""

    number: int
    text: str
    posted: bool = False


@dataclass
class RedAccountSnapshot:
    start: RedAccountCaseStart
    """How the case began; its AE, CE and renewal date follow the account's changes (and its
    roster the latest look-up)."""
    reasons: list[str] = field(default_factory=list)
    """Why it is red: the opening reason, then any added while open."""
    thread_ts: str | None = None
    tracker_opened: bool = False
    plans: list[ActionPlanEntry] = field(default_factory=list)
    asks: list[CaseAsk] = field(default_factory=list)
    reminders_sent: int = 0
    last_reminded_at: datetime | None = None
    escalated: bool = False
    escalation_posted: bool = False
    resolved_by: str | None = None
    resolved_colour: CustomerHealth | None = None
    resolution_reason: str = ""
    resolved_at: datetime | None = None
    resolution_posted: bool = False
    tracker_closed: bool = False
    effects: list[Effect] = field(default_factory=list)
    churned: bool = False
    """Resolved because the customer churned: nothing more is posted for the case."""
    notes: list[CaseNote] = field(default_factory=list)
    owner_changes: int = 0
    """Times the account's owners changed while the case was open (the tracker follows)."""
    tracker_slack_ts: str = ""
    """The thread the tracker row links to: "" until the case's post has landed (the row
    opens with the case)."""


@dataclass(frozen=True)
class RedAccountState:
    case_id: str
    account_id: str
    account_name: str
    reasons: list[str]
    opened_at: datetime
    thread_ts: str | None
    action_plan: list[ActionPlanEntry]
    action_plan_complete: bool
    missing_from: list[str]
    asks: list[CaseAsk]
    reminders_sent: int
    escalated: bool
    resolved_at: datetime | None
    resolved_colour: str | None
    effects: list[EffectView] = field(default_factory=list)
    """Failed, pending and recent effects (``dealcycle status`` lists them)."""
    ae_owner: str = ""
    ce_owner: str = ""
    """The account's AE and CE now: the people the case's open parts and reminders go to."""
    renewal_date: datetime | None = None
    churned: bool = False
    """Closed because the customer churned (its colour stays red), not resolved."""


@dataclass(frozen=True)
class RedAccountResult:
    case_id: str
    resolved_colour: str
    opened_at: datetime
    resolved_at: datetime


# --- Activities: the Account Tracker ---------------------------------------------------------


@dataclass(frozen=True)
class TrackerOpen:
    idempotency_key: str
    case_id: str
    account_id: str
    account_name: str
    tier: int
    ae_owner: str
    ce_owner: str
    reason: str
    opened_at: datetime
    slack_channel: str
    slack_ts: str
    workflow_url: str


@dataclass(frozen=True)
class TrackerUpdate:
    """Later facts of an open case: the action plan's state, the reasons, escalation."""

    idempotency_key: str
    case_id: str
    reasons: list[str]
    action_plan_complete: bool
    escalated: bool
    ae_owner: str = ""
    ce_owner: str = ""
    """The case's owners, when they changed while it was open; empty: as opened."""
    slack_ts: str = ""
    """The case's thread, when its post landed after the row opened; empty: as it is."""


@dataclass(frozen=True)
class TrackerClose:
    idempotency_key: str
    case_id: str
    resolved_at: datetime
    resolved_colour: str
    resolved_by: str
    resolution: str
