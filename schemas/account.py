"""Contracts of the customer account's workflow (post-sales): one workflow per account, for years.

Kickoff, onboarding, check-ins, quarterly account planning, QBRs, the renewal cycle and product
feedback. The state (``AccountSnapshot``) is carried across continue-as-new, so it holds open
work and short summaries only; plans and feature requests live in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.account_changes import AccountChange
from schemas.common import CustomerHealth, Durations, Role, SecurityRoster, StepStatus
from schemas.effects import Effect, EffectView
from schemas.health import HealthConfig, HealthState
from schemas.steps import PostedPrompt

ACCOUNT_WORKFLOW_TYPE = "AccountWorkflow"
DEAL_CLOSED_SIGNAL = "deal_closed"
USAGE_REPORTED_SIGNAL = "usage_reported"
CORE_TRAININGS: tuple[str, ...] = ("101", "102", "admin")


def account_workflow_id(account_id: str) -> str:
    return f"account-{account_id}"


class LifecycleStage(StrEnum):
    KICKOFF = "kickoff"
    ONBOARDING = "onboarding"
    ADOPTION = "adoption"
    RENEWAL = "renewal"
    CHURNED = "churned"


class CheckInCadence(StrEnum):
    WEEKLY = "weekly"
    BI_WEEKLY = "bi-weekly"
    MONTHLY = "monthly"
    AS_NEEDED = "as-needed"

    @property
    def interval_days(self) -> int | None:
        return {"weekly": 7, "bi-weekly": 14, "monthly": 28, "as-needed": None}[self.value]


class StepKind(StrEnum):
    KICKOFF_PLAN = "kickoff_plan"
    TRAINING = "training"
    ACCOUNT_PLAN = "account_plan"
    QBR = "qbr"
    RENEWAL_ASSESSMENT = "renewal_assessment"
    VALUE_REALIZATION = "value_realization"
    RENEWAL_PROPOSAL = "renewal_proposal"
    RENEWAL_OUTCOME = "renewal_outcome"


class RenewalOutcome(StrEnum):
    RENEWED = "renewed"
    SEAT_EXPANSION = "seat_expansion"
    """Renewed with more seats: a new key for the new count."""
    NEW_TEAM = "new_team"
    """Renewed, and a new team starts its own expansion opportunity (discovery, trial)."""
    CHURNED = "churned"


@dataclass(frozen=True)
class AccountHandOff:
    """A Closed Won deal handed to the account's post-sales workflow."""

    opportunity_id: str
    account_id: str
    account_name: str
    kind: str
    seats: int
    ae_owner: str
    ce_owner: str
    tier: int
    region: str
    closed_at: datetime
    """When the deal closed: Salesforce's ``CloseDate`` (midnight UTC) or the moment the
    opportunity's workflow closed it. The first renewal is one contract term after it."""
    deployment_type: str = ""
    """self-hosted, managed or cloud; empty when the deal did not say."""
    amount: float = 0.0
    """The deal's amount (Salesforce ``Amount``); 0 when not known."""


@dataclass(frozen=True)
class AccountProfile:
    """Who and what the account is. Empty strings and zeros mean "not known yet"."""

    account_id: str
    account_name: str
    tier: int = 0
    region: str = ""
    ae_owner: str = ""
    ce_owner: str = ""
    seats: int = 0
    renewal_date: datetime | None = None
    """Contract end (midnight UTC); the license keys expire then."""
    deployment_type: str = "self-hosted"


@dataclass(frozen=True)
class AccountConfig:
    """What the worker's settings say about accounts: durations, people and channels."""

    durations: Durations = field(default_factory=Durations)
    roster: SecurityRoster = field(
        default_factory=lambda: SecurityRoster("U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1")
    )
    value_engineering: str = "U0VALUEENG1"
    announce_channel: str = "#customer-accounts"
    product_feedback_channel: str = "#product-feedback"
    account_review_channel: str = "#account-reviews"
    """Where Tier 1 plans are shared for the 2:2 review and the internal QBR."""
    history_event_limit: int = 8_000
    temporal_ui_url: str = "http://localhost:8233"
    namespace: str = "default"
    health: HealthConfig = field(default_factory=HealthConfig)


