"""Contracts of the opportunity (pre-sales) workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.common import (
    DeploymentType,
    Durations,
    Region,
    Role,
    SecurityRoster,
    StepStatus,
    TechnicalWinStatus,
)
from schemas.effects import Effect, EffectView

OPPORTUNITY_WORKFLOW_TYPE = "OpportunityWorkflow"


def opportunity_workflow_id(opportunity_id: str) -> str:
    return f"opportunity-{opportunity_id}"


TRIAL_CHILD = "trial"
SECURITY_REVIEW_CHILD = "security-review"


def child_effect_name(child: str) -> str:
    """The name of the owed effect that runs the opportunity's ``child`` (``TRIAL_CHILD``,
    ``SECURITY_REVIEW_CHILD``), as ``dealcycle effects`` and the status show it."""
    return f"child/{child}"


class OpportunityKind(StrEnum):
    NEW = "new"
    EXPANSION = "expansion"
    RENEWAL = "renewal"


class Stage(StrEnum):
    """Salesforce ``StageName`` values, in order."""

    DISCOVERY = "Stage 1 - Discovery"
    QUALIFICATION = "Stage 2 - Qualification"
    SOLUTION = "Stage 3 - Solution"
    VALIDATION = "Stage 4 - Technical and Business Validation"
    NEGOTIATION = "Stage 5 - Negotiation"
    CLOSED_WON = "Closed Won"
    CLOSED_LOST = "Closed Lost"

    @property
    def rank(self) -> int:
        return list(Stage).index(self)

    @property
    def closed(self) -> bool:
        return self in (Stage.CLOSED_WON, Stage.CLOSED_LOST)


class OpportunityStatus(StrEnum):
    OPEN = "open"
    ABANDONED = "abandoned"
    WON = "won"
    LOST = "lost"


class TddPart(StrEnum):
    TRIAL_DESIGN = "trial_design"
    PRODUCTION_DESIGN = "production_design"


@dataclass(frozen=True)
class DiscoveryStep:
    key: str
    title: str
    lead: Role


DISCOVERY_STEPS: tuple[DiscoveryStep, ...] = (
    DiscoveryStep("discovery_call", "Discovery: needs and motivations uncovered", Role.CE),
    DiscoveryStep("tailored_demo", "Demo tailored to the needs found", Role.CE),
)


@dataclass(frozen=True)
class OpportunityStart:
    opportunity_id: str
    account_id: str
    account_name: str
    ae_owner: str
    ce_owner: str
    region: Region
    deployment_type: DeploymentType
    tier: int
    kind: OpportunityKind
    complex_engagement: bool
    roster: SecurityRoster
    seats: int = 25
    stage: Stage = Stage.DISCOVERY
    durations: Durations = field(default_factory=Durations)
    announce_channel: str = "#dealcycle-trials"
    history_event_limit: int = 8_000


# --- Updates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvanceStage:
    stage: Stage
    actor: str
    role: Role
    via: str = ""


@dataclass(frozen=True)
class LinkTdd:
    url: str
    actor: str
    role: Role
    via: str = ""


@dataclass(frozen=True)
class CompleteTddPart:
    part: TddPart
    actor: str
    role: Role
    via: str = ""


@dataclass(frozen=True)
class RecordDealReview:
    actor: str
    role: Role
    summary: str
    via: str = ""


@dataclass(frozen=True)
class StartOpportunityTrial:
    actor: str
    role: Role
    length_days: int | None = None
    via: str = ""


@dataclass(frozen=True)
class ReceiveQuestionnaire:
    actor: str
    role: Role
    note: str = ""
    via: str = ""


@dataclass(frozen=True)
class CloseOpportunity:
    won: bool
    actor: str
    role: Role
    reason: str = ""
    via: str = ""


@dataclass(frozen=True)
class AbandonOpportunity:
    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass(frozen=True)
class ReopenOpportunity:
    actor: str
    role: Role
    reason: str
    stage: Stage | None = None
    """The stage to reopen at; ``None`` keeps the last open stage."""
    via: str = ""


@dataclass(frozen=True)
class OpportunityAccepted:
    message: str
    stage: Stage
    status: OpportunityStatus


@dataclass(frozen=True)
class TechnicalWinChanged:
    """Signal from the child trial: its technical win is the opportunity's."""

    status: TechnicalWinStatus
    actor: str
    at: datetime


@dataclass(frozen=True)
class TrialPhaseChanged:
    """Signal from the child trial when its phase changes."""

    phase: str


