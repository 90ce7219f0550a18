"""Contracts of the changes a running account lives through: its renewal date moves (a
co-terming, a late signature, a multi-year deal) and its AE or CE changes hands (people leave,
territories are re-cut). A new team's seats ride on ``RecordRenewalOutcome``.

Each accepted change leaves an ``AccountChange`` in the account's state: the notices and the
Salesforce Task revisions it owes, until the main loop has written them. Imports nothing of
ours but ``schemas.common``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.common import Role


@dataclass(frozen=True)
class MoveRenewalDate:
    """The contract's end moves: the renewal work re-plans to the new date."""

    renewal_date: datetime
    """The new contract end (taken as midnight UTC of its day)."""
    actor: str
    role: Role
    reason: str
    via: str = ""


@dataclass(frozen=True)
class ReassignOwner:
    """The account's AE or CE changes hands: open work and future reminders follow."""

    role: Role
    """The role that changes hands (not the actor's: the actor may be the CE leader)."""
    new_owner: str
    actor: str
    """The outgoing owner of the role, or the CE leader."""
    reason: str = ""
    via: str = ""


@dataclass
class OwedNotice:
    recipient: str
    """A Slack channel, or a member id for a direct message."""
    text: str


@dataclass
class TaskRevision:
    """A step's Salesforce Task written again (same Task): its due date, subject or owner moved."""

    step_key: str
    opened_as: str
    """The step key the Task was created under: its ``Dealcycle_Key__c`` derives from it."""
    title: str
    due_at: datetime
    owner: str


@dataclass
class AccountChange:
    """An accepted change whose notices and Task revisions are owed until written."""

    number: int
    """Counts the account's changes across runs: part of every idempotency key it owes."""
    notices: list[OwedNotice] = field(default_factory=list)
    tasks: list[TaskRevision] = field(default_factory=list)
