"""Contracts of the usage feed: a Temporal Schedule that reads each account's daily product
usage, adoption and sentiment from an analytics database and sends the account its readings
as the ``health_signal``.

Readings are coalesced: an account is sent its latest readings only when they would change its
colour, or when it has not been sent any for ``staleness_days``. What the feed last sent each
account (its mark) lives in our database, so a run repeated the same day sends nothing again.
Days are ISO dates (``2027-03-01``): the warehouse's rows are daily.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.health import HealthConfig, HealthSignal

USAGE_FEED_WORKFLOW_TYPE = "UsageFeedWorkflow"
USAGE_FEED_SCHEDULE_ID = "usage-feed"
USAGE_FEED_SOURCE = "usage feed"
"""``HealthSignal.source`` of the feed's readings (``dealcycle health`` shows it)."""
READING_COLUMNS = ("usage", "adoption", "sentiment")
"""The query's reading columns, each 0 to 100 or NULL (no reading that day); they are the
health inputs of the same names."""


@dataclass(frozen=True)
class UsageFeedRun:
    """Input of ``UsageFeedWorkflow`` (the schedule's action), from the worker's settings when
    the schedule was made."""

    staleness_days: int = 7
    """An account not sent readings for this long is sent its latest, colour change or not."""
    lookback_days: int = 7
    """How far back a run reads (the query's ``:since``): only each account's latest day is
    sent, so a run after a week's outage still finds every account's readings."""
    page_size: int = 500
    """Accounts read (and signalled) per activity: a large warehouse never loads at once."""
    attempt_timeout_seconds: int = 300
    """Each attempt of a page's read or delivery ends within this."""
    health: HealthConfig = field(default_factory=HealthConfig)
    """The accounts' weights and thresholds, to tell which readings change a colour."""
    resume: UsageFeedProgress | None = None
    """Set only by the run itself when it continues as new part-way through the accounts."""


@dataclass(frozen=True)
class UsageFeedProgress:
    """Where a run that continued as new carries on, and what it did so far."""

    until: str
    after_account: str
    result: UsageFeedResult


@dataclass(frozen=True)
class FeedMark:
    """What the feed last did for one account (our database's ``usage_feed_marks``)."""

    account_id: str
    last_day: str
    """The latest day read for the account: rows up to it are never considered again."""
    readings: dict[str, float] = field(default_factory=dict)
    """The readings the account was last sent by the feed, by input."""
    signalled_day: str = ""
    """The day of the readings last sent; empty before the first."""
    signals: int = 0
    """Health signals the feed has sent the account, ever."""


@dataclass(frozen=True)
class AccountUsage:
    """An account's newest readings, from the rows after its mark."""

    account_id: str
    day: str
    """The latest day among the new rows."""
    readings: dict[str, float]
    """Each input's latest value among the new rows (an input with none is left out)."""
    mark: FeedMark | None
    """What the feed last did for the account; None if never."""


@dataclass(frozen=True)
class UsagePageRequest:
    since: str
    until: str
    """Rows of days from ``since`` to before ``until`` (complete days only)."""
    after_account: str
    """Accounts whose id sorts after this ("" for the first page)."""
    page_size: int


@dataclass(frozen=True)
class UsagePage:
    accounts: list[AccountUsage]
    """Accounts with rows newer than their mark."""
    next_after: str
    """The last account id of the page, or "" when the query has no more accounts."""
    accounts_read: int = 0
    rows_read: int = 0
    rows_out_of_bounds: int = 0
    """Rows dropped: no account id or day, a malformed id, or a reading outside 0 to 100."""


@dataclass(frozen=True)
class UsageSend:
    """Readings to send one account now: one signal carrying every input that moved."""

    account_id: str
    signal: HealthSignal
    reason: str
    """``first``, ``colour`` (they change its colour) or ``stale`` (none sent for long)."""


@dataclass(frozen=True)
class UsageDelivery:
    sends: list[UsageSend]
    marks: list[FeedMark]
    """Every account of the page with new rows; an account that turns out unknown keeps its
    old mark (nothing saved), so it is sent its readings once it exists."""


@dataclass(frozen=True)
class UsageDelivered:
    accounts_signalled: int = 0
    """One health signal each, carrying the inputs that moved."""
    unknown_accounts: int = 0
    """No running account workflow (never handed off, or closed)."""


@dataclass(frozen=True)
class UsageFeedResult:
    """What one run did (``dealcycle usage-feed run-now`` prints it)."""

    until: str
    pages: int = 0
    accounts_read: int = 0
    accounts_with_new_rows: int = 0
    rows_read: int = 0
    rows_out_of_bounds: int = 0
    accounts_signalled: int = 0
    """One health signal each, carrying the inputs that moved."""
    colour_changes: int = 0
    stale_refreshes: int = 0
    unknown_accounts: int = 0
