"""A repeated hand-off of a known deal fills in what the account still does not know.

The account keeps one hand-off per deal (``account_profile_rules.apply_hand_off``), and a deal comes
more than once: the Closed Won intake reads it from Salesforce, the opportunity's workflow
hands it off when it closes won, the CLI's ``deal-closed`` may send it again. They do not know
the same things: Salesforce has no Slack members, so the intake's hand-off has no AE or CE,
while the opportunity's has them. Whichever comes first, the account ends up knowing what
either said, as if one hand-off had carried it all.

A repeat only fills gaps: a field the account knows is never overwritten (``dealcycle account
tier``, ``reassign`` and the others change those), no seats are added and no license granted
(the first hand-off of the deal did that, once), and a repeat that brings nothing new changes
nothing. What it fills is audited once, by the repeat that filled it.

Pure functions over ``AccountSnapshot``, as the ``account_*_rules`` modules.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from schemas.account import AccountHandOff, AccountProfile, AccountSnapshot, LifecycleStage
from workflows.account_steps import audit, missing_profile, profile_changed


def known_deal(s: AccountSnapshot, opportunity_id: str) -> AccountHandOff | None:
    """The hand-off the account keeps for this deal, if the deal was handed off before."""
    return next((kept for kept in s.hand_offs if kept.opportunity_id == opportunity_id), None)


def fills_gaps(s: AccountSnapshot, repeat: AccountHandOff) -> bool:
    """Whether a repeat of a known deal tells the account anything it does not know yet."""
    if known_deal(s, repeat.opportunity_id) is None or s.stage is LifecycleStage.CHURNED:
        return False
    return bool(_filled_profile(s, repeat)[1])


def apply_repeat(s: AccountSnapshot, repeat: AccountHandOff, now: datetime) -> bool:
    """Fill in what ``repeat`` knows and the account does not; whether anything changed.

    The deal's record takes what the repeat said where it said nothing (the amount only the
    intake reads, say), the owners as the profile took them."""
    kept = known_deal(s, repeat.opportunity_id)
    if kept is None or not fills_gaps(s, repeat):
        return False
    profile, filled = _filled_profile(s, repeat)
    merged = replace(
        kept,
        seats=kept.seats or repeat.seats,
        ae_owner=kept.ae_owner or ("" if "AE" not in filled else profile.ae_owner),
        ce_owner=kept.ce_owner or ("" if "CE" not in filled else profile.ce_owner),
        tier=kept.tier or repeat.tier,
        region=kept.region or repeat.region,
        deployment_type=kept.deployment_type or repeat.deployment_type,
        amount=kept.amount or repeat.amount,
    )
    s.hand_offs = [merged if known is kept else known for known in s.hand_offs]
    s.profile = profile
    profile_changed(s)
    audit(
        s,
        now,
        "hand-off",
        f"deal {repeat.opportunity_id} handed off again: filled in {', '.join(filled)}",
    )
    return True


def _filled_profile(s: AccountSnapshot, repeat: AccountHandOff) -> tuple[AccountProfile, list[str]]:
    """The profile with the repeat's answers where it had none, and the names of those."""
    p = s.profile
    ae = p.ae_owner or (repeat.ae_owner if repeat.ae_owner != p.ce_owner else "")
    # The AE and the CE are different people (``check_complete_profile``).
    ce = p.ce_owner or (repeat.ce_owner if repeat.ce_owner != ae else "")
    filled = replace(
        p,
        tier=p.tier if p.tier in (1, 2, 3) or repeat.tier not in (1, 2, 3) else repeat.tier,
        seats=p.seats if p.seats >= 1 else max(repeat.seats, p.seats),
        region=p.region or repeat.region,
        ae_owner=ae,
        ce_owner=ce,
        deployment_type=(
            repeat.deployment_type
            if repeat.deployment_type and _deployment_unknown(s)
            else p.deployment_type
        ),
    )
    names = [name for name, field in _FIELDS if getattr(filled, field) != getattr(p, field)]
    return filled, names


_FIELDS = (
    ("tier", "tier"),
    ("seats", "seats"),
    ("region", "region"),
    ("AE", "ae_owner"),
    ("CE", "ce_owner"),
    ("deployment", "deployment_type"),
)


def _deployment_unknown(s: AccountSnapshot) -> bool:
    """The profile reads self-hosted until told otherwise, so "unknown" is: no deal said it,
    and the profile is still incomplete. A complete profile was brought in with its deployment
    (``dealcycle account start``) or has been read as it is since; a repeat does not change it."""
    return not any(kept.deployment_type for kept in s.hand_offs) and bool(missing_profile(s))
