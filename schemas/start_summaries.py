"""What the Temporal Web UI shows for a workflow before anyone opens it: the static summary
(one line, in the workflow list and at the top of its page) and the static details (a few
markdown lines under it), built from the workflow's start input.

One place for every start (the CLI, the hand-off activity, the schedules, the child workflows
a workflow starts), so the same workflow reads the same however it was started. Ids, names,
owners' Slack ids and dates only: no notes, reasons or plans (with the codec off they are
stored in plain text, and they are the customer's words).

Temporal drops both on continue-as-new (checked on the dev server and the test server, SDK
1.35, which has no way to pass them on): a workflow's current details (``workflows.summaries``)
repeat the headline on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.account import AccountHandOff, AccountStart
from schemas.health import RedAccountCaseStart
from schemas.opportunity import OpportunityStart
from schemas.security_review import SecurityReviewStart
from schemas.trial import TrialStart

SEPARATOR = " · "
SUMMARY_LIMIT = 200
"""The Web UI shows one line; Temporal takes more, but nobody reads past it."""


@dataclass(frozen=True)
class StartSummary:
    """``static_summary`` and ``static_details`` of one workflow start."""

    summary: str
    details: str


def clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """One line of at most ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment is not None else ""


def line(*parts: str) -> str:
    """The parts that are known, as one line: "Acme Corp · Tier 1 · renews 2027-03-01"."""
    return clip(SEPARATOR.join(part for part in parts if part))


def _details(*rows: tuple[str, str]) -> str:
    """One markdown paragraph: the Web UI shows the details in a box a few lines high."""
    return SEPARATOR.join(f"**{label}**: {value}" for label, value in rows if value)


def tier(number: int) -> str:
    return f"Tier {number}" if number else ""


def _owners(ae: str, ce: str) -> str:
    return " / ".join(f"{role} {who}" for role, who in (("AE", ae), ("CE", ce)) if who)


def account(start: AccountStart) -> StartSummary:
    """A customer brought in (``dealcycle account start``): "Acme Corp · Tier 1 · renews
    2027-03-01"."""
    p = start.profile
    if p is None and start.hand_offs:
        return hand_off(start.hand_offs[0], term_days=start.configured.durations.contract_term_days)
    renews = f"renews {_day(p.renewal_date)}" if p is not None and p.renewal_date else ""
    return StartSummary(
        line(start.account_name, tier(p.tier if p else 0), renews),
        _details(
            ("Account", f"{start.account_name} ({start.account_id})"),
            ("Owners", _owners(p.ae_owner, p.ce_owner) if p else ""),
            ("Seats", str(p.seats) if p and p.seats else ""),
            ("Region", p.region if p else ""),
            ("Deployment", p.deployment_type if p else ""),
            ("Stage", start.stage.value),
        ),
    )


def hand_off(deal: AccountHandOff, *, term_days: int) -> StartSummary:
    """An account started by its first won deal: "Acme Corp · Tier 1 · renews 2027-03-01"
    (one contract term after the close, as the account reckons it)."""
    renews = deal.closed_at + timedelta(days=term_days)
    return StartSummary(
        line(deal.account_name, tier(deal.tier), f"renews {_day(renews)}"),
        _details(
            ("Account", f"{deal.account_name} ({deal.account_id})"),
            (
                "Handed off by",
                f"{deal.opportunity_id} ({deal.kind}), closed {_day(deal.closed_at)}",
            ),
            ("Owners", _owners(deal.ae_owner, deal.ce_owner)),
            ("Seats", str(deal.seats) if deal.seats else ""),
            ("Region", deal.region),
            ("Deployment", deal.deployment_type),
        ),
    )


def trial(start: TrialStart) -> StartSummary:
    """ "Trial · Acme Corp · OPP-1 · 30 days" (it ends 30 days after planning is done; its
    current details say the date once it runs)."""
    length_days = start.length_days or start.durations.trial_length_days
    return StartSummary(
        line("Trial", start.account_name, start.opportunity_id, f"{length_days} days"),
        _details(
            ("Account", f"{start.account_name} ({start.account_id})"),
            ("Opportunity", start.opportunity_id),
            ("Owners", _owners(start.ae_owner, start.ce_owner)),
            ("Seats", str(start.seats)),
        ),
    )


def opportunity(start: OpportunityStart) -> StartSummary:
    """ "Opportunity · Acme Corp · OPP-1 · new · Tier 1"."""
    return StartSummary(
        line(
            "Opportunity",
            start.account_name,
            start.opportunity_id,
            start.kind.value,
            tier(start.tier),
        ),
        _details(
            ("Account", f"{start.account_name} ({start.account_id})"),
            ("Owners", _owners(start.ae_owner, start.ce_owner)),
            ("Region", start.region.value),
            ("Deployment", start.deployment_type.value),
            ("Seats", str(start.seats)),
            ("Complex engagement", "yes" if start.complex_engagement else ""),
        ),
    )


def security_review(start: SecurityReviewStart) -> StartSummary:
    """ "Security review · Acme Corp · OPP-1"."""
    return StartSummary(
        line("Security review", start.account_name, start.opportunity_id),
        _details(
            ("Account", f"{start.account_name} ({start.account_id})"),
            ("Owners", _owners(start.ae_owner, start.ce_owner)),
            ("Region", start.region.value),
            ("Deployment", start.deployment_type.value if start.deployment_type else ""),
        ),
    )


def red_account_case(start: RedAccountCaseStart) -> StartSummary:
    """ "Red account case · Acme Corp · Tier 1 · renews 2027-03-01" (the reason stays out: it
    is a person's words)."""
    renews = f"renews {_day(start.renewal_date)}" if start.renewal_date else ""
    return StartSummary(
        line("Red account case", start.account_name, tier(start.tier), renews),
        _details(
            ("Account", f"{start.account_name} ({start.account_id})"),
            ("Case", start.case_id),
            ("Owners", _owners(start.ae_owner, start.ce_owner)),
            ("Opened", _day(start.opened_at)),
        ),
    )


def closed_won_intake(every: str) -> StartSummary:
    return StartSummary(
        "Closed Won intake: poll Salesforce and hand won deals off",
        _details(("Runs", every)),
    )


def deal_closed(opportunity_id: str) -> StartSummary:
    """``dealcycle deal-closed``: one deal read and handed off."""
    return StartSummary(f"Deal closed: hand {opportunity_id} off", "")


def opportunity_lookup(opportunity_id: str) -> StartSummary:
    """``renewal-outcome … new_team``: the new team's Opportunity looked up in Salesforce."""
    return StartSummary(f"Salesforce lookup: is there an Opportunity {opportunity_id}?", "")


def usage_feed(every: str) -> StartSummary:
    return StartSummary(
        "Usage feed: analytics readings to each account's health",
        _details(("Runs", every)),
    )


def daily_digest(hour: int) -> StartSummary:
    return StartSummary(
        "Daily digest: each person's open steps, in Slack",
        _details(("Runs", f"daily at {hour:02d}:00 UTC")),
    )
