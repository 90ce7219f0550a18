"""Contracts of the customer trial: its input, its updates, its state and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.common import Durations, Role, StepStatus, TechnicalWinStatus
from schemas.effects import Effect, EffectView
from schemas.steps import PostedPrompt

TRIAL_WORKFLOW_TYPE = "TrialWorkflow"


def trial_workflow_id(opportunity_id: str) -> str:
    return f"trial-{opportunity_id}"


@dataclass(frozen=True)
class PlanningItem:
    key: str
    title: str
    lead: Role


# The eight planning items of the "Trial and Deployment Planning Template", in handbook order.
TRIAL_PLANNING_ITEMS: tuple[PlanningItem, ...] = (
    PlanningItem("technical_landscape", "Document the technical landscape", Role.CE),
    PlanningItem(
        "use_cases_and_success_metrics", "Trial use cases and metrics for success", Role.CE
    ),
    PlanningItem("business_value_assessment", "Business value assessment planning", Role.AE),
    PlanningItem("user_survey", "User survey planning", Role.AE),
    PlanningItem("deployment_support", "Deployment support and checklist", Role.CE),
    PlanningItem("technical_configuration_review", "Technical configuration review", Role.CE),
    PlanningItem("trial_rollout_plan", "Trial rollout plan", Role.CE),
    PlanningItem("communication_and_support", "Communication and ongoing support", Role.CE),
)
MID_TRIAL_CHECK_IN = PlanningItem("mid_trial_check_in", "Mid-trial check-in", Role.CE)


class TrialPhase(StrEnum):
    PLANNING = "planning"
    RUNNING = "running"
    ENDED = "ended"

    @property
    def lifecycle_stage(self) -> str:
        """The ``LifecycleStage`` search attribute value."""
        return f"trial_{self.value}"


class TrialOutcome(StrEnum):
    TECHNICAL_WIN = "technical_win"
    TECHNICAL_LOSS = "technical_loss"
    NO_DECISION = "no_decision"


@dataclass(frozen=True)
class TrialStart:
    """Input of ``TrialWorkflow`` when a trial is first started."""

    opportunity_id: str
    account_id: str
    account_name: str
    ce_owner: str
    ae_owner: str
    seats: int = 25
    length_days: int | None = None
    """Trial length; ``None`` takes ``durations.trial_length_days``."""
    durations: Durations = field(default_factory=Durations)
    announce_channel: str = "#dealcycle-trials"
    history_event_limit: int = 8_000
    """Continue-as-new once the history has this many events (Temporal warns at 10,240)."""
    temporal_ui_url: str = "http://localhost:8233"
    """The Web UI a prompt's Open button links to."""


# --- Updates (CE and AE actions) -------------------------------------------------------------


@dataclass(frozen=True)
class CompleteStep:
    step: str
    actor: str
    role: Role
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class StartTrialOverride:
    """Start the trial although planning items are open; the reason is recorded."""

    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass(frozen=True)
class ExtendTrial:
    days: int
    reason: str
    actor: str
    role: Role
    via: str = ""


@dataclass(frozen=True)
class SetTechnicalWin:
    status: TechnicalWinStatus
    actor: str
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class ConcludeTrial:
    """End the trial before its end date (the customer decided early)."""

    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass(frozen=True)
class ActionAccepted:
    """What an accepted CE/AE action returns: a sentence for the person, and the new phase."""

    message: str
    phase: TrialPhase


# --- State ------------------------------------------------------------------------------------


@dataclass
class TrialStep:
    key: str
    title: str
    lead: Role
    owner: str
    due_at: datetime | None
    status: StepStatus = StepStatus.PENDING
    """``PENDING``, ``DONE`` or ``SKIPPED``; ``OVERDUE`` is worked out when state is read."""
    completed_by: str | None = None
    completed_at: datetime | None = None
    note: str = ""
    reminders_sent: int = 0
    completed_via: str = ""
    """Where the completion came from (``cli:<os user>``), beside ``completed_by``."""
    last_reminded_at: datetime | None = None
    prompts: list[PostedPrompt] = field(default_factory=list)
    """Its latest prompts in Slack, marked done in place once it is done."""
    snoozed_until: datetime | None = None
    """No reminder before this (``snooze_step``)."""