@dataclass(frozen=True)
class AccountStart:
    account_id: str
    account_name: str
    hand_offs: list[AccountHandOff] = field(default_factory=list)
    profile: AccountProfile | None = None
    """Set by ``dealcycle account start`` (an existing customer brought in); a hand-off sets
    it from the first deal instead."""
    stage: LifecycleStage = LifecycleStage.KICKOFF
    """Where a customer brought in stands today."""
    cadence: str = ""
    """The check-in cadence of a customer brought in past kickoff (default monthly)."""
    config: AccountConfig | None = None
    """None: the defaults. A continued run leaves it out: its ``carried`` state has the
    config, and the input of a continue-as-new is kept twice in history (the old run's last
    event, the new run's first)."""
    carried: AccountSnapshot | None = None
    """The state, carried across continue-as-new."""

    @property
    def configured(self) -> AccountConfig:
        """The config this start gives a new account."""
        return self.config if self.config is not None else AccountConfig()


# --- Updates (CE and AE actions) ------------------------------------------------------------


@dataclass(frozen=True)
class RecordKickoffPlan:
    actor: str
    role: Role
    cadence: str
    """One of ``CheckInCadence``: weekly, bi-weekly, monthly, as-needed."""
    optional_trainings: list[str] = field(default_factory=list)
    """Wanted beyond 101, 102 and Admin (a security use case, say)."""
    onboarding_integration_help: bool = False
    upcoming_initiatives: list[str] = field(default_factory=list)
    via: str = ""


@dataclass(frozen=True)
class ReportProductionReady:
    actor: str
    role: Role
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class CompleteAccountStep:
    step: str
    actor: str
    role: Role
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class CompleteOnboarding:
    actor: str
    role: Role
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class ChangeCadence:
    cadence: str
    actor: str
    role: Role
    via: str = ""


@dataclass(frozen=True)
class ChangeTier:
    tier: int
    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass(frozen=True)
class CompleteProfile:
    """Fills in what a hand-off from Salesforce alone did not know."""

    actor: str
    role: Role
    tier: int = 0
    seats: int = 0
    ae_owner: str = ""
    ce_owner: str = ""
    renewal_date: datetime | None = None
    via: str = ""


@dataclass(frozen=True)
class PlanContacts:
    champion: str
    economic_buyer: str
    advocate: str
    admin: str


@dataclass(frozen=True)
class SubmitAccountPlan:
    quarter: str
    """``2027-Q2``: the quarter whose plan this is."""
    actor: str
    role: Role
    contacts: PlanContacts
    use_cases: list[str]
    health: str
    expansion_opportunities: list[str]
    risks: list[str]
    product_feedback_themes: list[str]
    objectives: list[str]
    next_steps: str
    link: str
    via: str = ""


@dataclass(frozen=True)
class RecordRenewalAssessment:
    """The month's renewal health assessment: the AE's relationship and business risks, or the
    CE's technical risks. An empty list says "no risks this month"."""

    actor: str
    role: Role
    risks: list[str] = field(default_factory=list)
    turns_red: bool = False
    """These risks make the account red (a red-account case opens)."""
    via: str = ""


@dataclass(frozen=True)
class RecordRenewalCall:
    actor: str
    role: Role
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class RecordRenewalOutcome:
    outcome: str
    """One of ``RenewalOutcome``."""
    actor: str
    role: Role
    next_renewal_date: datetime | None = None
    """Defaults to one contract term after the current renewal date."""
    seats: int = 0
    """The new seat count, for a seat expansion."""
    expansion_opportunity_id: str = ""
    """The Salesforce Opportunity the AE opened for a new team."""
    note: str = ""
    new_team_seats: int = 0
    """The new team's seats, for a new-team expansion (required then): its opportunity starts
    with them, and winning it adds them to the account's."""
    via: str = ""


@dataclass(frozen=True)
class ExpandSeats:
    """A seat expansion within the contract term: a new key, same end date."""

    seats: int
    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass(frozen=True)
class RecordFeatureRequest:
    title: str
    actor: str
    role: Role
    detail: str = ""
    via: str = ""


@dataclass(frozen=True)
class AccountActionAccepted:
    message: str
    stage: LifecycleStage


