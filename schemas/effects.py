"""Contracts of the activities that touch the outside world.

Every write carries an ``idempotency_key``: the activity records it in the database with the
first result, so a retried activity returns that result and never posts or writes twice.
Payloads hold ids and short texts, never documents or secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SlackPost:
    idempotency_key: str
    channel: str
    """A channel name (``#red-accounts``), a channel id, or a member id for a direct message."""
    text: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class SlackPostResult:
    channel: str
    ts: str


@dataclass(frozen=True)
class SalesforceFieldUpdate:
    idempotency_key: str
    sobject: str
    record_id: str
    fields: dict[str, str | int | float | bool | None]


@dataclass(frozen=True)
class SalesforceTaskRequest:
    """A Salesforce Task, upserted on the external id ``Dealcycle_Key__c`` = idempotency key."""

    idempotency_key: str
    what_id: str
    subject: str
    activity_date: str
    """Due date, ``YYYY-MM-DD``."""
    description: str = ""
    owner_hint: str = ""
    """The dealcycle owner (Slack member id) the task is for; kept in the description."""


@dataclass(frozen=True)
class SalesforceWriteResult:
    sobject: str
    record_id: str


@dataclass(frozen=True)
class LicenseRequest:
    idempotency_key: str
    account_id: str
    customer: str
    kind: str
    """``trial`` or ``full``."""
    seats: int
    expires_at: datetime


@dataclass(frozen=True)
class IssuedLicense:
    """What the workflow keeps of a license: the key itself stays in the database."""

    key_id: str
    kind: str
    expires_at: datetime


@dataclass(frozen=True)
class TrialOutcomeRecord:
    idempotency_key: str
    opportunity_id: str
    account_id: str
    outcome: str
    technical_win: str
    started_at: datetime | None
    ended_at: datetime
    ce_owner: str
    ae_owner: str
    override_reason: str | None = None
    license_key_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordResult:
    record_id: str


@dataclass(frozen=True)
class AccountPlanRecord:
    """One quarter's account plan, kept in ``account_plans`` (a resubmission replaces it)."""

    idempotency_key: str
    account_id: str
    quarter: str
    tier: int
    submitted_by: str
    submitted_at: datetime
    contacts: dict[str, str]
    """``champion``, ``economic_buyer``, ``advocate``, ``admin``."""
    use_cases: list[str]
    health: str
    expansion_opportunities: list[str]
    risks: list[str]
    product_feedback_themes: list[str]
    objectives: list[str]
    next_steps: str
    link: str


@dataclass(frozen=True)
class FeatureRequestRecord:
    """A feature request or piece of product feedback, kept in ``feature_requests``."""

    idempotency_key: str
    account_id: str
    account_name: str
    number: int
    """The account's own count: with ``account_id``, the row's natural key."""
    title: str
    detail: str
    requested_by: str
    role: str
    requested_at: datetime
