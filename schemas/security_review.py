"""Contracts of a security review: its input, its updates, its state and its result.

A customer sends a security questionnaire; the review runs as a child of the opportunity:
the AE grants access, the CE notes the deployment type and (if comfortable) takes a first
pass, the region's Security CE reviews, optionally the Security PM reviews (which moves the
due date), and the AE returns the answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from schemas.common import DeploymentType, Durations, Region, SecurityRoster, StepStatus
from schemas.effects import Effect, EffectView
from schemas.steps import PostedPrompt

SECURITY_REVIEW_WORKFLOW_TYPE = "SecurityReviewWorkflow"


def security_review_workflow_id(opportunity_id: str) -> str:
    return f"security-review-{opportunity_id}"


class SecurityRole(StrEnum):
    """Who owns a step of a security review."""

    AE = "AE"
    CE = "CE"
    SECURITY_CE = "Security CE"
    SECURITY_PM = "Security PM"


@dataclass(frozen=True)
class SecurityStepDefinition:
    key: str
    title: str
    role: SecurityRole
    depends_on: tuple[str, ...]
    """Steps that must be done (or skipped) first; the ones absent from a review are ignored."""
    due_tenths: int | None
    """Due this many tenths of the review window after the questionnaire arrives.

    With the default 10-day window: access 1 day, deployment type 2 days, first pass 4 days,
    Security CE review 8 days, answers 10 days. The Security PM step has none: it is due
    ``security_pm_extra_seconds`` after the Security CE review, and the answers move with it.
    """


GRANT_ACCESS = SecurityStepDefinition(
    "grant_access", "Grant access to the questionnaire", SecurityRole.AE, (), 1
)
NOTE_DEPLOYMENT_TYPE = SecurityStepDefinition(
    "note_deployment_type",
    "Note the preferred deployment type",
    SecurityRole.CE,
    ("grant_access",),
    2,
)
CE_FIRST_PASS = SecurityStepDefinition(
    "ce_first_pass",
    "CE first pass (optional)",
    SecurityRole.CE,
    ("note_deployment_type",),
    4,
)
SECURITY_CE_REVIEW = SecurityStepDefinition(
    "security_ce_review",
    "Security CE review",
    SecurityRole.SECURITY_CE,
    ("ce_first_pass",),
    8,
)
SECURITY_PM_REVIEW = SecurityStepDefinition(
    "security_pm_review",
    "Security PM review",
    SecurityRole.SECURITY_PM,
    ("security_ce_review",),
    None,
)
ANSWERS_RETURNED = SecurityStepDefinition(
    "answers_returned",
    "Answers returned to the customer",
    SecurityRole.AE,
    ("security_ce_review", "security_pm_review"),
    10,
)
SECURITY_REVIEW_STEPS: tuple[SecurityStepDefinition, ...] = (
    GRANT_ACCESS,
    NOTE_DEPLOYMENT_TYPE,
    CE_FIRST_PASS,
    SECURITY_CE_REVIEW,
    SECURITY_PM_REVIEW,
    ANSWERS_RETURNED,
)
"""Every step in order; ``security_pm_review`` exists only after an escalation."""


class SecurityReviewPhase(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CONCLUDED = "concluded"
    """Ended unanswered because the opportunity closed or was abandoned."""

    @property
    def lifecycle_stage(self) -> str:
        """The ``LifecycleStage`` search attribute value."""
        return "security_review" if self is SecurityReviewPhase.OPEN else f"security_review_{self}"


@dataclass(frozen=True)
class SecurityReviewStart:
    """Input of ``SecurityReviewWorkflow`` when the customer's questionnaire arrives."""

    opportunity_id: str
    account_id: str
    account_name: str
    ae_owner: str
    ce_owner: str
    region: Region
    deployment_type: DeploymentType | None
    """Known from the opportunity: the deployment-type step is then done from the start."""
    roster: SecurityRoster
    durations: Durations = field(default_factory=Durations)
    announce_channel: str = "#dealcycle-trials"
    history_event_limit: int = 8_000
    """Continue-as-new once the history has this many events (Temporal warns at 10,240)."""
    temporal_ui_url: str = "http://localhost:8233"
    """The Web UI a reminder's Open button links to."""


# --- Updates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompleteSecurityStep:
    """Complete a step (update ``complete_step``); only the step's owner may.

    ``deployment_type`` is required for ``note_deployment_type`` and refused for other steps.
    """

    step: str
    actor: str
    note: str = ""
    deployment_type: DeploymentType | None = None
    via: str = ""