# --- Signals (feeds) -------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageReport:
    """Product telemetry, for check-in briefs: what the customer runs and how much."""

    active_users: int
    version: str
    open_support_items: list[str] = field(default_factory=list)
    reported_at: datetime | None = None


# --- State -----------------------------------------------------------------------------------


@dataclass
class AccountStep:
    key: str
    kind: StepKind
    title: str
    owner: str
    role: str
    """``CE``, ``AE`` or ``VE`` (Value Engineering)."""
    due_at: datetime | None
    created_at: datetime
    salesforce_task: bool = False
    status: StepStatus = StepStatus.PENDING
    completed_by: str | None = None
    completed_at: datetime | None = None
    note: str = ""
    announced: bool = False
    reminders_sent: int = 0
    last_reminded_at: datetime | None = None
    escalated: bool = False
    opened_as: str = ""
    """The key the step was announced under, when a renewal-date move re-keyed it since: its
    Salesforce Task is keyed by it. Empty: ``key``."""
    replanned: int = 0
    """The account change that last moved its due date (0: never); its reminders since are
    keyed by it, so none repeats an earlier one's key."""
    prompts: list[PostedPrompt] = field(default_factory=list)
    """Its latest prompts in Slack (announcement, reminders), marked done in place once it
    is done."""
    snoozed_until: datetime | None = None
    """No reminder (nor escalation) before this (``snooze_step``)."""


@dataclass
class KickoffPlan:
    cadence: CheckInCadence
    optional_trainings: list[str]
    onboarding_integration_help: bool
    upcoming_initiatives: list[str]
    recorded_by: str
    recorded_at: datetime


@dataclass
class LicenseGrant:
    """A key the account is owed; ``key_id`` is set once issued."""

    number: int
    """Counts the account's keys across runs: part of the idempotency key."""
    reason: str
    seats: int
    expires_at: datetime
    key_id: str | None = None
    announced: bool = False


@dataclass
class PlanSubmission:
    """A submitted account plan, until its records and shares are written."""

    plan: SubmitAccountPlan
    tier: int
    submitted_at: datetime
    version: int
    recorded: bool = False


@dataclass
class FeatureRequestEntry:
    number: int
    title: str
    detail: str
    actor: str
    role: Role
    at: datetime
    recorded: bool = False


@dataclass
class RenewalCycle:
    """The renewal under way: the one ending at ``renewal_date``."""

    renewal_date: datetime
    value_exercise_done: bool = False
    first_call_at: datetime | None = None
    assessment_risks: list[str] = field(default_factory=list)
    """This cycle's risks from monthly assessments, newest last (``AE: ...``, ``CE: ...``)."""
    outcome: RenewalOutcome | None = None
    outcome_by: str | None = None
    outcome_at: datetime | None = None
    outcome_note: str = ""
    next_renewal_date: datetime | None = None
    expansion_opportunity_id: str = ""
    new_team_seats: int = 0
    """A new-team expansion's seats (0: not given, as before they were asked for)."""
    carried_work: bool = False
    """Its window's work was opened for an earlier date and carried when the date moved."""
    outcome_done: bool = False
    """Outcome effects (key, Salesforce, Slack, expansion opportunity) written."""


@dataclass
class AuditEntry:
    at: datetime
    actor: str
    action: str
    via: str = ""
    """Where the action came from (``cli:<os user>``), beside who it says did it."""