@dataclass
class TrialExtension:
    days: int
    reason: str
    actor: str
    at: datetime
    new_end: datetime


@dataclass
class TechnicalWinChange:
    status: TechnicalWinStatus
    actor: str
    at: datetime
    note: str = ""
    announced: bool = False


@dataclass
class PlanningOverride:
    actor: str
    role: Role
    reason: str
    at: datetime
    skipped_steps: list[str] = field(default_factory=list)


@dataclass
class LicenseGrant:
    """A trial license the workflow owes or has issued (the key stays in the database)."""

    reason: str
    expires_at: datetime
    key_id: str | None = None
    """None until issued; empty when a person skipped issuing it."""
    announced: bool = True
    """An extension's new key is announced; grants carried from before this field existed
    were announced when they were issued."""


@dataclass
class TrialSnapshot:
    """The whole state of a trial: carried across continue-as-new, and what ``state`` reads."""

    start: TrialStart
    effect_scope: str
    """Prefix of every idempotency key: the workflow id and its first run id."""
    phase: TrialPhase
    steps: list[TrialStep]
    technical_win: TechnicalWinStatus = TechnicalWinStatus.NOT_STARTED
    technical_win_changes: list[TechnicalWinChange] = field(default_factory=list)
    started_at: datetime | None = None
    ends_at: datetime | None = None
    midpoint_at: datetime | None = None
    check_in_prompted: bool = False
    start_announced: bool = False
    trial_dates_synced: int = 0
    """How many trial-date versions Salesforce has seen; compared with ``trial_dates_version``."""
    trial_dates_version: int = 0
    override: PlanningOverride | None = None
    extensions: list[TrialExtension] = field(default_factory=list)
    licenses: list[LicenseGrant] = field(default_factory=list)
    concluded_by: str | None = None
    conclusion_reason: str | None = None
    ended_at: datetime | None = None
    outcome: TrialOutcome | None = None
    outcome_recorded: bool = False
    continued_as_new: int = 0
    effects: list[Effect] = field(default_factory=list)
    opportunity_workflow_id: str | None = None
    """The opportunity that adopted this trial (one started on its own): it is told the phase
    and the technical win as a parent is."""
    ended_with_opportunity: bool = False
    """Concluded because its opportunity closed: the close announces it, the trial posts no
    more."""


@dataclass(frozen=True)
class TrialInput:
    """Input of ``TrialWorkflow``: a new trial, or the state carried by continue-as-new."""

    start: TrialStart | None = None
    carried: TrialSnapshot | None = None


@dataclass(frozen=True)
class StepView:
    key: str
    title: str
    lead: Role
    owner: str
    due_at: datetime | None
    status: StepStatus
    completed_by: str | None
    completed_at: datetime | None
    note: str
    completed_via: str = ""


@dataclass(frozen=True)
class TrialState:
    """What the ``state`` query returns."""

    workflow_id: str
    opportunity_id: str
    account_id: str
    account_name: str
    ce_owner: str
    ae_owner: str
    phase: TrialPhase
    technical_win: TechnicalWinStatus
    steps: list[StepView]
    started_at: datetime | None
    ends_at: datetime | None
    extensions: list[TrialExtension]
    license_key_ids: list[str]
    override_reason: str | None
    outcome: TrialOutcome | None
    ended_at: datetime | None
    as_of: datetime
    effects: list[EffectView] = field(default_factory=list)
    """Failed, pending and recent effects (``dealcycle status`` lists them)."""
    concluded_by: str | None = None
    conclusion_reason: str | None = None
    opportunity_workflow_id: str | None = None


@dataclass(frozen=True)
class TrialResult:
    opportunity_id: str
    outcome: TrialOutcome
    technical_win: TechnicalWinStatus
    started_at: datetime | None
    ended_at: datetime
    license_key_ids: list[str]
    conclusion_reason: str | None = None
