"""The usage feed's settings: where the analytics database is, what to ask it, how often.

DEALCYCLE_USAGE_FEED_URL          SQLAlchemy URL of the analytics database (unset: no feed)
DEALCYCLE_USAGE_FEED_QUERY        the SQL (default: USAGE_FEED_DEFAULT_QUERY)
DEALCYCLE_USAGE_FEED_QUERY_FILE   or a file holding it
DEALCYCLE_USAGE_FEED_INTERVAL     how often the schedule runs (default 1d)
DEALCYCLE_USAGE_FEED_STALENESS    send an account its readings at least this often (7d)
DEALCYCLE_USAGE_FEED_LOOKBACK     how far back a run reads (7d)
DEALCYCLE_USAGE_FEED_PAGE_SIZE    accounts per page (500)
DEALCYCLE_USAGE_FEED_TIMEOUT      each attempt of a page's read or delivery (5m)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from schemas.limits import FEED_ATTEMPT_SECONDS

DAY_SECONDS = 86_400
USAGE_FEED_DEFAULT_QUERY = (
    "SELECT account_id, day, usage, adoption, sentiment FROM account_health_daily"
    " WHERE day >= :since AND day < :until"
)
"""The query contract: one row per account and day, with the columns ``account_id``, ``day``
(a date, or text ``YYYY-MM-DD``) and ``usage``, ``adoption``, ``sentiment`` (0 to 100, or NULL
for no reading that day); bound parameters ``:since`` (first day, inclusive) and ``:until``
(first day not read: today, so only complete days). The feed wraps it to page by account:
``:after_account`` is its own, and a trailing ``;`` is dropped."""


@dataclass(frozen=True)
class UsageFeedSettings:
    url: str = field(default="", repr=False)
    """May carry a password: never shown."""
    query: str = USAGE_FEED_DEFAULT_QUERY
    interval_seconds: int = DAY_SECONDS
    staleness_days: int = 7
    lookback_days: int = 7
    page_size: int = 500
    attempt_timeout_seconds: int = 300

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> UsageFeedSettings:
        from dealcycle.settings import SettingsError  # that module builds its Settings from this

        query = env.get("DEALCYCLE_USAGE_FEED_QUERY") or ""
        query_file = env.get("DEALCYCLE_USAGE_FEED_QUERY_FILE") or ""
        if query and query_file:
            raise SettingsError(
                "set DEALCYCLE_USAGE_FEED_QUERY or DEALCYCLE_USAGE_FEED_QUERY_FILE, not both"
            )
        if query_file:
            try:
                query = Path(query_file).read_text(encoding="utf-8")
            except OSError as err:
                raise SettingsError(
                    f"DEALCYCLE_USAGE_FEED_QUERY_FILE={query_file!r} cannot be read: {err.strerror}"
                ) from None
        query = query.strip().rstrip(";").strip()
        return cls(
            url=env.get("DEALCYCLE_USAGE_FEED_URL") or "",
            query=query or USAGE_FEED_DEFAULT_QUERY,
            interval_seconds=_seconds(env, "DEALCYCLE_USAGE_FEED_INTERVAL", DAY_SECONDS),
            staleness_days=_days(env, "DEALCYCLE_USAGE_FEED_STALENESS", 7),
            lookback_days=_days(env, "DEALCYCLE_USAGE_FEED_LOOKBACK", 7),
            page_size=_whole(env, "DEALCYCLE_USAGE_FEED_PAGE_SIZE", 500, 10_000),
            attempt_timeout_seconds=_attempt_timeout(env, "DEALCYCLE_USAGE_FEED_TIMEOUT", 300),
        )


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    from dealcycle.settings import parse_duration

    raw = env.get(name) or ""
    return parse_duration(name, raw) if raw else default


def _attempt_timeout(env: Mapping[str, str], name: str, default: int) -> int:
    """As ``UsageFeedRun.attempt_timeout_seconds`` allows (its workflow refuses a run outside)."""
    from dealcycle.settings import SettingsError

    seconds = _seconds(env, name, default)
    if not FEED_ATTEMPT_SECONDS.low <= seconds <= FEED_ATTEMPT_SECONDS.high:
        raise SettingsError(
            f"{name}={env.get(name)!r} must be from {FEED_ATTEMPT_SECONDS.low}s to"
            f" {FEED_ATTEMPT_SECONDS.high // DAY_SECONDS}d"
        )
    return seconds


def _days(env: Mapping[str, str], name: str, default: int) -> int:
    from dealcycle.settings import SettingsError

    seconds = _seconds(env, name, default * DAY_SECONDS)
    if seconds % DAY_SECONDS or not DAY_SECONDS <= seconds <= 365 * DAY_SECONDS:
        raise SettingsError(
            f"{name}={env.get(name)!r} must be whole days from 1d to 365d"
            " (the feed's rows are daily)"
        )
    return seconds // DAY_SECONDS


def _whole(env: Mapping[str, str], name: str, default: int, most: int) -> int:
    from dealcycle.settings import SettingsError

    raw = env.get(name) or ""
    if not raw:
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= most:
        raise SettingsError(f"{name}={raw!r} must be a whole number from 1 to {most}")
    return int(raw)
