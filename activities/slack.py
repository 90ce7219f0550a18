"""Slack activity: post a message once per idempotency key.

Every post carries ``metadata = {"event_type": "dealcycle_post", "event_payload":
{"idempotency_key": key}}``. When the ledger shows an earlier attempt that started but never
finished (it may have posted and then died), the activity looks for that key in the
conversation before posting, so a crash between posting and recording cannot double-post.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.http_retry import RateLimitErrorRetryHandler, default_retry_handlers
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import clip, non_retryable, retryable
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.settings import SlackSettings
from schemas.effects import SlackPost, SlackPostResult

log = structlog.get_logger(__name__)

POST_KIND = "slack_post"
METADATA_EVENT_TYPE = "dealcycle_post"

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
    }
)
_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
# Anything else Slack answers (internal_error, fatal_error, service_unavailable,
# request_timeout, unknown codes) is treated as transient: Temporal's retry policy bounds it.

_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CONVERSATION_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


def build_slack_client(settings: SlackSettings, *, timeout: int = 30) -> WebClient:
    """A WebClient that waits out 429s (``Retry-After``) up to ``max_rate_limit_retries``
    times and retries connection errors once, as slack-sdk does by default."""
    handlers = [
        *default_retry_handlers(),
        RateLimitErrorRetryHandler(max_retry_count=settings.max_rate_limit_retries),
    ]
    base_url = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    return WebClient(
        token=settings.bot_token, base_url=base_url, timeout=timeout, retry_handlers=handlers
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
    ) -> None:
        """``lookup_margin``: how far before the ledger's ``started_at`` the search for an
        earlier post begins (clock skew between this host and Slack)."""
        self._client = client
        self._ledger = ledger
        self._lookup_margin = lookup_margin
        self._lookup_max_pages = lookup_max_pages
        # Channel name -> id, learnt from post answers; saves a conversations.list on recovery.
        self._channel_ids: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: SlackSettings, ledger: IdempotencyLedger) -> SlackActivities:
        return cls(build_slack_client(settings), ledger)

    @activity.defn
    async def post_slack_message(self, post: SlackPost) -> SlackPostResult:
        key = post.idempotency_key
        try:
            entry, resumed = await asyncio.to_thread(self._ledger.start, key, POST_KIND)
        except ValueError as exc:  # the key was used for another kind of write
            raise non_retryable(str(exc), "IdempotencyKeyConflict") from None
        if entry.done and entry.result is not None:
            activity.logger.info("Slack post %s already done; returning its result", key)
            return SlackPostResult(**entry.result)
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

    # blocking parts (run in a thread) ------------------------------------------------------

    def _post(self, post: SlackPost) -> SlackPostResult:
        try:
            response = self._client.chat_postMessage(
                channel=post.channel,
                text=post.text,
                thread_ts=post.thread_ts,
                metadata={
                    "event_type": METADATA_EVENT_TYPE,
                    "event_payload": {"idempotency_key": post.idempotency_key},
                },
            )
        except Exception as exc:
            raise self._classify(exc, post, "post to") from exc
        channel_id = str(response["channel"])
        if not _CONVERSATION_ID.fullmatch(post.channel.strip()):
            self._channel_ids[post.channel.strip()] = channel_id
        return SlackPostResult(channel=channel_id, ts=str(response["ts"]))

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
            error = self._classify(exc, post, "look up earlier posts in")
            if not error.non_retryable:
                raise error from exc
            # Without read access (e.g. a missing channels:history scope) the check cannot be
            # made; posting risks a duplicate, failing would lose the message.
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

    def _classify(self, exc: Exception, post: SlackPost, action: str) -> ApplicationError:
        where = f"{action} {post.channel}"
        if isinstance(exc, SlackApiError):
            response = exc.response
            status = int(getattr(response, "status_code", 0) or 0)
            data = response.data if isinstance(response.data, dict) else {}
            error = str(data.get("error") or "unknown_error")
            if status == 429 or error == "ratelimited":
                raw = _header(response.headers, "Retry-After")
                seconds = int(raw) if raw and raw.strip().isdigit() else 1
                return retryable(
                    f"Slack rate limit while trying to {where}: retry after {seconds}s",
                    "SlackRateLimited",
                    next_retry_delay=timedelta(seconds=seconds),
                )
            if status >= 500:
                return retryable(
                    f"Slack failed with HTTP {status} while trying to {where}",
                    "SlackUnavailable",
                )
            if error in NON_RETRYABLE_ERRORS:
                needed = f" (needed scope: {data['needed']})" if data.get("needed") else ""
                return non_retryable(
                    f"Slack refused to {where}: {error}{needed}",
                    "SlackAuthFailed" if error in _AUTH_ERRORS else "SlackPostRejected",
                )
            return retryable(f"Slack answered {error} while trying to {where}", "SlackApiError")
        if isinstance(exc, SlackRequestError):
            return non_retryable(
                f"invalid Slack request to {where}: {clip(str(exc))}", "SlackRequestInvalid"
            )
        if isinstance(exc, urllib.error.URLError | OSError | SlackClientError):
            return retryable(
                f"cannot reach Slack to {where}: {type(exc).__name__}", "SlackUnavailable"
            )
        return retryable(
            f"unexpected error while trying to {where}: {type(exc).__name__}", "SlackError"
        )