@dataclass(frozen=True)
class DeclineFirstPass:
    """The CE does not take the optional first pass (update ``decline_first_pass``)."""

    actor: str
    reason: str
    via: str = ""


@dataclass(frozen=True)
class EscalateToSecurityPM:
    """Involve the Security PM (update ``escalate_to_security_pm``): more time, once."""

    actor: str
    reason: str
    via: str = ""


@dataclass(frozen=True)
class SecurityReviewAccepted:
    """What an accepted action returns: a sentence for the person, the phase and the due date."""

    message: str
    phase: SecurityReviewPhase
    due_at: datetime


# --- State ------------------------------------------------------------------------------------


@dataclass
class SecurityStep:
    key: str
    title: str
    role: SecurityRole
    owner: str
    due_at: datetime
    status: StepStatus = StepStatus.PENDING
    """``PENDING``, ``DONE`` or ``SKIPPED``; ``OVERDUE`` is worked out when state is read."""
    completed_by: str | None = None
    """Who completed or declined it; ``None`` when it was done from the start input."""
    completed_at: datetime | None = None
    note: str = ""
    reminders_sent: int = 0
    last_reminded_at: datetime | None = None
    escalated_to_leader: bool = False
    prompts: list[PostedPrompt] = field(default_factory=list)
    """Its latest reminders in Slack, marked done in place once it is done."""
    snoozed_until: datetime | None = None
    """No reminder before this (``snooze_step``)."""
    completed_via: str = ""
    """Where the completion came from (``cli:<os user>``), beside ``completed_by``."""


@dataclass
class SecurityPMEscalation:
    actor: str
    reason: str
    at: datetime
    previous_due_at: datetime
    new_due_at: datetime
    announced: bool = False


@dataclass
class SecurityReviewSnapshot:
    """The whole state of a review: carried across continue-as-new, and what ``state`` reads."""

    start: SecurityReviewStart
    effect_scope: str
    """Prefix of every idempotency key: the workflow id and its first run id."""
    phase: SecurityReviewPhase
    steps: list[SecurityStep]
    security_ce: str
    received_at: datetime
    due_at: datetime
    original_due_at: datetime
    deployment_type: DeploymentType | None = None
    escalation: SecurityPMEscalation | None = None
    start_announced: bool = False
    answered_at: datetime | None = None
    answers_announced: bool = False
    continued_as_new: int = 0
    effects: list[Effect] = field(default_factory=list)
    concluded_at: datetime | None = None
    conclusion_reason: str | None = None
    opportunity_workflow_id: str | None = None
    """The opportunity that adopted this review (not its parent): told when it ends."""
    adopter_told: bool = False


@dataclass(frozen=True)
class SecurityReviewInput:
    """Input of ``SecurityReviewWorkflow``: a new review, or the state continue-as-new carries."""

    start: SecurityReviewStart | None = None
    carried: SecurityReviewSnapshot | None = None


@dataclass(frozen=True)
class SecurityStepView:
    key: str
    title: str
    role: SecurityRole
    owner: str
    due_at: datetime
    status: StepStatus
    completed_by: str | None
    completed_at: datetime | None
    note: str
    reminders_sent: int
    escalated_to_leader: bool
    completed_via: str = ""


@dataclass(frozen=True)
class SecurityReviewState:
    """What the ``state`` query returns."""

    workflow_id: str
    opportunity_id: str
    account_id: str
    account_name: str
    ae_owner: str
    ce_owner: str
    region: Region
    security_ce: str
    security_pm: str
    deployment_type: DeploymentType | None
    phase: SecurityReviewPhase
    received_at: datetime
    due_at: datetime
    original_due_at: datetime
    escalated_to_pm: bool
    escalation_reason: str | None
    escalated_by: str | None
    steps: list[SecurityStepView]
    waiting_on: list[str]
    """Keys of the steps that can be completed now."""
    answered_at: datetime | None
    as_of: datetime
    effects: list[EffectView] = field(default_factory=list)
    """Failed, pending and recent effects (``dealcycle status`` lists them)."""
    concluded_at: datetime | None = None
    conclusion_reason: str | None = None


@dataclass(frozen=True)
class SecurityReviewResult:
    opportunity_id: str
    security_ce: str
    due_at: datetime
    escalated_to_pm: bool
    answered_at: datetime | None
    """None when the review was concluded unanswered (``conclusion_reason`` says why)."""
    deployment_type: DeploymentType | None = None
    escalation_reason: str | None = None
    conclusion_reason: str | None = None
