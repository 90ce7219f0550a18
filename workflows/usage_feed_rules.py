"""Which readings the usage feed sends an account, and in what order: pure functions of the
account's newest readings and the feed's mark (what it last sent).

An account is sent readings only when they would change its colour, when it was never sent
any, or when it was last sent some ``staleness_days`` ago; then one signal carrying all its
latest readings. The colour is the health rules' own
(``score_of``, ``colour_of``); they use the latest reading of each input and no trend, so the
latest day is all an account needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from schemas.common import CustomerHealth
from schemas.health import HealthConfig, HealthSignal, Reading
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


def plan_account(
    usage: AccountUsage, config: HealthConfig, staleness_days: int
) -> tuple[UsageSend | None, FeedMark]:
    """What to send the account now (None: nothing), and its mark from now on."""
    mark = usage.mark or FeedMark(usage.account_id, usage.day)
    reason = reason_to_send(usage, config, staleness_days)
    latest = {**mark.readings, **usage.readings}
    if reason is None or not latest:
        return None, FeedMark(
            usage.account_id, usage.day, mark.readings, mark.signalled_day, mark.signals
        )
    observed = datetime.combine(date.fromisoformat(usage.day), datetime.min.time(), tzinfo=UTC)
    (first, value), *more = [(name, latest[name]) for name in READING_COLUMNS if name in latest]
    # One signal carrying all the latest readings: one history event whatever it carries, the
    # account judges its colour once, on the whole day (one at a time, usage up and sentiment
    # down could pass through a colour neither day had, and a passing red opens a case), and
    # an account whose workflow was started afresh gets them all back.
    signal = HealthSignal(
        first, value, USAGE_FEED_SOURCE, observed, [Reading(name, v) for name, v in more]
    )
    return UsageSend(usage.account_id, signal, reason), FeedMark(
        usage.account_id, usage.day, latest, usage.day, mark.signals + 1
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
        colour_changes=result.colour_changes + plan.colour_changes,
        stale_refreshes=result.stale_refreshes + plan.stale_refreshes,
        unknown_accounts=result.unknown_accounts + delivered.unknown_accounts,
    )
