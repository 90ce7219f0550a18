"""The usage feed's activities: read a page of accounts from the analytics database, and send
accounts their readings (then move the feed's marks on, in our database).

The analytics database is reached through SQLAlchemy with the configured query (the contract:
``dealcycle.usage_feed_settings.USAGE_FEED_DEFAULT_QUERY``), wrapped to page by account:
the rows come ordered by account and day, streamed, and reading stops at the first row of the
account after a full page. Blocking calls run in a thread, within the attempt's time (a
PostgreSQL statement is also given the time left as its ``statement_timeout``).

A row without an account id or a day, with a malformed id, or with a reading outside 0 to 100
is dropped, counted and logged (its account id and column, never a value or the URL); an
account with no running workflow is counted and keeps its mark. Neither fails the feed.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.attempt import bounded_by_attempt, call_timeout
from dealcycle.db.engine import make_engine, normalize_database_url
from dealcycle.db.models import UsageFeedMark
from dealcycle.logging import get_logger
from dealcycle.usage_feed_settings import UsageFeedSettings
from schemas.account import account_workflow_id
from schemas.health import HEALTH_SIGNAL
from schemas.limits import RECORD_ID
from schemas.usage_feed import (
    READING_COLUMNS,
    AccountUsage,
    FeedMark,
    UsageDelivered,
    UsageDelivery,
    UsagePage,
    UsagePageRequest,
    UsageSend,
)

log = get_logger("dealcycle.usage_feed")
QUERY_CAP_SECONDS = 3_600.0
SIGNAL_CAP_SECONDS = 30.0
SIGNALLING_AT_ONCE = 16
"""Accounts signalled concurrently."""
MARKS_PER_QUERY = 500
STREAM_ROWS = 1_000


@dataclass
class _Account:
    account_id: str
    days: list[tuple[str, dict[str, float]]] = field(default_factory=list)


def paged_query(query: str) -> str:
    """The configured query, paged by account: its own ``:after_account``."""
    return (
        "SELECT account_id, day, usage, adoption, sentiment"
        f" FROM ({query.strip().rstrip(';')}) usage_feed_rows"
        " WHERE account_id > :after_account ORDER BY account_id, day"
    )


def _day(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None


def _reading(value: object) -> float | None:
    """The reading, or None for none; raises ValueError when out of bounds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError("not a number")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise ValueError("outside 0 to 100")
    return number


def _well_formed(account_id: str) -> bool:
    return len(account_id) <= RECORD_ID.max_chars and bool(
        re.fullmatch(RECORD_ID.pattern, account_id)
    )


def _problem(row: Sequence[Any]) -> tuple[str, str, dict[str, float]] | str:
    """The row as (account id, day, readings), or why it is dropped."""
    account_id, raw_day = row[0], row[1]
    if not isinstance(account_id, str) or not account_id:
        return "no account id"
    if not _well_formed(account_id):
        return "malformed account id"
    day = _day(raw_day)
    if day is None:
        return "no day, or not a date"
    readings: dict[str, float] = {}
    for name, raw in zip(READING_COLUMNS, row[2:5], strict=True):
        try:
            value = _reading(raw)
        except ValueError as err:
            return f"{name} {err}"
        if value is not None:
            readings[name] = value
    return account_id, day, readings


