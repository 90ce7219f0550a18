"""Red-account threads: a reply in the thread of a case's ``#red-accounts`` post is recorded
on the case as an ask (who, when, text, permalink) through ``RedAccountWorkflow.record_ask``.

The case is found from the thread's ts in the Account Tracker (``red_account_cases.slack_ts``,
written when the case posted): one look-up in a table of a few rows per red account. Replies
by bots and by the app itself are ignored, and so is any message not in a case's thread; a
reply in a closed case's thread is not recorded, and its author is told so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from dealcycle.db.engine import make_engine
from dealcycle.db.models import RedAccountCase
from schemas.common import Role
from schemas.health import RED_ACCOUNT_WORKFLOW_TYPE, RecordAsk, RedAccountState
from starter.errors import CommandError, describe
from starter.provenance import from_slack
from starter.queries import query_workflow
from starter.slack.deps import SlackAppDeps
from starter.trials import running_workflow
from workflows.mrkdwn import escape
from workflows.red_account import RedAccountWorkflow

_OPEN = "open"
PERSONS_SUBTYPES = (None, "thread_broadcast", "file_share")
"""A person's reply: a plain one, one also sent to the channel, one carrying a file."""


NOT_LOOKED_UP = (
    "not recorded as an ask: dealcycle could not look up this thread's case (its database is not"
    " answering); send it again later"
)


def register(app: AsyncApp, deps: SlackAppDeps) -> None:
    engine = make_engine(deps.settings.database_url)

    async def on_message(event: dict[str, Any], client: AsyncWebClient, context: Any) -> None:
        bot_user_id = context.get("bot_user_id")
        reply = ThreadReply.of(event, bot_user_id)
        if reply is None:
            return
        try:
            case = await asyncio.to_thread(case_of_thread, engine, reply.thread_ts)
        except SQLAlchemyError as err:
            # Slack has its acknowledgement: the reply is not delivered again. Its author is
            # told, if the thread is one of the app's posts (a case's, maybe).
            deps.log.warning(
                "red-account thread not looked up", error=type(err).__name__, ts=reply.ts
            )
            if bot_user_id and event.get("parent_user_id") == bot_user_id:
                await _tell(deps, client, reply, NOT_LOOKED_UP)
            return
        if case is None:
            return
        answer = case.closed_answer() or await record(deps, client, case.case_id, reply)
        if answer is not None:
            await _tell(deps, client, reply, answer)

    app.event("message")(on_message)


class ThreadReply:
    """A person's reply in a thread; ``of`` is ``None`` for anything else."""

    def __init__(self, user: str, channel: str, ts: str, thread_ts: str, text: str) -> None:
        self.user, self.channel, self.ts, self.thread_ts, self.text = (
            user,
            channel,
            ts,
            thread_ts,
            text,
        )

    @classmethod
    def of(cls, event: dict[str, Any], bot_user_id: str | None) -> ThreadReply | None:
        if event.get("bot_id") or event.get("subtype") not in PERSONS_SUBTYPES:
            # bot_message, message_changed, message_deleted, channel_join...: not a person's ask
            return None
        user, thread_ts, ts = event.get("user"), event.get("thread_ts"), event.get("ts")
        if not user or user == bot_user_id or not thread_ts or not ts or thread_ts == ts:
            return None
        text = str(event.get("text") or "").strip()
        if not text:
            return None
        return cls(str(user), str(event.get("channel") or ""), str(ts), str(thread_ts), text)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(float(self.ts), UTC)


@dataclass(frozen=True)
class ThreadCase:
    """The case whose post started a thread, as the Account Tracker lists it."""

    case_id: str
    status: str
    resolved_colour: str | None

    def closed_answer(self) -> str | None:
        """What to tell the author of a reply in a closed case's thread; ``None`` while the
        case is open. A case resolves when its account is yellow or green again; one closed
        while still red closed because the customer churned."""
        if self.status == _OPEN:
            return None
        how = (
            f"resolved, {self.resolved_colour}"
            if self.resolved_colour in ("yellow", "green")
            else "the customer churned"
        )
        return f"not recorded as an ask: case {self.case_id} is closed ({how})"


