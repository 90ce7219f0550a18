"""Slack activity: post a message once per idempotency key.

Every post carries ``metadata = {"event_type": "dealcycle_post", "event_payload":
{"idempotency_key": key}}``. When the ledger shows an earlier attempt that started but never
finished (it may have posted and then died), the activity looks for that key in the
conversation before posting, so a crash between posting and recording cannot double-post.
That search needs read scopes (``REQUIRED_SCOPES``): without them the activity refuses to
post rather than risk a duplicate, and the worker refuses to start (``check_slack_scopes``).

The client never waits or retries by itself: a 429 fails the attempt with
``next_retry_delay`` = ``Retry-After`` and Temporal waits, and every call ends inside the
attempt (``activities.attempt``), so no abandoned attempt can post after its successor.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web import SlackResponse
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attempt import AttemptTimeSpent, bounded_by_attempt, call_timeout
from activities.digest import reminder_recipient
from activities.errors import clip, non_retryable, retryable
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.preferences import ReminderMode, ReminderPreferences
from dealcycle.metrics import count_in_activity
from dealcycle.settings import SlackSettings
from schemas.effects import SlackMessageUpdate, SlackPost, SlackPostResult
from schemas.metrics import SLACK_CALLS, CallOutcome

log = structlog.get_logger(__name__)

POST_KIND = "slack_post"
METADATA_EVENT_TYPE = "dealcycle_post"
HTTP_TIMEOUT_SECONDS = 10
"""Longest a single Slack call may take (less near the end of the attempt)."""
MAX_POST_CHARS = 3900
"""Posted text is clipped to this: Slack refuses over 40,000 characters (``msg_too_long``)
and shows about 4,000; the workflow keeps the full text."""
TRUNCATION_MARKER = "… (truncated)"

REQUIRED_SCOPES: dict[str, str] = {
    "chat:write": "post messages (chat.postMessage)",
    "im:write": "open the direct message a reminder goes to (conversations.open)",
    "channels:history": "find an earlier post by its idempotency key after a crash, in a"
    " public channel (conversations.history, conversations.replies)",
    "groups:history": "the same, in a private channel",
    "im:history": "the same, in a direct message",
    "channels:read": "find a public channel's id by its name for that search (conversations.list)",
    "groups:read": "the same, for a private channel",
}
"""Every scope the bot token needs, and why: without the read scopes a post whose attempt
crashed cannot be looked for, and exactly-once cannot hold."""

# Errors a retry cannot fix: configuration, permissions, or the message itself.
NON_RETRYABLE_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "msg_too_long",
        "no_text",
        "thread_not_found",
        "invalid_blocks",
        "invalid_metadata_format",
        "invalid_arguments",
        "restricted_action",
        "user_not_found",
        # chat.update: the message was deleted, is not the bot's, or is too old to edit.
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "unknown_method",
    }
)
_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
# Anything else Slack answers (internal_error, fatal_error, service_unavailable,
# request_timeout, unknown codes) is treated as transient: Temporal's retry policy bounds it.

_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CONVERSATION_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


class _AttemptBoundClient(WebClient):
    """A WebClient whose every call ends before the running attempt does.

    slack-sdk reads ``self.timeout`` once per HTTP request, so answering it from the attempt's
    deadline bounds each call without a client per call.
    """

    _cap: float

    @property  # type: ignore[override]
    def timeout(self) -> float:
        return call_timeout(self._cap)

    @timeout.setter
    def timeout(self, value: float) -> None:
        self._cap = value

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        """Every Web API method goes through here: count the call by method and outcome."""
        try:
            response = super().api_call(api_method, **kwargs)
        except AttemptTimeSpent:
            raise  # no call was made
        except Exception as exc:
            count_in_activity(SLACK_CALLS, method=api_method, outcome=_outcome_of(exc))
            raise
        count_in_activity(SLACK_CALLS, method=api_method, outcome=CallOutcome.OK)
        return response


def _outcome_of(exc: Exception) -> CallOutcome:
    """As the activities will treat the failure (``SlackActivities._classify``)."""
    error = SlackActivities._classify(exc, "", "call")
    if error.type == "SlackRateLimited":
        return CallOutcome.RATE_LIMITED
    return CallOutcome.PERMANENT_ERROR if error.non_retryable else CallOutcome.RETRYABLE_ERROR


def build_slack_client(
    settings: SlackSettings, *, timeout: int = HTTP_TIMEOUT_SECONDS
) -> WebClient:
    """A WebClient without retry handlers: Temporal retries, and waits out ``Retry-After``."""
    base_url = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    return _AttemptBoundClient(
        token=settings.bot_token, base_url=base_url, timeout=timeout, retry_handlers=[]
    )


def clip_post_text(text: str, limit: int = MAX_POST_CHARS) -> str:
    """``text``, or its first part and ``TRUNCATION_MARKER`` in ``limit`` characters."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