def _warehouse_engine(url: str) -> Engine:
    normalized = normalize_database_url(url)
    if make_url(normalized).get_backend_name() != "postgresql":
        return make_engine(url)
    # A host that does not answer fails the attempt in seconds, not at the TCP timeout.
    return create_engine(normalized, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _postgres_timeout(connection: Connection, seconds: float) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET statement_timeout = {max(int(seconds * 1000), 1)}")


class UsageFeedActivities:
    def __init__(self, client: Client, engine: Engine, settings: UsageFeedSettings) -> None:
        self._client = client
        self._engine = engine
        self._settings = settings
        self._warehouse: Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def on(cls, client: Client, database_url: str, settings: UsageFeedSettings) -> Self:
        """Built once by the worker: marks in our database, signals through ``client``."""
        return cls(client, make_engine(database_url), settings)

    @property
    def functions(self) -> list[Any]:
        return [self.read_usage_page, self.deliver_usage]

    def _analytics(self) -> Engine:
        if not self._settings.configured:
            # Retrying cannot help: each run fails at once, saying what to set.
            raise ApplicationError(
                "no analytics database: set DEALCYCLE_USAGE_FEED_URL (a SQLAlchemy URL) for the"
                " worker",
                type="UsageFeedNotConfigured",
                non_retryable=True,
            )
        with self._lock:
            if self._warehouse is None:
                self._warehouse = _warehouse_engine(self._settings.url)
            return self._warehouse

    # --- Reading ---------------------------------------------------------------------------

    def _read(self, request: UsagePageRequest) -> UsagePage:
        accounts: list[_Account] = []
        rows_read = dropped = 0
        next_after = ""
        params = {
            "since": date.fromisoformat(request.since),
            "until": date.fromisoformat(request.until),
            "after_account": request.after_account,
        }
        with self._analytics().connect() as connection:
            _postgres_timeout(connection, call_timeout(QUERY_CAP_SECONDS))
            result = connection.execution_options(
                stream_results=True, yield_per=STREAM_ROWS
            ).execute(text(paged_query(self._settings.query)), params)
            current: object = None
            groups = 0
            try:
                for row in result:
                    account_id = row[0]
                    if groups == 0 or account_id != current:
                        if groups >= request.page_size:
                            next_after = str(current)
                            break
                        current, groups = account_id, groups + 1
                    rows_read += 1
                    parsed = _problem(tuple(row))
                    if isinstance(parsed, str):
                        dropped += 1
                        valid = isinstance(account_id, str) and _well_formed(account_id)
                        # An id is not customer text; a malformed one might be: not logged.
                        log.warning(
                            "usage feed row dropped",
                            reason=parsed,
                            account_id=account_id if valid else "",
                        )
                        continue
                    if not accounts or accounts[-1].account_id != parsed[0]:
                        accounts.append(_Account(parsed[0]))
                    accounts[-1].days.append((parsed[1], parsed[2]))
            finally:
                result.close()
        marks = self._marks([account.account_id for account in accounts])
        return UsagePage(
            [
                usage
                for account in accounts
                if (usage := _newest(account, marks.get(account.account_id))) is not None
            ],
            next_after,
            accounts_read=len(accounts),
            rows_read=rows_read,
            rows_out_of_bounds=dropped,
        )

    def _marks(self, account_ids: list[str]) -> dict[str, FeedMark]:
        marks: dict[str, FeedMark] = {}
        with Session(self._engine) as session:
            for start in range(0, len(account_ids), MARKS_PER_QUERY):
                chunk = account_ids[start : start + MARKS_PER_QUERY]
                rows = session.scalars(
                    select(UsageFeedMark).where(UsageFeedMark.account_id.in_(chunk))
                )
                for row in rows:
                    marks[row.account_id] = FeedMark(
                        row.account_id,
                        row.last_day,
                        dict(row.readings or {}),
                        row.signalled_day,
                        row.signals,
                    )
        return marks

    @activity.defn
    async def read_usage_page(self, request: UsagePageRequest) -> UsagePage:
        with bounded_by_attempt():
            # The attempt ends in time even if the warehouse does not answer; the thread, which
            # only reads, is left to finish on its own.
            return await asyncio.wait_for(
                asyncio.to_thread(self._read, request), call_timeout(QUERY_CAP_SECONDS)
            )

    # --- Delivering ------------------------------------------------------------------------

    async def _send(self, send: UsageSend, gate: asyncio.Semaphore) -> bool:
        """Signal the account its readings; False if it has no running workflow."""
        handle = self._client.get_workflow_handle(account_workflow_id(send.account_id))
        async with gate:
            timeout = timedelta(seconds=call_timeout(SIGNAL_CAP_SECONDS))
            try:
                await handle.signal(HEALTH_SIGNAL, send.signal, rpc_timeout=timeout)
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise
                log.warning("usage feed account unknown", account_id=send.account_id)
                return False
        return True

    def _save(self, marks: Iterable[FeedMark]) -> None:
        now = datetime.now(UTC)
        with Session(self._engine) as session, session.begin():
            for mark in marks:
                row = session.get(UsageFeedMark, mark.account_id)
                if row is None:
                    row = UsageFeedMark(account_id=mark.account_id)
                    session.add(row)
                row.last_day, row.readings = mark.last_day, dict(mark.readings)
                row.signalled_day, row.signals, row.updated_at = (
                    mark.signalled_day,
                    mark.signals,
                    now,
                )

    @activity.defn
    async def deliver_usage(self, delivery: UsageDelivery) -> UsageDelivered:
        with bounded_by_attempt():
            gate = asyncio.Semaphore(SIGNALLING_AT_ONCE)
            known = await asyncio.gather(*(self._send(send, gate) for send in delivery.sends))
            sent = [send for send, ok in zip(delivery.sends, known, strict=True) if ok]
            unknown = {send.account_id for send in delivery.sends} - {s.account_id for s in sent}
            await asyncio.to_thread(
                self._save, [mark for mark in delivery.marks if mark.account_id not in unknown]
            )
        return UsageDelivered(
            accounts_signalled=len(sent),
            unknown_accounts=len(unknown),
        )


def _newest(account: _Account, mark: FeedMark | None) -> AccountUsage | None:
    """The account's latest readings among its rows after its mark, or None if none is new."""
    new = [(day, readings) for day, readings in account.days if mark is None or day > mark.last_day]
    if not new:
        return None
    latest: dict[str, float] = {}
    for _, readings in sorted(new, key=lambda item: item[0]):
        latest.update(readings)
    return AccountUsage(account.account_id, max(day for day, _ in new), latest, mark)
