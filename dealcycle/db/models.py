"""Our own records. Schema changes go through Alembic (``dealcycle/db/migrations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schemas.limits import ACCOUNT_NAME_CHARS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ExternalEffect(Base):
    """One external write (Slack post, Salesforce write, license issue), by idempotency key.

    ``status`` is ``started`` while the write is under way and ``done`` with its result once it
    succeeded; a retry that finds ``done`` returns ``result`` instead of writing again.
    """

    __tablename__ = "external_effects"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LicenseKey(Base):
    __tablename__ = "license_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    customer: Mapped[str] = mapped_column(String(ACCOUNT_NAME_CHARS))
    kind: Mapped[str] = mapped_column(String(20))
    seats: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    license_key: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)


class TrialOutcome(Base):
    __tablename__ = "trial_outcomes"

    opportunity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(40))
    technical_win: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ce_owner: Mapped[str] = mapped_column(String(64))
    ae_owner: Mapped[str] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    license_key_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class IntakeWatermark(Base):
    """How far a Salesforce poll has read (``LastModifiedDate`` of the newest record seen).

    A Temporal Schedule starts every poll afresh, so the position lives here between runs.
    """

    __tablename__ = "intake_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Records read with ``LastModifiedDate`` in the watermark's second (SOQL compares whole
    seconds, so the next poll reads that second again and skips these)."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_id: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    """The Id of the last deal handed off at ``value`` (the intake pages by
    ``(LastModifiedDate, Id)``); NULL in rows saved before, which ``seen_ids`` describe."""


class AccountPlan(Base):
    """One quarter's account plan of a customer account; a resubmission replaces the row."""

    __tablename__ = "account_plans"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    quarter: Mapped[str] = mapped_column(String(7), primary_key=True)
    """``2027-Q2``."""
    tier: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    contacts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    use_cases: Mapped[list[str]] = mapped_column(JSON, default=list)
    health: Mapped[str] = mapped_column(String(20))
    expansion_opportunities: Mapped[list[str]] = mapped_column(JSON, default=list)
    risks: Mapped[list[str]] = mapped_column(JSON, default=list)
    product_feedback_themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_steps: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text)


class FeatureRequest(Base):
    """A feature request or piece of product feedback from a customer account."""

    __tablename__ = "feature_requests"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """The account's own count, from 1."""
    account_name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_CHARS))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RedAccountCase(Base):
    """One red-account case (the Red Accounts program's Account Tracker): opened when an
    account turns red, updated while it is open, closed when the account is promoted."""

    __tablename__ = "red_account_cases"

    case_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    """The ``RedAccountWorkflow`` id, ``red-account-<account id>-<number>``."""
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    account_name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_CHARS))
    tier: Mapped[int] = mapped_column(Integer)
    ae_owner: Mapped[str] = mapped_column(String(64))
    ce_owner: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Why it is red: the opening reason first, then any added while open."""
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10))
    """``open`` or ``closed``."""
    action_plan_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    slack_channel: Mapped[str] = mapped_column(String(100))
    slack_ts: Mapped[str] = mapped_column(String(40))
    """The case's thread in ``slack_channel``."""
    workflow_url: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_colour: Mapped[str | None] = mapped_column(String(20), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """``score`` or the person who set the colour."""
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    time_to_resolution_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RosterRotation(Base):
    """One rotation of the roster (``dealcycle roster set``): the whole roster after it, who
    rotated it and when. The row with the highest ``number`` is the roster today; none means
    the settings' roster (``DEALCYCLE_CE_LEADER`` and the rest)."""

    __tablename__ = "roster_rotations"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """From 1; a concurrent rotation that read the same roster loses on this key and retries."""
    ce_leader: Mapped[str] = mapped_column(String(64))
    security_pm: Mapped[str] = mapped_column(String(64))
    security_ce_us_west_apac: Mapped[str] = mapped_column(String(64))
    security_ce_us_east_emea: Mapped[str] = mapped_column(String(64))
    value_engineering: Mapped[str] = mapped_column(String(64))
    rotated_by: Mapped[str] = mapped_column(String(64))
    rotated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    """What changed, as people say it: ``CE leader U0CELEAD1 -> U0NEWLEAD1``."""


class ReminderPreference(Base):
    """How a person wants their reminders (``dealcycle digest prefer``): ``immediate`` (one DM
    per reminder, as a person without a row gets them) or ``digest`` (held, and listed in one
    DM a day by ``DailyDigestWorkflow``)."""

    __tablename__ = "reminder_preferences"

    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_via: Mapped[str] = mapped_column(String(100), default="")
    """Where the change came from (``cli:<os user>``)."""
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsageFeedMark(Base):
    """What the usage feed last did for an account: the latest day it read (rows up to it are
    never considered again) and the readings it last sent (``activities.usage_feed``)."""

    __tablename__ = "usage_feed_marks"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_day: Mapped[str] = mapped_column(String(10))
    """ISO date: text, so the warehouse's and our database's dates never need converting."""
    readings: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    signalled_day: Mapped[str] = mapped_column(String(10), default="")
    signals: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