class SlackSetupError(Exception):
    """The Slack configuration cannot work; the message says what to change, in one line."""


def check_slack_scopes(client: WebClient) -> None:
    """Raise ``SlackSetupError`` naming the missing scopes when the token lacks one of
    ``REQUIRED_SCOPES`` (read from ``auth.test``'s ``x-oauth-scopes`` header), or when Slack
    refuses the token. When Slack cannot be asked now, say so in the log and go on: the
    activity still refuses to post on a ``missing_scope``."""
    if not client.token:
        raise SlackSetupError("SLACK_BOT_TOKEN is not set: set the bot token (xoxb-…)")
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or "")
        if error in _AUTH_ERRORS:
            raise SlackSetupError(
                f"Slack refuses SLACK_BOT_TOKEN ({error}): set a valid bot token (xoxb-…)"
            ) from None
        log.warning("slack_scopes_not_checked", reason=error or "unknown error")
        return
    except (AttemptTimeSpent, OSError, urllib.error.URLError, SlackClientError) as exc:
        log.warning("slack_scopes_not_checked", reason=f"cannot reach Slack: {clip(str(exc))}")
        return
    raw = _header(response.headers, "x-oauth-scopes")
    if raw is None:
        log.warning("slack_scopes_not_checked", reason="auth.test sent no x-oauth-scopes")
        return
    granted = {scope.strip() for scope in raw.split(",") if scope.strip()}
    missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
    if missing:
        raise SlackSetupError(
            f"the Slack bot token lacks the scopes {', '.join(missing)}, without which a post"
            " could be duplicated or fail; add them under OAuth & Permissions, reinstall the"
            " app and set the new SLACK_BOT_TOKEN (README: Running against real Salesforce"
            " and Slack)"
        )


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            return None if value is None else str(value)
    return None