def case_of_thread(engine: Engine, thread_ts: str) -> ThreadCase | None:
    """The case whose post started the thread ``thread_ts``; ``None`` for any other thread
    (a trial's, say)."""
    with Session(engine) as session:
        rows = session.execute(
            select(
                RedAccountCase.case_id, RedAccountCase.status, RedAccountCase.resolved_colour
            ).where(RedAccountCase.slack_ts == thread_ts)
        ).all()
    if len(rows) != 1:
        return None
    ((case_id, status, colour),) = rows
    return ThreadCase(case_id, status, colour)


async def record(
    deps: SlackAppDeps, client: AsyncWebClient, case_id: str, reply: ThreadReply
) -> str | None:
    """Record the reply as an ask; what to tell its author when it is not recorded."""
    try:
        handle = await running_workflow(deps.client, case_id, (RED_ACCOUNT_WORKFLOW_TYPE,))
        state: RedAccountState = await query_workflow(deps.client, handle, RedAccountWorkflow.state)
    except (CommandError, RPCError) as err:
        # The case has ended, or is not answering: its author is told the ask is not there.
        deps.log.warning("red-account thread reply not recorded", case_id=case_id, error=str(err))
        return f"not recorded as an ask: {escape(describe(err))}"
    roles = {state.ce_owner: Role.CE, state.ae_owner: Role.AE}
    role = roles.get(reply.user)
    if role is None:
        return (
            f"not recorded as an ask: only <@{state.ae_owner}> (AE) or <@{state.ce_owner}> (CE)"
            f" of {escape(state.account_name)} record asks on this case"
        )
    request = from_slack(
        RecordAsk(
            reply.user, role, reply.text, at=reply.at, permalink=await _permalink(client, reply)
        )
    )
    try:
        answer = await handle.execute_update(
            RedAccountWorkflow.record_ask,
            request,
            # Slack repeats an event it saw no answer to: the message's ts names it.
            id=f"slack-ask-{reply.channel}-{reply.ts}",
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
        return f"not recorded as an ask: {escape(reason)}"
    except RPCError as err:
        return f"not recorded as an ask: {escape(describe(err))}"
    deps.log.info("ask recorded from thread", case_id=case_id, user=reply.user, answer=answer)
    return None


async def _permalink(client: AsyncWebClient, reply: ThreadReply) -> str:
    try:
        found = await client.chat_getPermalink(channel=reply.channel, message_ts=reply.ts)
    except SlackApiError:
        return ""
    return str(found.get("permalink") or "")


RATE_LIMIT_PATIENCE = 60
"""Seconds of Slack's ``Retry-After`` an answer to a reply waits out, once."""


async def _tell(deps: SlackAppDeps, client: AsyncWebClient, reply: ThreadReply, text: str) -> None:
    for attempt in range(2):
        try:
            await client.chat_postEphemeral(
                channel=reply.channel, user=reply.user, text=text, thread_ts=reply.thread_ts
            )
            return
        except SlackApiError as err:
            # The app's client does not wait out a long Retry-After (a click answers through
            # its response_url instead); a reply's author has no other way to be told.
            wait = _retry_after(err)
            if attempt == 0 and wait is not None and wait <= RATE_LIMIT_PATIENCE:
                await asyncio.sleep(wait)
                continue
            deps.log.warning(
                "ephemeral answer not delivered", user=reply.user, error=err.response.get("error")
            )
            return


def _retry_after(err: SlackApiError) -> float | None:
    """Seconds a 429 asks to wait; ``None`` for any other refusal."""
    if err.response.status_code != 429:
        return None
    try:
        return float(err.response.headers.get("Retry-After", 1))
    except (TypeError, ValueError):
        return 1.0
