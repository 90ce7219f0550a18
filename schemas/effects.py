"""Contracts of the activities that touch the outside world.

Every write carries an ``idempotency_key``: the activity records it in the database with the
first result, so a retried activity returns that result and never posts or writes twice.
Payloads hold ids and short texts, never documents or secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class SlackPost:
    idempotency_key: str
    channel: str
    """A channel name (``#red-accounts``), a channel id, or a member id for a direct message."""
    text: str
    """With ``blocks``, the notification's fallback (and what a client without Block Kit
    shows)."""
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] | None = None
    """Block Kit layout (a prompt's Done, Snooze and Open buttons); None: plain ``text``."""


@dataclass(frozen=True)
class SlackPostResult:
    channel: str
    ts: str
    held_for_digest: bool = False
    """A reminder DM not sent: its person takes reminders in the daily digest (``ts`` empty)."""
    posted_before: bool = False
    """Nothing posted now: another activity had already made this post (its key was done when
    the first attempt came), e.g. a digest sent earlier the same day."""


@dataclass(frozen=True)
class SlackMessageUpdate:
    """Replace a posted message's text and blocks (``chat.update``): the same request
    twice leaves the same message, so the key only names the effect."""

    idempotency_key: str
    channel: str
    """The conversation id the post answered with (``C…``/``D…``): chat.update takes no name."""
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class SalesforceFieldUpdate:
    idempotency_key: str
    sobject: str
    record_id: str
    fields: dict[str, str | int | float | bool | None]


@dataclass(frozen=True)
class SalesforceTaskRequest:
    """A Salesforce Task, upserted on the external id ``Dealcycle_Key__c`` = idempotency key
    (or ``task_key``, for a revision)."""

    idempotency_key: str
    what_id: str
    subject: str
    activity_date: str
    """Due date, ``YYYY-MM-DD``."""
    description: str = ""
    owner_hint: str = ""
    """The dealcycle owner (Slack member id) the task is for; kept in the description."""
    task_key: str = ""
    """The ``Dealcycle_Key__c`` of a Task written earlier under another idempotency key, to
    revise it in place (a moved due date, a new owner). Empty: the idempotency key."""


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


# --- Owed work: every external write a workflow makes is an effect with a state -------------


class EffectState(StrEnum):
    PENDING = "pending"
    """Owed and being attempted (or queued behind an earlier effect on the same target)."""
    DONE = "done"
    FAILED = "failed"
    """Failed for good, or its time budget ran out: surfaced, and retryable by a person."""
    EXPIRED = "expired"
    """Not done within its window and no longer worth doing (a reminder): the next carries on."""
    SKIPPED = "skipped"
    """A person decided it is not to be done."""


class EffectKind(StrEnum):
    """What an effect means, which decides its retry policy and time budget."""

    REMINDER = "reminder"
    """A nudge to a person (reminders, prompts, briefs): useless once its window has passed."""
    ANNOUNCEMENT = "announcement"
    """A post others rely on (a channel announcement, a thread reply)."""
    SALESFORCE_SYNC = "salesforce_sync"
    """A field or Task in Salesforce: the system of record, kept trying for days."""
    LICENSE = "license"
    RECORD = "record"
    """A row in our own database."""
    NOTICE = "notice"
    """The operations channel told of a failed effect: optional, a failure is only logged."""
    MESSAGE_UPDATE = "message_update"
    """An earlier post edited in place (a prompt marked done): optional, a message deleted
    or a channel archived since only leaves the old message."""
    CHILD_WORKFLOW = "child_workflow"
    """A child workflow started and awaited (``activity`` names its type): one that fails, is
    terminated or times out is a failed effect, and a retry starts it again under its id."""


@dataclass
class Effect:
    """One piece of owed work, kept in the workflow's state (and carried across
    continue-as-new while it is not done)."""

    key: str
    """The idempotency key: unique for ever, the same on every attempt and every retry."""
    name: str
    """The key without the workflow's scope: what a person types to retry or skip it."""
    kind: EffectKind
    activity: str
    lane: str
    """Effects on one lane (one channel, one Salesforce record) run in order; lanes do not wait
    for each other, so a stuck Salesforce sync holds back no Slack reminder."""
    summary: str = ""
    optional: bool = False
    state: EffectState = EffectState.PENDING
    request: str = ""
    """The activity's argument as JSON while the effect is not done, so a retry (even after
    continue-as-new) runs exactly the same request under the same key."""
    cause: str = ""
    runs: int = 1
    """1, plus one for each retry a person asked for."""
    changed_at: datetime | None = None
    changed_by: str = ""
    reason: str = ""
    overwritten: str = ""
    """A failed Salesforce write's fields that a later write set since, with that write's name
    (``StageName of Opportunity 006X was written since by stage/3``), noted when the run
    continues as new: the next run no longer knows what landed, and a retry must not put the
    older value back."""


@dataclass(frozen=True)
class EffectView:
    name: str
    key: str
    kind: str
    state: str
    cause: str
    optional: bool
    attempts: int
    summary: str = ""
    changed_at: datetime | None = None
    changed_by: str = ""
    reason: str = ""
    retry_refused: str = ""
    """Why a retry of this failed (or expired) effect would be refused, in its validator's
    words (a newer write since, or its workflow wants it no more): skip it instead. Empty: a
    retry is welcome (or the worker predates this field)."""


@dataclass(frozen=True)
class EffectsView:
    """Answer of every workflow's ``effects`` query: its failed, pending and recent effects."""

    workflow_id: str
    effects: list[EffectView]
    needs_attention: bool


@dataclass(frozen=True)
class RetryEffect:
    """Run a failed (or expired) effect again under its original idempotency key."""

    effect: str
    """The effect's name (as ``dealcycle status`` shows it) or its full key."""
    actor: str
    via: str = ""


@dataclass(frozen=True)
class SkipEffect:
    """Give up a failed or pending effect on purpose; the workflow carries on without it."""

    effect: str
    reason: str
    actor: str
    via: str = ""


@dataclass(frozen=True)
class EffectActionAccepted:
    message: str
    state: str


@dataclass(frozen=True)
class FailedEffectNotice:
    """What the operations channel is told when an effect fails."""

    idempotency_key: str
    workflow_id: str
    workflow_type: str
    effect: str
    summary: str
    cause: str
    state: str
    fix: str
    """The commands that fix it: retry after repairing the cause, or skip."""
