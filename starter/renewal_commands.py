"""The renewal commands of ``dealcycle account``: the month's assessment, the renewal call, the
renewal's outcome and a moved renewal date."""

from __future__ import annotations

from functools import partial
from typing import Any

from schemas.account import RenewalOutcome
from schemas.common import Role
from starter import accounts, cli_common
from starter.cli_common import account_action, parse_count, parse_date

OUTCOMES = [outcome.value for outcome in RenewalOutcome]


def add_renewal_commands(account: Any) -> None:
    """Register the renewal commands under ``account``, the ``account`` group's sub-commands."""
    action = partial(account_action, account)

    assessment = action(
        "assessment",
        lambda a: (
            lambda client: accounts.record_renewal_assessment(
                client,
                a.account_id,
                actor=a.actor,
                role=Role(a.role),
                risks=a.risks,
                turns_red=a.turns_red,
            )
        ),
        "record the month's renewal health assessment (no --risk: no risks)",
    )
    assessment.add_argument("--risk", dest="risks", action="append", default=[], metavar="TEXT")
    assessment.add_argument(
        "--turns-red",
        action="store_true",
        help="these risks make the account red (opens a red-account case)",
    )

    call = action(
        "renewal-call",
        lambda a: (
            lambda client: accounts.record_renewal_call(
                client, a.account_id, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "record the first renewal call",
    )
    call.add_argument("--note", default="")

    outcome = action(
        "renewal-outcome",
        lambda a: (
            lambda client: accounts.record_renewal_outcome(
                client,
                a.account_id,
                a.outcome,
                actor=a.actor,
                role=Role(a.role),
                next_renewal_date=a.next_renewal_date,
                seats=a.seats or 0,
                expansion_opportunity_id=a.opportunity,
                note=a.note,
                team_seats=a.team_seats or 0,
                # read through the module when it runs, so a test's stand-in reaches it
                settings=cli_common.read_settings(),
            )
        ),
        "record how the renewal ended",
    )
    outcome.add_argument("outcome", metavar="OUTCOME", choices=OUTCOMES, help=", ".join(OUTCOMES))
    outcome.add_argument("--next-renewal-date", type=parse_date, default=None, metavar="YYYY-MM-DD")
    outcome.add_argument("--seats", type=parse_count, default=None, help="for seat_expansion")
    outcome.add_argument("--opportunity", default="", help="for new_team: its Opportunity id")
    outcome.add_argument(
        "--team-seats", type=parse_count, default=None, help="for new_team: the new team's seats"
    )
    outcome.add_argument("--note", default="")

    renewal_date = action(
        "renewal-date",
        lambda a: (
            lambda client: accounts.move_renewal_date(
                client, a.account_id, a.date, actor=a.actor, role=Role(a.role), reason=a.reason
            )
        ),
        "move the renewal date (the renewal work re-plans to it)",
    )
    renewal_date.add_argument(
        "--date", type=parse_date, required=True, metavar="YYYY-MM-DD", help="the new contract end"
    )
    renewal_date.add_argument("--reason", required=True)
