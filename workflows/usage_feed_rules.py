"""Which readings the usage feed sends an account, and in what order: pure functions of the
account's newest readings and the feed's mark (what it last sent).

An account is sent readings only when they would change its colour, when it was never sent
any, or when it was last sent some ``staleness_days`` ago; then only the inputs whose value
moved (the account keeps the others). The colour is the health rules' own (``score_of``,
``colour_of``); they use the latest reading of each input and no trend, so the latest day is
all an account needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import permutations

from schemas.common import CustomerHealth
from schemas.health import HealthConfig, HealthSignal
from schemas.usage_feed import (
    READING_COLUMNS,
    USAGE_FEED_SOURCE,
    AccountUsage,
    FeedMark,
    UsageDelivered,
    UsageFeedResult,
    UsagePage,
    UsageSend,
)
from workflows.health_rules import colour_of, score_of

FIRST = "first"
COLOUR = "colour"
STALE = "stale"


def colour_with(readings: dict[str, float], config: HealthConfig) -> CustomerHealth | None:
    score = score_of(readings, config)
    return None if score is None else colour_of(score, config)


def days_between(earlier: str, later: str) -> int:
    return (date.fromisoformat(later) - date.fromisoformat(earlier)).days


def reason_to_send(usage: AccountUsage, config: HealthConfig, staleness_days: int) -> str | None:
    """``first``, ``colour``, ``stale``, or None: the account needs nothing."""
    mark = usage.mark
    if mark is None or not mark.signalled_day:
        return FIRST
    latest = {**mark.readings, **usage.readings}
    if colour_with(latest, config) is not colour_with(mark.readings, config):
        return COLOUR
    if days_between(mark.signalled_day, usage.day) >= staleness_days:
        return STALE
    return None


def signal_order(
    sent: dict[str, float], changed: dict[str, float], config: HealthConfig
) -> list[str]:
    """The inputs of ``changed`` in the order that moves the account's colour the fewest times.

    The account applies one reading at a time: sent as it comes, usage up and sentiment down
    could pass through a colour neither day had (and a passing red opens a case). Of the at
    most six orders, the first with the fewest colour changes on the way wins."""

    def changes(order: Iterable[str]) -> int:
        readings = dict(sent)
        colour = colour_with(readings, config)
        count = 0
        for name in order:
            readings[name] = changed[name]
            step = colour_with(readings, config)
            count += step is not colour
            colour = step
        return count

    names = tuple(name for name in READING_COLUMNS if name in changed)
    return list(min(permutations(names), key=changes))


def plan_account(
    usage: AccountUsage, config: HealthConfig, staleness_days: int
) -> tuple[UsageSend | None, FeedMark]:
    """What to send the account now (None: nothing), and its mark from now on."""
    mark = usage.mark or FeedMark(usage.account_id, usage.day)
    reason = reason_to_send(usage, config, staleness_days)
    changed = {
        name: value for name, value in usage.readings.items() if mark.readings.get(name) != value
    }
    if reason is None:
        return None, FeedMark(
            usage.account_id, usage.day, mark.readings, mark.signalled_day, mark.signals
        )
    if not changed:
        # What the account has is still the latest: as good as sent today.
        return None, FeedMark(usage.account_id, usage.day, mark.readings, usage.day, mark.signals)
    observed = datetime.combine(date.fromisoformat(usage.day), datetime.min.time(), tzinfo=UTC)
    signals = [
        HealthSignal(name, changed[name], USAGE_FEED_SOURCE, observed)
        for name in signal_order(mark.readings, changed, config)
    ]
    return UsageSend(usage.account_id, signals, reason), FeedMark(
        usage.account_id,
        usage.day,
        {**mark.readings, **changed},
        usage.day,
        mark.signals + len(signals),
    )


@dataclass(frozen=True)
class PagePlan:
    sends: list[UsageSend]
    marks: list[FeedMark]

    @property
    def colour_changes(self) -> int:
        return sum(send.reason == COLOUR for send in self.sends)

    @property
    def stale_refreshes(self) -> int:
        return sum(send.reason == STALE for send in self.sends)


def plan_page(accounts: list[AccountUsage], config: HealthConfig, staleness_days: int) -> PagePlan:
    sends: list[UsageSend] = []
    marks: list[FeedMark] = []
    for usage in accounts:
        send, mark = plan_account(usage, config, staleness_days)
        marks.append(mark)
        if send is not None:
            sends.append(send)
    return PagePlan(sends, marks)


def totals_after(
    result: UsageFeedResult, page: UsagePage, plan: PagePlan, delivered: UsageDelivered
) -> UsageFeedResult:
    return UsageFeedResult(
        until=result.until,
        pages=result.pages + 1,
        accounts_read=result.accounts_read + page.accounts_read,
        accounts_with_new_rows=result.accounts_with_new_rows + len(page.accounts),
        rows_read=result.rows_read + page.rows_read,
        rows_out_of_bounds=result.rows_out_of_bounds + page.rows_out_of_bounds,
        accounts_signalled=result.accounts_signalled + delivered.accounts_signalled,
        signals_sent=result.signals_sent + delivered.signals_sent,
        colour_changes=result.colour_changes + plan.colour_changes,
        stale_refreshes=result.stale_refreshes + plan.stale_refreshes,
        unknown_accounts=result.unknown_accounts + delivered.unknown_accounts,
    )