class SlackActivities:
    """Activities posting to Slack; built once by the worker with its client."""

    def __init__(
        self,
        client: WebClient,
        ledger: IdempotencyLedger,
        *,
        lookup_margin: timedelta = timedelta(minutes=5),
        lookup_max_pages: int = 20,
        preferences: ReminderPreferences | None = None,
    ) -> None:
        """``lookup_margin``: how far before the ledger's ``started_at`` the search for an
        earlier post begins (clock skew between this host and Slack)."""
        self._client = client
        self._ledger = ledger
        self._lookup_margin = lookup_margin
        self._lookup_max_pages = lookup_max_pages
        self.preferences = preferences
        """Who takes reminders in the daily digest (None: everyone immediately)."""
        # Channel name -> id, learnt from post answers; saves a conversations.list on recovery.
        self._channel_ids: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: SlackSettings, ledger: IdempotencyLedger) -> SlackActivities:
        return cls(build_slack_client(settings), ledger)

    @activity.defn
    async def post_slack_message(self, post: SlackPost) -> SlackPostResult:
        with bounded_by_attempt():
            return await self._post_once(post)

    @activity.defn
    async def update_slack_message(self, update: SlackMessageUpdate) -> None:
        """Replace a message's text and blocks. chat.update is idempotent (the same request
        leaves the same message), so it needs no ledger; a deleted message, one the bot may
        no longer edit or an archived channel fails at once (the effect is optional)."""
        with bounded_by_attempt():
            await asyncio.to_thread(self._update, update)
        activity.logger.info("Slack message %s %s updated", update.channel, update.ts)

    async def _post_once(self, post: SlackPost) -> SlackPostResult:
        key = post.idempotency_key
        try:
            entry, resumed = await asyncio.to_thread(self._ledger.start, key, POST_KIND)
        except ValueError as exc:  # the key was used for another kind of write
            raise non_retryable(str(exc), "IdempotencyKeyConflict") from None
        if entry.done and entry.result is not None:
            activity.logger.info("Slack post %s already done; returning its result", key)
            done = SlackPostResult(**entry.result)
            # Found done by a first attempt, the post is another activity's (a digest run
            # earlier the same day); by a retry, it may be this activity's own earlier attempt.
            return replace(done, posted_before=True) if activity.info().attempt == 1 else done
        if await self._held_for_digest(post):
            held = SlackPostResult(channel=post.channel, ts="", held_for_digest=True)
            await asyncio.to_thread(self._ledger.finish, key, asdict(held))
            activity.logger.info("Slack post %s held for %s's daily digest", key, post.channel)
            return held
        if resumed:
            earlier = await asyncio.to_thread(self._find_earlier_post, post, entry.started_at)
            if earlier is not None:
                activity.logger.info(
                    "Slack post %s was already made by an earlier attempt (ts %s)", key, earlier.ts
                )
                await asyncio.to_thread(self._ledger.finish, key, asdict(earlier))
                return earlier
        result = await asyncio.to_thread(self._post, post)
        await asyncio.to_thread(self._ledger.finish, key, asdict(result))
        activity.logger.info("Slack post %s done: %s %s", key, result.channel, result.ts)
        return result

    async def _held_for_digest(self, post: SlackPost) -> bool:
        person = reminder_recipient(post)
        if person is None or self.preferences is None:
            return False
        mode = await asyncio.to_thread(self.preferences.mode_of, person)
        return mode is ReminderMode.DIGEST

    # blocking parts (run in a thread) ------------------------------------------------------

    def _post(self, post: SlackPost) -> SlackPostResult:
        try:
            response = self._client.chat_postMessage(
                channel=post.channel,
                text=clip_post_text(post.text),
                thread_ts=post.thread_ts,
                blocks=post.blocks,
                metadata={
                    "event_type": METADATA_EVENT_TYPE,
                    "event_payload": {"idempotency_key": post.idempotency_key},
                },
            )
        except Exception as exc:
            raise self._classify(exc, post.channel, "post to") from None
        channel_id = str(response["channel"])
        if not _CONVERSATION_ID.fullmatch(post.channel.strip()):
            self._channel_ids[post.channel.strip()] = channel_id
        return SlackPostResult(channel=channel_id, ts=str(response["ts"]))

    def _update(self, update: SlackMessageUpdate) -> None:
        try:
            self._client.chat_update(
                channel=update.channel,
                ts=update.ts,
                text=clip_post_text(update.text),
                blocks=update.blocks,
            )
        except Exception as exc:
            raise self._classify(exc, update.channel, f"update message {update.ts} in") from None

    def _find_earlier_post(self, post: SlackPost, started_at: datetime) -> SlackPostResult | None:
        """The message an earlier attempt posted with this key, if Slack has it."""
        try:
            channel_id = self._conversation_id(post.channel)
            if channel_id is None:
                return None
            oldest = f"{(started_at - self._lookup_margin).timestamp():.6f}"
            cursor: str | None = None
            for _ in range(self._lookup_max_pages):
                if post.thread_ts:
                    # Thread replies do not show in conversations.history.
                    page = self._client.conversations_replies(
                        channel=channel_id,
                        ts=post.thread_ts,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
                else:
                    page = self._client.conversations_history(
                        channel=channel_id,
                        oldest=oldest,
                        include_all_metadata=True,
                        limit=200,
                        cursor=cursor,
                    )
                for message in page.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    payload = metadata.get("event_payload") or {}
                    if (
                        metadata.get("event_type") == METADATA_EVENT_TYPE
                        and payload.get("idempotency_key") == post.idempotency_key
                    ):
                        return SlackPostResult(channel=channel_id, ts=str(message["ts"]))
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return None
            log.warning(
                "slack_lookup_truncated", key=post.idempotency_key, pages=self._lookup_max_pages
            )
            return None
        except Exception as exc:
            if _slack_error(exc) == "missing_scope":
                # Posting without the check would turn exactly-once into at-least-once.
                needed = _slack_data(exc).get("needed") or "a read scope"
                raise non_retryable(
                    f"missing_scope: Slack scope {needed} is needed to check {post.channel} for"
                    f" an earlier post of {post.idempotency_key} (an attempt that crashed may"
                    " have made it); not posting, to avoid a duplicate. Add the scope to the"
                    " bot token, then retry",
                    "SlackMissingScope",
                ) from None
            error = self._classify(exc, post.channel, "look up earlier posts in")
            if not error.non_retryable:
                raise error from None
            # Another refusal (not_in_channel, an archived or unknown channel) ends the post
            # with its own error, or lets it through where only the read is refused.
            activity.logger.warning(
                "cannot check %s for an earlier post of %s (%s); posting anyway",
                post.channel,
                post.idempotency_key,
                error.message,
            )
            return None

    def _conversation_id(self, target: str) -> str | None:
        target = target.strip()
        if target in self._channel_ids:
            return self._channel_ids[target]
        if _MEMBER_ID.fullmatch(target):
            opened = self._client.conversations_open(users=target)
            channel_id = str(opened["channel"]["id"])
        elif _CONVERSATION_ID.fullmatch(target):
            return target
        else:
            # The read methods take ids only; find the channel's id by its name.
            channel_id_or_none = self._find_channel_by_name(target.lstrip("#").lower())
            if channel_id_or_none is None:
                return None
            channel_id = channel_id_or_none
        self._channel_ids[target] = channel_id
        return channel_id

    def _find_channel_by_name(self, name: str) -> str | None:
        cursor: str | None = None
        for _ in range(self._lookup_max_pages):
            page = self._client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return None

    # errors --------------------------------------------------------------------------------

    @staticmethod
    def _classify(exc: Exception, channel: str, action: str) -> ApplicationError:
        """The failure for ``exc``, its message starting with the reason."""
        where = f"{action} {channel}"
        if isinstance(exc, SlackApiError):
            response = exc.response
            status = int(getattr(response, "status_code", 0) or 0)
            data = _slack_data(exc)
            raw_error = str(data.get("error") or "unknown_error")
            error = clip(raw_error, 100)
            if status == 429 or error == "ratelimited":
                raw = _header(response.headers, "Retry-After")
                seconds = int(raw) if raw and raw.strip().isdigit() else 1
                return retryable(
                    f"Slack rate limit (retry after {seconds}s) while trying to {where}",
                    "SlackRateLimited",
                    next_retry_delay=timedelta(seconds=seconds),
                )
            if status >= 500:
                return retryable(
                    f"Slack unavailable (HTTP {status}) while trying to {where}",
                    "SlackUnavailable",
                )
            if error in NON_RETRYABLE_ERRORS:
                needed = (
                    f" (needed scope: {clip(str(data['needed']), 100)})"
                    if data.get("needed")
                    else ""
                )
                return non_retryable(
                    f"{error}: Slack refused to {where}{needed}",
                    "SlackAuthFailed" if error in _AUTH_ERRORS else "SlackPostRejected",
                )
            if not re.fullmatch(r"[a-z0-9_.]+", raw_error):
                # slack-sdk's words for a body that is not JSON (a proxy's page, say).
                return retryable(
                    f"unexpected answer (HTTP {status}, not Slack's JSON) while trying to {where}",
                    "SlackApiError",
                )
            return retryable(f"{error}: Slack answered it while trying to {where}", "SlackApiError")
        if isinstance(exc, AttemptTimeSpent):
            return retryable(f"attempt out of time while trying to {where}: {exc}", "SlackTimeout")
        if isinstance(exc, SlackRequestError):
            return non_retryable(
                f"invalid Slack request while trying to {where}: {clip(str(exc))}",
                "SlackRequestInvalid",
            )
        if isinstance(exc, urllib.error.URLError | OSError | SlackClientError):
            return retryable(
                f"Slack unreachable ({_reason(exc)}) while trying to {where}", "SlackUnavailable"
            )
        return retryable(
            f"unexpected {type(exc).__name__} while trying to {where}: {clip(str(exc))}",
            "SlackError",
        )


def _slack_data(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, SlackApiError) and isinstance(exc.response.data, dict):
        return exc.response.data
    return {}


def _slack_error(exc: Exception) -> str | None:
    error = _slack_data(exc).get("error")
    return str(error) if error else None


def _reason(exc: BaseException) -> str:
    """``ConnectionRefusedError: [Errno 111] Connection refused``, for any depth of wrapping."""
    inner: BaseException = exc
    while isinstance(inner, urllib.error.URLError) and isinstance(inner.reason, BaseException):
        inner = inner.reason
    return clip(f"{type(inner).__name__}: {inner}", 200)