@dataclass
class AccountSnapshot:
    """The whole state of an account: carried across continue-as-new, read by ``state``."""

    profile: AccountProfile
    config: AccountConfig
    effect_scope: str
    """Prefix of every idempotency key: the workflow id, its first run id and the cycle."""
    stage: LifecycleStage
    started_at: datetime
    hand_offs: list[AccountHandOff] = field(default_factory=list)
    steps: list[AccountStep] = field(default_factory=list)
    kickoff: KickoffPlan | None = None
    production_ready_at: datetime | None = None
    onboarding_completed_at: datetime | None = None
    cadence: CheckInCadence | None = None
    next_check_in_at: datetime | None = None
    """The next check-in to brief the CE for (the one after, once its brief is sent)."""
    briefed_check_in_at: datetime | None = None
    """The check-in the CE was last briefed for: the next one until it has passed."""
    check_ins_briefed: int = 0
    next_tier: int | None = None
    next_tier_from: str | None = None
    """The quarter (``2027-Q3``) from which ``next_tier`` applies."""
    planned_quarters: list[str] = field(default_factory=list)
    """Quarters whose plan and QBR steps exist, newest last (kept short)."""
    assessed_months: list[str] = field(default_factory=list)
    first_planning_quarter: str | None = None
    licenses: list[LicenseGrant] = field(default_factory=list)
    licenses_granted: int = 0
    plans: list[PlanSubmission] = field(default_factory=list)
    plans_submitted: int = 0
    feature_requests: list[FeatureRequestEntry] = field(default_factory=list)
    feature_requests_recorded: int = 0
    usage: UsageReport | None = None
    vitals: HealthState = field(default_factory=HealthState)
    renewal: RenewalCycle | None = None
    renewals_completed: int = 0
    cycle: int = 0
    """Renewal cycles completed: part of every idempotency key."""
    profile_synced: int = 0
    profile_version: int = 1
    kickoff_announced: bool = False
    audit: list[AuditEntry] = field(default_factory=list)
    continued_as_new: int = 0
    effects: list[Effect] = field(default_factory=list)
    changes: list[AccountChange] = field(default_factory=list)
    """Renewal-date moves and reassignments whose notices are still owed."""
    changes_made: int = 0


@dataclass(frozen=True)
class StepView:
    key: str
    kind: str
    title: str
    owner: str
    role: str
    due_at: datetime | None
    status: str
    overdue: bool
    completed_by: str | None
    reminders_sent: int
    escalated: bool


@dataclass(frozen=True)
class AccountState:
    """What ``dealcycle status`` shows of an account."""

    account_id: str
    account_name: str
    hand_offs: list[AccountHandOff]
    stage: LifecycleStage = LifecycleStage.KICKOFF
    profile: AccountProfile | None = None
    missing_profile: list[str] = field(default_factory=list)
    roadmap: list[StepView] = field(default_factory=list)
    """The onboarding plan while onboarding; the open steps afterwards."""
    open_steps: list[StepView] = field(default_factory=list)
    cadence: str | None = None
    next_check_in_at: datetime | None = None
    briefed_check_in_at: datetime | None = None
    """The check-in the CE was last briefed for (``next_check_in_at`` is the one after)."""
    next_tier: int | None = None
    next_tier_from: str | None = None
    renewal_date: datetime | None = None
    value_exercise_done: bool = False
    renewal_call_recorded: bool = False
    renewal_risks: list[str] = field(default_factory=list)
    """The risks this renewal's monthly assessments raised ("AE: …", "CE: …"), oldest first."""
    license_key_ids: list[str] = field(default_factory=list)
    health: str = CustomerHealth.GREEN.value
    renewals_completed: int = 0
    feature_requests: int = 0
    plans_submitted: int = 0
    recent_activity: list[AuditEntry] = field(default_factory=list)
    effects: list[EffectView] = field(default_factory=list)
    """Failed, pending and recent effects (``dealcycle status`` lists them)."""


@dataclass(frozen=True)
class HandOffRequest:
    """Input of the ``hand_off_closed_deal`` activity."""

    hand_off: AccountHandOff


@dataclass(frozen=True)
class HandOffResult:
    workflow_id: str
    started: bool
    """True when this hand-off started the account's workflow; False when it was running."""
    already_handed_off: bool = False
    """Kept for results recorded by older code, which read the account's state before
    handing off (today's hand-off does not read: the account keeps one hand-off per deal)."""
    skipped: str = ""
    """Why nothing was sent (the account's workflow has closed, and the deal closed before
    it ended); empty when the deal was handed off."""
    run_id: str = ""
    """The account run that got the deal."""

    @property
    def decision(self) -> str:
        """``skipped``, ``started`` or ``already running``: what the hand-off did."""
        if self.skipped:
            return "skipped"
        return "started" if self.started else "already running"

    def describe(self, opportunity_id: str) -> str:
        """One line for the CLI and the log: what happened to the deal, and why."""
        if self.skipped:
            return f"skipped {opportunity_id}: {self.skipped}"
        if self.started:
            return f"started {self.workflow_id} for {opportunity_id}"
        return (
            f"handed {opportunity_id} to {self.workflow_id}, already running (it keeps one"
            " hand-off per deal: a repeat changes nothing)"
        )