@dataclass(frozen=True)
class AdoptedByOpportunity:
    """Signal to a trial that runs without a parent: the opportunity of its deal adopts it, and
    from now on the trial reports to it (phase, technical win) as to a parent."""

    opportunity_workflow_id: str


@dataclass(frozen=True)
class SecurityReviewEnded:
    """Signal from an adopted security review (not a child: its result reaches nobody)."""

    answered: bool


class OpportunityEnd(StrEnum):
    WON = "won"
    LOST = "lost"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class ConcludedByOpportunity:
    """Signal to the opportunity's trial or security review: the deal closed or was abandoned,
    so the child ends now, with this reason (a second one changes nothing)."""

    opportunity_workflow_id: str
    outcome: OpportunityEnd
    reason: str = ""

    def describe(self) -> str:
        said = f": {self.reason}" if self.reason else ""
        verb = "abandoned" if self.outcome is OpportunityEnd.ABANDONED else f"closed {self.outcome}"
        return f"the opportunity was {verb}{said}"


class ChildLinkKind(StrEnum):
    """How an opportunity came by its trial or security review."""

    STARTED = "started"
    """Started by the opportunity, as its child: awaited, its result is the opportunity's."""
    ADOPTED = "adopted"
    """Already running for the deal (say ``dealcycle trial start``): the opportunity adopted it;
    it reports by signal."""
    REFUSED = "refused"
    """One with the same id had already ended: nothing was started."""


@dataclass
class ChildLink:
    """The opportunity's record of one child (trial or security review)."""

    workflow_id: str
    how: ChildLinkKind
    why: str = ""
    """Why it was refused."""
    concluded: str = ""
    """What the opportunity told it when it closed (empty until then): told once."""
    failed: str = ""
    """Why the child failed (terminated, timed out), while that is the case."""
    ended: bool = False
    """The child ended (its result came back, or it said so by signal)."""


# --- State -----------------------------------------------------------------------------------


@dataclass
class OpportunityStep:
    key: str
    title: str
    lead: Role
    owner: str
    status: StepStatus = StepStatus.PENDING
    completed_by: str | None = None
    completed_at: datetime | None = None
    note: str = ""


@dataclass
class AuditEntry:
    """Who did what, in order: the opportunity's own record of its actions."""

    at: datetime
    actor: str
    action: str
    via: str = ""
    """Where the action came from (``cli:<os user>``), beside who it says did it."""


@dataclass
class OpportunitySnapshot:
    start: OpportunityStart
    effect_scope: str
    stage: Stage
    status: OpportunityStatus = OpportunityStatus.OPEN
    steps: list[OpportunityStep] = field(default_factory=list)
    tdd_url: str | None = None
    tdd_parts_done: list[TddPart] = field(default_factory=list)
    deal_review: str | None = None
    trial_requested: bool = False
    trial_length_days: int | None = None
    trial_workflow_id: str | None = None
    trial_phase: str | None = None
    technical_win: TechnicalWinStatus = TechnicalWinStatus.NOT_STARTED
    security_review_requested: bool = False
    security_review_workflow_id: str | None = None
    security_review_answered: bool = False
    closed_reason: str | None = None
    closed_at: datetime | None = None
    last_open_stage: Stage | None = None
    stage_synced: int = 0
    stage_version: int = 1
    handed_off: bool = False
    close_announced: bool = False
    audit: list[AuditEntry] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    trial_link: ChildLink | None = None
    security_review_link: ChildLink | None = None


@dataclass(frozen=True)
class OpportunityInput:
    start: OpportunityStart | None = None
    carried: OpportunitySnapshot | None = None


@dataclass(frozen=True)
class OpportunityState:
    workflow_id: str
    opportunity_id: str
    account_id: str
    account_name: str
    ae_owner: str
    ce_owner: str
    region: Region
    kind: OpportunityKind
    complex_engagement: bool
    stage: Stage
    status: OpportunityStatus
    steps: list[OpportunityStep]
    tdd_url: str | None
    tdd_parts_done: list[TddPart]
    deal_review: str | None
    trial_workflow_id: str | None
    trial_phase: str | None
    technical_win: TechnicalWinStatus
    security_review_workflow_id: str | None
    security_review_answered: bool
    closed_reason: str | None
    audit: list[AuditEntry]
    effects: list[EffectView] = field(default_factory=list)
    """Failed, pending and recent effects (``dealcycle status`` lists them)."""
    trial_link: ChildLink | None = None
    security_review_link: ChildLink | None = None


@dataclass(frozen=True)
class OpportunityResult:
    opportunity_id: str
    status: OpportunityStatus
    stage: Stage
    technical_win: TechnicalWinStatus
    closed_at: datetime | None
