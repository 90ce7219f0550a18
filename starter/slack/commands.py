"""``/dealcycle``: ``todo``, ``account ACCOUNT``, ``health ACCOUNT``, and the forms
(``/dealcycle set-health ACCOUNT`` opens the modal with the command's ``trigger_id``).

Slack wants the command acknowledged within three seconds: an answer ready within
``ACK_WITHIN`` goes in the acknowledgement itself (ephemeral), a slower one follows through
the command's ``response_url``. The person is the verified ``user_id`` of the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client
from temporalio.service import RPCError

from schemas.errors import RuleViolation
from schemas.start_summaries import clip
from starter.accounts import render_account_status, workflow_id_for
from starter.errors import CommandError, describe
from starter.health import _health_view
from starter.slack.answers import (
    USAGE,
    account_answer,
    answer_text,
    button_value,
    health_answer,
    mrkdwn,
    problem_blocks,
    todo_blocks,
)
from starter.slack.deps import SlackAppDeps
from starter.slack.modal_forms import ModalName, ModalSpec
from starter.slack.modal_specs import MODALS
from starter.slack.modals import closed_step, open_modal
from starter.tables import render_health
from starter.todo import todo_for
from starter.workflow_ids import check_workflow_id
from workflows.account_calendar import parse_quarter
from workflows.account_onboarding_rules import KICKOFF_PLAN_STEP
from workflows.mrkdwn import escape

COMMAND = "/dealcycle"
ACK_WITHIN = 2.0
"""Seconds to wait for the answer before acknowledging without it (Slack allows three)."""
FORMS: dict[str, ModalName] = {
    "kickoff": ModalName.KICKOFF,
    "assessment": ModalName.ASSESSMENT,
    "plan": ModalName.ACCOUNT_PLAN,
    "feature": ModalName.FEATURE_REQUEST,
    "set-health": ModalName.HEALTH,
    "action-plan": ModalName.ACTION_PLAN,
}
Blocks = list[dict[str, Any]]


def _account_argument(words: list[str], usage: str) -> str:
    if len(words) < 2:
        raise CommandError(f"which account? `{COMMAND} {usage}`")
    return check_workflow_id(words[1], "the account", "001ACME or account-001ACME")


def _quarter(word: str) -> str:
    try:
        parse_quarter(word)
    except RuleViolation:
        raise CommandError(
            f"quarter {clip(word, 40)!r} is not like 2027-Q2: `{COMMAND} plan ACCOUNT 2027-Q2`"
        ) from None
    return word


async def todo_answer(deps: SlackAppDeps, user: str) -> Blocks:
    return todo_blocks(await todo_for(deps.client, user, deps.now()))


async def form_context(client: Client, name: ModalName, account: str) -> dict[str, str]:
    """The workflow a form acts on: the account's, or its open red-account case's."""
    if name is ModalName.ACTION_PLAN:
        view, _ = await _health_view(client, account)
        if not view.open_case:
            raise CommandError(f"{account} has no open red-account case")
        return button_value(view.open_case, "red_account", "action_plan") | {
            "subject": view.account_name
        }
    # A missing or closed account is refused before the form opens (``closed_step``).
    return button_value(workflow_id_for(account), "account")


async def answer(deps: SlackAppDeps, slack: AsyncWebClient, command: Mapping[str, Any]) -> Blocks:
    """The blocks to answer with; none when a modal opened instead."""
    words = str(command.get("text") or "").split()
    subcommand = words[0].lower() if words else ""
    settings = deps.settings
    if subcommand == "todo":
        return await todo_answer(deps, str(command.get("user_id", "")))
    if subcommand == "account":
        account = _account_argument(words, "account ACCOUNT")
        text = await render_account_status(
            deps.client, account, settings.temporal_ui_url, settings.temporal_namespace
        )
        return account_answer(text, workflow_id_for(account))
    if subcommand == "health":
        account = _account_argument(words, "health ACCOUNT")
        view, status = await _health_view(deps.client, account)
        return health_answer(view, render_health(view, status), workflow_id_for(account))
    if subcommand in FORMS:
        account = _account_argument(words, f"{subcommand} ACCOUNT")
        spec: ModalSpec = MODALS[FORMS[subcommand]]
        context = await form_context(deps.client, spec.name, account)
        if spec.name is ModalName.ACCOUNT_PLAN and len(words) > 2:
            context["step"] = f"account-plan-{_quarter(words[2])}"
        if spec.name is ModalName.KICKOFF:
            context["step"] = KICKOFF_PLAN_STEP
        # As from a prompt's button: a step already done is said so, not a form to refuse.
        refusal = await closed_step(deps, context)
        if refusal is not None:
            raise CommandError(refusal)
        await open_modal(slack, str(command.get("trigger_id", "")), spec, context)
        return []
    if subcommand:
        return [
            mrkdwn(f"`{escape(clip(subcommand, 40))}` is not a `{COMMAND}` command."),
            mrkdwn(USAGE),
        ]
    return [mrkdwn(USAGE)]


async def safe_answer(
    deps: SlackAppDeps, slack: AsyncWebClient, command: Mapping[str, Any]
) -> Blocks:
    """A failure is the person's answer, one line, as the CLI would print it."""
    try:
        return await answer(deps, slack, command)
    except (CommandError, RPCError) as err:
        return problem_blocks(describe(err))
    except Exception as err:
        deps.log.exception("slack.command.failed", text=command.get("text"))
        return problem_blocks(describe(err))


def register(app: AsyncApp, deps: SlackAppDeps) -> None:
    @app.command(COMMAND)
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        work = asyncio.ensure_future(safe_answer(deps, client, command))
        done, _ = await asyncio.wait({work}, timeout=ACK_WITHIN)
        if work in done:
            blocks = work.result()
            if blocks:
                await ack(response_type="ephemeral", text=answer_text(blocks), blocks=blocks)
            else:
                await ack()
            return
        await ack(response_type="ephemeral", text="Working on it…")
        blocks = await work
        if blocks:
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text=answer_text(blocks),
                blocks=blocks,
            )
