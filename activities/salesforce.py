"""Salesforce activities: field updates and Tasks, written once per idempotency key.

``SalesforceConnector`` logs in with the OAuth flow ``SALESFORCE_AUTH`` names
(``activities.salesforce_auth``: JWT bearer by default) and hands out a
cached ``simple_salesforce.Salesforce``; when Salesforce says the session expired it logs in
again once and repeats the call. ``SalesforceActivities`` wraps each write in the
``IdempotencyLedger`` and turns Salesforce's answers into ``ApplicationError``s whose ``type``
names the cause and whose message starts with the reason.

Nothing waits inside an attempt: ``403 REQUEST_LIMIT_EXCEEDED`` fails it with an exponential
``next_retry_delay`` and Temporal waits, and every HTTP call ends inside the attempt
(``activities.attempt``). Text values are clipped to the field's length in
``schemas.salesforce_fields``, so a long reason never fails a write.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
import structlog
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attempt import AttemptTimeSpent, bounded_by_attempt, call_timeout
from activities.closed_won import (
    closed_won_since,
    deal_from_record,
    one_deal,
    refusal,
    salesforce_time,
)
from activities.errors import clip, exponential_delay, non_retryable, retryable
from activities.salesforce_auth import SalesforceLoginError, log_in
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.metrics import count_in_activity
from dealcycle.settings import SalesforceSettings, Settings
from schemas.effects import SalesforceFieldUpdate, SalesforceTaskRequest, SalesforceWriteResult
from schemas.intake import ClosedWonBatch, ClosedWonPoll
from schemas.metrics import SALESFORCE_CALLS, CallOutcome
from schemas.opportunity_lookup import OpportunityFound, OpportunityLookup
from schemas.salesforce_fields import TEXT_TYPES, find_field

log = structlog.get_logger(__name__)

T = TypeVar("T")

TASK_KEY_FIELD = "Dealcycle_Key__c"
"""External id field of Task that holds the idempotency key."""
UPDATE_KIND = "salesforce_update"
TASK_KIND = "salesforce_task"
HTTP_TIMEOUT_SECONDS = 15.0
"""Longest a single Salesforce call may take (less near the end of the attempt)."""
TRUNCATION_MARKER = "… (truncated)"

_SOBJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_USAGE_WARNING = 0.8


class _Session(requests.Session):
    """A session with a timeout that ends inside the attempt, and that keeps its CA bundle.

    requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the environment override
    ``Session.verify`` unless ``verify`` is passed with each request, so it is passed here.
    """

    def __init__(self, timeout: float, verify: str | bool) -> None:
        super().__init__()
        self.verify = verify
        self.default_timeout = timeout

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", call_timeout(self.default_timeout))
        kwargs.setdefault("verify", self.verify)
        # Every call (logins included) passes here: count it by method and outcome.
        called = _called(str(method), str(url))
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.exceptions.SSLError:
            count_in_activity(SALESFORCE_CALLS, method=called, outcome=CallOutcome.PERMANENT_ERROR)
            raise
        except Exception:
            count_in_activity(SALESFORCE_CALLS, method=called, outcome=CallOutcome.RETRYABLE_ERROR)
            raise
        count_in_activity(SALESFORCE_CALLS, method=called, outcome=_outcome_of(response))
        return response


_DATA_PATH = re.compile(r"/services/data/v[0-9.]+/(\w+)(?:/([A-Za-z][A-Za-z0-9_]*))?")


def _called(method: str, url: str) -> str:
    """``PATCH sobjects/Task``, ``GET query``, ``POST oauth2/token``: the method and the kind
    of resource, never a record id or key (the label must stay a short list)."""
    path = urlsplit(url).path
    if path.endswith("/oauth2/token"):
        return f"{method.upper()} oauth2/token"
    match = _DATA_PATH.search(path)
    if match is None:
        return f"{method.upper()} other"
    resource = match.group(1)
    if resource == "sobjects" and match.group(2):
        resource = f"sobjects/{match.group(2)}"
    return f"{method.upper()} {resource}"


def _outcome_of(response: requests.Response) -> CallOutcome:
    """As ``SalesforceActivities._classify`` (and the login) treat the answer: an expired
    session is logged in again, a rate limit, a locked row and a server error are retried,
    the rest of 4xx are not."""
    status = response.status_code
    if status < 300:
        return CallOutcome.OK
    if status == 401 or status >= 500:
        return CallOutcome.RETRYABLE_ERROR
    if status in (400, 403):
        try:
            codes, _ = _error_details(response.json())
        except ValueError:
            codes = []
        if status == 403 and "REQUEST_LIMIT_EXCEEDED" in codes:
            return CallOutcome.RATE_LIMITED
        if status == 400 and "UNABLE_TO_LOCK_ROW" in codes:
            return CallOutcome.RETRYABLE_ERROR
    return CallOutcome.PERMANENT_ERROR


class SalesforceConnector:
    """Thread-safe holder of a logged-in Salesforce client (blocking; use from a thread)."""

    def __init__(
        self, settings: SalesforceSettings, *, timeout: float = HTTP_TIMEOUT_SECONDS
    ) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._client: Salesforce | None = None
        self._session = _Session(timeout, settings.ca_bundle or True)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = HTTP_TIMEOUT_SECONDS
    ) -> SalesforceConnector:
        return cls(settings.salesforce, timeout=timeout)

    @property
    def settings(self) -> SalesforceSettings:
        return self._settings

    def client(self) -> Salesforce:
        """The cached client, logging in first if there is none."""
        with self._lock:
            if self._client is None:
                self._client = self._login()
            return self._client

    def relogin(self, stale: Salesforce) -> Salesforce:
        """Log in again unless another thread already replaced ``stale``."""
        with self._lock:
            if self._client is None or self._client is stale:
                self._client = self._login()
            return self._client

    def call(self, operation: Callable[[Salesforce], T]) -> T:
        """Run ``operation``; on an expired session log in again once and repeat it."""
        client = self.client()
        try:
            return operation(client)
        except SalesforceExpiredSession:
            log.info("salesforce_session_expired", action="logging in again")
            return operation(self.relogin(client))

    def sobject(self, client: Salesforce, name: str) -> SFType:
        # Built directly rather than through ``client.<name>``, which maps a few names
        # (bulk, bulk2) to other handlers.
        return SFType(
            name,
            client.session_id,
            client.sf_instance,
            sf_version=client.sf_version,
            session=self._session,
            salesforce=client,
        )

    def close(self) -> None:
        self._session.close()

    def _login(self) -> Salesforce:
        return log_in(self._session, self._settings)


def _error_details(content: Any) -> tuple[list[str], str]:
    """Error codes and a short text from a Salesforce error body."""
    items = content if isinstance(content, list) else [content]
    codes: list[str] = []
    parts: list[str] = []
    for item in items:
        if isinstance(item, dict) and item.get("errorCode"):
            code = str(item["errorCode"])
            codes.append(code)
            fields = item.get("fields")
            suffix = f" (fields: {', '.join(map(str, fields))})" if fields else ""
            parts.append(f"{code}: {item.get('message', '')}{suffix}")
        elif item:
            text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
            parts.append(clip(text))
    return codes, clip("; ".join(parts) or "no details")


def _reason(codes: list[str], fallback: str) -> str:
    return clip(", ".join(dict.fromkeys(codes)), 100) if codes else fallback


def clip_to_field(sobject: str, name: str, value: Any) -> Any:
    """``value``, a string clipped to the field's length in ``schemas.salesforce_fields``
    (with ``TRUNCATION_MARKER``); other values and unlisted fields unchanged."""
    entry = find_field(sobject, name)
    if (
        not isinstance(value, str)
        or entry is None
        or entry.type not in TEXT_TYPES
        or entry.length is None
        or len(value) <= entry.length
    ):
        return value
    return value[: entry.length - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


def clip_fields(sobject: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {name: clip_to_field(sobject, name, value) for name, value in fields.items()}


class SalesforceActivities:
    """Activities writing to Salesforce; built once by the worker with its connector."""

    def __init__(
        self,
        connector: SalesforceConnector,
        ledger: IdempotencyLedger,
        *,
        rate_limit_base_delay: timedelta = timedelta(seconds=30),
        rate_limit_max_delay: timedelta = timedelta(minutes=30),
    ) -> None:
        self._connector = connector
        self._ledger = ledger
        self._rate_limit_base = rate_limit_base_delay
        self._rate_limit_cap = rate_limit_max_delay

    @classmethod
    def from_settings(
        cls, settings: Settings, ledger: IdempotencyLedger, **kwargs: Any
    ) -> SalesforceActivities:
        return cls(SalesforceConnector.from_settings(settings), ledger, **kwargs)

    @activity.defn
    async def look_up_opportunity(self, lookup: OpportunityLookup) -> OpportunityFound:
        """One GET of the Opportunity by Id (a read: no idempotency key). Salesforce having
        none is an answer, ``found`` False; any other failure is raised as a write's is."""
        opportunity_id = lookup.opportunity_id

        def perform(client: Salesforce) -> dict[str, Any] | None:
            try:
                record: dict[str, Any] = self._connector.sobject(client, "Opportunity").get(
                    quote(opportunity_id, safe="")
                )
            except SalesforceResourceNotFound:
                return None
            return record

        try:
            with bounded_by_attempt():
                record = await asyncio.to_thread(self._connector.call, perform)
        except Exception as exc:
            error = self._classify(exc, f"the read of Opportunity {opportunity_id}")
            if error is None:
                raise
            raise error from None
        if record is None:
            return OpportunityFound(opportunity_id, found=False)
        return OpportunityFound(opportunity_id, found=True, name=str(record.get("Name") or ""))

    @activity.defn
    async def update_salesforce_record(
        self, update: SalesforceFieldUpdate
    ) -> SalesforceWriteResult:
        """Set ``fields`` on one record (PATCH by Id)."""
        what = f"the update of {update.sobject} {update.record_id}"
        if not _SOBJECT_NAME.fullmatch(update.sobject):
            raise non_retryable(
                f"invalid sObject name {clip(repr(update.sobject), 100)}",
                "SalesforceInvalidRequest",
            )
        if not update.record_id:
            raise non_retryable(f"empty record_id in {what}", "SalesforceInvalidRequest")
        fields = clip_fields(update.sobject, dict(update.fields))

        def perform(client: Salesforce) -> SalesforceWriteResult:
            target = self._connector.sobject(client, update.sobject)
            target.update(quote(update.record_id, safe=""), fields)
            _watch_usage(target)
            return SalesforceWriteResult(sobject=update.sobject, record_id=update.record_id)

        return await self._write_once(update.idempotency_key, UPDATE_KIND, perform, what)

    @activity.defn
    async def create_salesforce_task(self, request: SalesforceTaskRequest) -> SalesforceWriteResult:
        """Create the Task for this key, or update it if an earlier attempt created it.

        The upsert on ``Dealcycle_Key__c`` means Salesforce itself holds at most one Task per
        key, even when an attempt dies between the write and the ledger update. A revision
        (``task_key``) upserts the Task written under that key, once per idempotency key.
        """
        key = request.task_key or request.idempotency_key
        what = f"the upsert of Task {TASK_KEY_FIELD}={key}"
        try:
            date.fromisoformat(request.activity_date)
        except ValueError:
            raise non_retryable(
                f"activity_date {clip(repr(request.activity_date), 100)} is not YYYY-MM-DD, in"
                f" {what}",
                "SalesforceInvalidRequest",
            ) from None
        description = request.description
        if request.owner_hint:
            description = f"{description}\n\nOwner (dealcycle): {request.owner_hint}".strip()
        # Status and Priority are left to the org's defaults: sending them would reopen a Task
        # someone already completed whenever a retry repeats the upsert.
        data = clip_fields(
            "Task",
            {
                "Subject": request.subject,
                "WhatId": request.what_id,
                "ActivityDate": request.activity_date,
                "Description": description,
            },
        )

        def perform(client: Salesforce) -> SalesforceWriteResult:
            task = self._connector.sobject(client, "Task")
            response = task.upsert(
                f"{TASK_KEY_FIELD}/{quote(key, safe='')}", data, raw_response=True
            )
            _watch_usage(task)
            if response.status_code == 204 or not response.content:
                # API versions before 46.0 answer an update-upsert without a body.
                record_id = str(task.get_by_custom_id(TASK_KEY_FIELD, key)["Id"])
            else:
                record_id = str(response.json()["id"])
            return SalesforceWriteResult(sobject="Task", record_id=record_id)

        return await self._write_once(request.idempotency_key, TASK_KIND, perform, what)

    async def _write_once(
        self,
        key: str,
        kind: str,
        perform: Callable[[Salesforce], SalesforceWriteResult],
        what: str,
    ) -> SalesforceWriteResult:
        with bounded_by_attempt():
            return await self._write_once_in_attempt(key, kind, perform, what)

    async def _write_once_in_attempt(
        self,
        key: str,
        kind: str,
        perform: Callable[[Salesforce], SalesforceWriteResult],
        what: str,
    ) -> SalesforceWriteResult:
        try:
            entry, resumed = await asyncio.to_thread(self._ledger.start, key, kind)
        except ValueError as exc:  # the key was used for another kind of write
            raise non_retryable(str(exc), "IdempotencyKeyConflict") from None
        if entry.done and entry.result is not None:
            activity.logger.info("Salesforce write %s already done; returning its result", key)
            return SalesforceWriteResult(**entry.result)
        if resumed:
            # Both writes are idempotent on the Salesforce side (PATCH by id, upsert by key),
            # so repeating one an earlier attempt may have done is safe.
            activity.logger.info("repeating Salesforce write %s (attempt %d)", key, entry.attempts)
        try:
            result = await asyncio.to_thread(self._connector.call, perform)
        except Exception as exc:
            error = self._classify(exc, what)
            if error is None:
                raise
            activity.logger.warning(
                "Salesforce write %s failed: %s (%s, retryable=%s)",
                key,
                error.message,
                error.type,
                not error.non_retryable,
            )
            raise error from None
        await asyncio.to_thread(self._ledger.finish, key, asdict(result))
        activity.logger.info(
            "Salesforce write %s done: %s %s", key, result.sobject, result.record_id
        )
        return result

    def _classify(self, exc: Exception, what: str) -> ApplicationError | None:
        """The failure for ``exc``, its message starting with the reason; ``None`` for an
        exception that is not Salesforce's."""
        if isinstance(exc, SalesforceLoginError):
            make = retryable if exc.retryable else non_retryable
            return make(str(exc), "SalesforceLoginFailed")
        if isinstance(exc, SalesforceError):
            codes, detail = _error_details(exc.content)
            if isinstance(exc, SalesforceRefusedRequest):
                if "REQUEST_LIMIT_EXCEEDED" in codes:
                    delay = exponential_delay(
                        activity.info().attempt, self._rate_limit_base, self._rate_limit_cap
                    )
                    return retryable(
                        f"REQUEST_LIMIT_EXCEEDED: Salesforce API limit reached during {what};"
                        f" next try in {delay.total_seconds():g}s ({detail})",
                        "SalesforceRateLimited",
                        next_retry_delay=delay,
                    )
                return non_retryable(
                    f"{_reason(codes, 'HTTP 403')}: Salesforce refused {what}: {detail}",
                    "SalesforceRefused",
                )
            if isinstance(exc, SalesforceMalformedRequest):
                if "UNABLE_TO_LOCK_ROW" in codes:
                    # Another transaction (a trigger, a data load) holds the record: Salesforce
                    # answers 400, but says to try again; the retries are bounded as any.
                    return retryable(
                        f"UNABLE_TO_LOCK_ROW: the record is locked by another Salesforce"
                        f" transaction during {what}: {detail}",
                        "SalesforceRecordLocked",
                    )
                return non_retryable(
                    f"{_reason(codes, 'HTTP 400')}: Salesforce rejected {what}: {detail}",
                    "SalesforceInvalidRequest",
                )
            if isinstance(exc, SalesforceResourceNotFound):
                return non_retryable(
                    f"{_reason(codes, 'NOT_FOUND')}: Salesforce found nothing for {what}: {detail}",
                    "SalesforceNotFound",
                )
            if isinstance(exc, SalesforceExpiredSession):
                return retryable(
                    f"{_reason(codes, 'INVALID_SESSION_ID')}: the Salesforce session was still"
                    f" invalid after logging in again, during {what}: {detail}",
                    "SalesforceSessionInvalid",
                )
            if isinstance(exc, SalesforceMoreThanOneRecord):
                return non_retryable(
                    f"several records match {what}: {detail}", "SalesforceAmbiguousExternalId"
                )
            if exc.status >= 500:
                return retryable(
                    f"Salesforce unavailable (HTTP {exc.status}"
                    f"{', ' + _reason(codes, '') if codes else ''}) during {what}: {detail}",
                    "SalesforceUnavailable",
                )
            return non_retryable(
                f"{_reason(codes, f'HTTP {exc.status}')}: Salesforce answered HTTP {exc.status}"
                f" to {what}: {detail}",
                "SalesforceRequestFailed",
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return non_retryable(
                f"TLS verification failed at the Salesforce instance during {what}; check "
                "SALESFORCE_CA_BUNDLE",
                "SalesforceTLSError",
            )
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return retryable(
                f"Salesforce unreachable ({type(exc).__name__}) during {what}",
                "SalesforceUnavailable",
            )
        if isinstance(exc, AttemptTimeSpent):
            return retryable(f"attempt out of time during {what}: {exc}", "SalesforceTimeout")
        return None

    @activity.defn
    async def poll_closed_won(self, poll: ClosedWonPoll) -> ClosedWonBatch:
        """A page of Closed Won opportunities after ``(poll.since, poll.after_id)`` in
        ``(LastModifiedDate, Id)`` order, or the one ``poll.opportunity_id`` names (and why it
        cannot be handed off), each with its account's fields from the same query (a read: no
        idempotency key)."""
        if poll.opportunity_id:
            soql = one_deal(poll.opportunity_id)
        else:
            soql = closed_won_since(poll.since, poll.limit, poll.after_id)
        connector = self._connector
        read_at = datetime.now(UTC)

        def perform(client: Salesforce) -> list[dict[str, Any]]:
            records: list[dict[str, Any]] = client.query_all(soql)["records"]
            return records

        try:
            with bounded_by_attempt():
                records = await asyncio.to_thread(connector.call, perform)
        except Exception as exc:
            error = self._classify(exc, "the poll for Closed Won opportunities")
            if error is None:
                raise
            raise error from None
        if poll.opportunity_id:
            refused = refusal(poll.opportunity_id, records)
            if refused:
                return ClosedWonBatch(read=len(records), refused=refused)
        last = records[-1] if records else None
        return ClosedWonBatch(
            [deal_from_record(record) for record in records if record.get("AccountId")],
            read=len(records),
            last_modified=salesforce_time(str(last["LastModifiedDate"])) if last else None,
            last_id=str(last["Id"]) if last else "",
            without_account=[str(r["Id"]) for r in records if not r.get("AccountId")],
            read_at=read_at,
        )


def _watch_usage(target: SFType) -> None:
    usage = target.api_usage.get("api-usage")
    if usage is None or not usage.total:
        return
    if usage.used / usage.total >= _USAGE_WARNING:
        log.warning("salesforce_api_usage_high", used=usage.used, total=usage.total)
    else:
        log.debug("salesforce_api_usage", used=usage.used, total=usage.total)
