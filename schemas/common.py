"""Vocabulary shared by every workflow and activity.

People are named by their Slack member id (``U0123ABC``): an internal handle, not personal
data, so it may appear in search attributes and histories, and reminders can reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TASK_QUEUE = "dealcycle"


class Role(StrEnum):
    CE = "CE"
    AE = "AE"


class StepStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    OVERDUE = "overdue"
    SKIPPED = "skipped"


class TechnicalWinStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    AT_RISK = "at_risk"
    WON = "won"
    LOST = "lost"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class CustomerHealth(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Region(StrEnum):
    """Sales regions; each has its own Security CE."""

    US_WEST_APAC = "US West / APAC"
    US_EAST_EMEA = "US East / EMEA"


class DeploymentType(StrEnum):
    SELF_HOSTED = "self-hosted"
    MANAGED = "managed"
    CLOUD = "cloud"


@dataclass(frozen=True)
class SecurityRoster:
    """Who reviews security questionnaires (configuration: the role rotates)."""

    us_west_apac: str
    us_east_emea: str
    security_pm: str
    ce_leader: str

    def security_ce_for(self, region: Region) -> str:
        return self.us_west_apac if region is Region.US_WEST_APAC else self.us_east_emea


@dataclass(frozen=True)
class Durations:
    """Every wait the workflows make, in seconds, so tests and demos can shorten them.

    ``day_seconds`` is how long a business "day" lasts: 86400 in production; a demo can make
    a 30-day trial last 30 minutes by setting it to 60.
    """

    trial_length_days: int = 30
    planning_item_due_seconds: int = 7 * 86400
    overdue_reminder_delay_seconds: int = 86400
    overdue_reminder_repeat_seconds: int = 2 * 86400
    check_in_due_seconds: int = 2 * 86400
    day_seconds: int = 86400
    security_review_due_seconds: int = 10 * 86400
    """A security questionnaire is answered this long after it arrives."""
    security_pm_extra_seconds: int = 5 * 86400
    """A Security PM escalation moves the due date by this much."""
    escalate_after_reminders: int = 2
    """Overdue work escalates (to the CE leader) after this many reminders."""
    contract_term_days: int = 365
    """A new customer's first renewal date is this long after the deal closed."""
    check_in_brief_lead_seconds: int = 86400
    """The CE's preparation brief arrives this long before each check-in."""
    value_exercise_lead_days: int = 90
    """Value Engineering's value-realization task is created this long before the renewal."""
    renewal_proposal_lead_days: int = 45
    """The AE's renewal proposal is due this long before the renewal."""
    renewal_assessment_due_days: int = 7
    """Each month's renewal health assessment is due this many days into the month."""
    internal_qbr_day_of_quarter: int = 21
    """The internal QBR falls on this day of each quarter; Tier 1 plans are due before it."""
    two_two_review_day_of_quarter: int = 14
    """The 2:2 review (CE and AE leadership) of Tier 1 plans falls on this day of the quarter."""
    tier_2_3_plan_due_day_of_quarter: int = 10
    """Tier 2 and 3 plans are due this day of the quarter (its beginning)."""
    qbr_due_day_of_quarter: int = 80
    """The customer QBR step is due this day of the quarter."""
    kickoff_plan_due_days: int = 14
    """The kickoff plan is due this long after the account has its owners: its workflow's start,
    or the moment its profile became complete when that is later."""
