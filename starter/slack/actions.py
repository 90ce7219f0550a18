"""The buttons of prompts and reminders: **Done**, **Snooze 1 day** and **Open**.

The clicker is the verified ``user.id`` of the interaction. Someone who is not the step's owner
is told, in an ephemeral message, who may act; a step already done is answered "already done
by …" without sending anything; otherwise the step's Update goes to the workflow with the
interaction's id as the Update id, so a delivery Slack repeats is applied once. The message
itself is updated ("✅ done by …") by the workflow, as an owed effect: not here.
"""

from __future__ import annotations

import importlib
from typing import Any

import aiohttp
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from starter.errors import CommandError, describe
from starter.provenance import from_slack
from starter.slack.deps import SlackAppDeps
from starter.slack.home import publish_home
from starter.slack.steps import ButtonTarget, NotActionable, complete, read_step, workflow_class
from starter.trials import running_workflow

DONE = "dealcycle_done"
SNOOZE = "dealcycle_snooze"
OPEN = "dealcycle_open"


def register(app: AsyncApp, deps: SlackAppDeps) -> None:
    async def on_done(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = Click.of(body)
        await click.answer(client, deps, await _done(deps, click))

    async def on_snooze(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click = Click.of(body)
        await click.answer(client, deps, await _snooze(deps, click))

    async def on_open(ack: AsyncAck) -> None:
        # A url button: Slack opens the link; the click is only acknowledged.
        await ack()

    app.action(DONE)(on_done)
    app.action(SNOOZE)(on_snooze)
    app.action(OPEN)(on_open)


class Click:
    """A ``block_actions`` payload's first action, and where to answer it."""

    def __init__(self, body: dict[str, Any]) -> None:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        self.user: str = (body.get("user") or {}).get("id", "")
        self.channel: str = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        self.message_ts: str = container.get("message_ts") or (body.get("message") or {}).get(
            "ts", ""
        )
        thread_ts = (body.get("message") or {}).get("thread_ts")
        # A message with replies carries its own ts as thread_ts: the answer to a click on it
        # belongs beside it, not in its thread; only a reply's click is answered in the thread.
        self.thread_ts: str | None = thread_ts if thread_ts != self.message_ts else None
        self.value: str = action.get("value") or ""
        self.action_ts: str = action.get("action_ts") or ""
        self.trigger_id: str = body.get("trigger_id") or ""
        self.response_url: str = body.get("response_url") or ""
        self.on_home: bool = (body.get("view") or {}).get("type") == "home"
        self.on_ephemeral: bool = bool(container.get("is_ephemeral"))
        """A button of an ephemeral message (the ``/dealcycle todo`` list): no workflow edits
        it once the step is done, so the clicker is told."""

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        return cls(body)

    @property
    def update_id(self) -> str:
        """The same for every delivery of this click (Slack repeats the payload), different
        for any other click: the message, the clicker and the moment of the click."""
        return f"slack-click-{self.channel}-{self.message_ts}-{self.user}-{self.action_ts}"

    async def answer(self, client: AsyncWebClient, deps: SlackAppDeps, text: str | None) -> None:
        """Tell the clicker alone; ``None``: the click changed the step, which its message
        shows once the workflow updates it (a click on an ephemeral message is told instead).
        A click on the App Home has no channel: the tab is published again, the answer above
        the list, which now shows what the click did."""
        if self.on_home and self.user:
            await publish_home(client, deps, self.user, text)
            return
        if text is None or not self.channel or not self.user:
            return
        try:
            await client.chat_postEphemeral(
                channel=self.channel, user=self.user, text=text, thread_ts=self.thread_ts
            )
            return
        except SlackApiError as err:
            error = err.response.get("error")
        # chat.postEphemeral needs the bot in the conversation (not so in a DM between two
        # people, or a channel it left); the click's response_url answers wherever it was.
        if await self._respond(text):
            return
        deps.log.warning(
            "ephemeral answer not delivered", user=self.user, channel=self.channel, error=error
        )

    async def _respond(self, text: str) -> bool:
        if not self.response_url:
            return False
        try:
            answer = await AsyncWebhookClient(self.response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
        except (aiohttp.ClientError, TimeoutError):
            return False
        return answer.status_code == 200


async def _handle(
    deps: SlackAppDeps, click: Click
) -> tuple[WorkflowHandle[Any, Any], ButtonTarget]:
    if not click.user:
        raise NotActionable("this click names no Slack user")
    target = ButtonTarget.parse(click.value)
    workflow_class(target.kind)
    # A click on an old message of a workflow that has closed, or was never there: said so,
    # not left unanswered by the update's bare "not found".
    return await running_workflow(deps.client, target.workflow_id), target


async def _done(deps: SlackAppDeps, click: Click) -> str | None:
    try:
        handle, target = await _handle(deps, click)
        step = await read_step(deps.client, handle, target)
        if step is not None and step.done:
            return step.already_done()
        if step is not None and click.user != step.owner and step.owner_alone:
            deps.log.info(
                "slack click refused: not the step's owner",
                user=click.user,
                workflow_id=target.workflow_id,
                step=target.step,
            )
            return step.who_may_act()
        message = await complete(
            handle, target, click.user, step.role if step else None, click.update_id
        )
    except (NotActionable, CommandError) as err:
        return str(err)
    except RPCError as err:
        return describe(err)
    deps.log.info(
        "step done from slack",
        user=click.user,
        workflow_id=target.workflow_id,
        step=target.step,
        update_id=click.update_id,
        answer=message,
    )
    return f"✅ {message}" if click.on_ephemeral else None


async def _snooze(deps: SlackAppDeps, click: Click) -> str | None:
    try:
        handle, target = await _handle(deps, click)
        update = getattr(workflow_class(target.kind), "snooze_step", None)
        request_type = _snooze_request_type()
        if update is None or request_type is None:
            return "snooze is not available for this step yet; the reminder keeps its time"
        step = await read_step(deps.client, handle, target)
        if step is not None and step.done:
            return step.already_done()
        # Who may snooze (the owner, or the AE or CE of record) is the workflow's to say.
        answer = await handle.execute_update(
            update,
            from_slack(request_type(step=target.step, by=click.user, days=1)),
            id=click.update_id,
        )
    except (NotActionable, CommandError) as err:
        return str(err)
    except RPCError as err:
        return describe(err)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        return cause.message if isinstance(cause, ApplicationError) else str(cause)
    return str(getattr(answer, "message", "snoozed for a day"))


def _snooze_request_type() -> Any:
    """``SnoozeStep`` where the workflows have it (the steps' snooze lands separately)."""
    try:
        module = importlib.import_module("schemas.steps")
    except ModuleNotFoundError:
        return None
    return getattr(module, "SnoozeStep", None)
