"""Contracts of the customer account's workflow (post-sales).

For now the account workflow only records hand-offs from closed deals; the full lifecycle
(kickoff, onboarding, planning, renewal) replaces it later under the same id and signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ACCOUNT_WORKFLOW_TYPE = "AccountWorkflow"
DEAL_CLOSED_SIGNAL = "deal_closed"


def account_workflow_id(account_id: str) -> str:
    return f"account-{account_id}"


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


@dataclass(frozen=True)
class AccountStart:
    account_id: str
    account_name: str
    hand_offs: list[AccountHandOff] = field(default_factory=list)
    """Carried across continue-as-new."""


@dataclass(frozen=True)
class AccountState:
    account_id: str
    account_name: str
    hand_offs: list[AccountHandOff]


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
    """True when the account's workflow had this deal already: nothing was sent."""
