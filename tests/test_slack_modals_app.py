"""The Slack app's modals, ``/dealcycle`` and App Home end to end: signed requests in Slack's
wire format over HTTP to the served app (the same verification as in production), the Slack
fake answering ``views.open``/``views.publish``, and a worker on the time-skipping server.

A modal is opened by a click on its button (the fake issues the trigger id and keeps the open
view); its submission is the open view as Slack sends it back, with the answers in
``view.state.values``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp.test_utils import TestServer
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from dealcycle.fakes import SlackFake
from dealcycle.settings import Settings
from schemas.common import Role
from schemas.health import HealthView
from starter.slack.app import EVENTS_PATH, build_app, http_application
from starter.slack.deps import SlackAppDeps
from starter.slack.verification import RequestGuard
from tests.support.accounts import AE, CE, start_account
from tests.support.patience import settle
from tests.support.slack_app import interaction_body, sign
from tests.test_red_account_workflow import case_handle, case_state
from workflows.account import AccountWorkflow

STRANGER = "U0STRANGER1"
ACCOUNT_ID = "001SLKMODAL"
WORKFLOW_ID = f"account-{ACCOUNT_ID}"
Handle = WorkflowHandle[Any, Any]


@dataclass
class SlackSide:
    """Slack's side of the wire: posts signed requests to the served app."""

    url: str
    secret: str
    session: aiohttp.ClientSession

    async def post(self, body: str, content_type: str) -> tuple[int, Any]:
        headers = {"Content-Type": content_type, **sign(body, int(time.time()), self.secret)}
        async with self.session.post(self.url, data=body.encode(), headers=headers) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text.strip() else None)

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, Any]:
        return await self.post(interaction_body(payload), "application/x-www-form-urlencoded")

    async def command(self, user: str, text: str, trigger_id: str = "") -> tuple[int, Any]:
        form = {
            "token": "legacy-verification-token",
            "team_id": "T0DEALCYC",
            "team_domain": "dealcycle",
            "channel_id": "C0DEALCYC1",
            "channel_name": "dealcycle",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/dealcycle",
            "text": text,
            "api_app_id": "A0DEALCYC",
            "response_url": "https://hooks.slack.invalid/commands/T0/1/x",
            "trigger_id": trigger_id or "1.2.unused",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def event(self, event: dict[str, Any]) -> tuple[int, Any]:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": "T0DEALCYC",
            "api_app_id": "A0DEALCYC",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
        }
        return await self.post(json.dumps(envelope), "application/json")


@asynccontextmanager
async def slack_app(client: Client, settings: Settings) -> AsyncIterator[SlackSide]:
    deps = SlackAppDeps(client=client, settings=settings)
    web_app = http_application(build_app(deps), RequestGuard(settings.slack.signing_secret))
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield SlackSide(
                str(server.make_url(EVENTS_PATH)), settings.slack.signing_secret, session
            )
    finally:
        await server.close()


def click(user: str, trigger_id: str, action_id: str, value: dict[str, str]) -> dict[str, Any]:
    """A ``block_actions`` payload for a button in an ephemeral command answer."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0DEALCYC"},
        "api_app_id": "A0DEALCYC",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C0DEALCYC1"},
        "trigger_id": trigger_id,
        "team": {"id": "T0DEALCYC", "domain": "dealcycle"},
        "channel": {"id": "C0DEALCYC1", "name": "dealcycle"},
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "health",
                "text": {"type": "plain_text", "text": "Set health"},
                "value": json.dumps(value),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def submission(user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A ``view_submission`` payload: the open view as Slack keeps it, with the answers."""
    submitted = {**view, "state": {"values": values}}
    return {
        "type": "view_submission",
        "team": {"id": "T0DEALCYC", "domain": "dealcycle"},
        "user": {
            "id": user,
            "username": user.lower(),
            "name": user.lower(),
            "team_id": "T0DEALCYC",
        },
        "api_app_id": "A0DEALCYC",
        "token": "legacy-verification-token",
        "trigger_id": f"{time.time_ns()}.1.submit",
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
    }


def health_answers(colour: str, reason: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": colour, "emoji": True}, "value": colour}
    return {
        "colour": {"value": {"type": "static_select", "selected_option": option}},
        "reason": {"value": {"type": "plain_text_input", "value": reason}},
    }


async def open_health_modal(slack: SlackSide, fake: SlackFake, user: str) -> dict[str, Any]:
    """Click "Set health" as ``user``; the modal the app opened in the fake."""
    trigger = fake.issue_trigger(user)
    value = {"workflow_id": WORKFLOW_ID, "step": "", "kind": "account"}
    status, _ = await slack.interaction(click(user, trigger, "dealcycle_open_modal_health", value))
    assert status == 200
    stack = fake.views.stack(user)
    assert stack, "the app opened no modal"
    return stack[-1].payload()


async def accepted_updates(handle: Handle) -> list[tuple[str, str, dict[str, Any]]]:
    """(update id, update name, input) of every update in the history."""
    history = await handle.fetch_history()
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        found.append(
            (
                request.meta.update_id,
                request.input.name,
                json.loads(request.input.args.payloads[0].data),
            )
        )
    return found


@asynccontextmanager
async def account_and_app(
    harness_factory: Any, salesforce_fake: Any
) -> AsyncIterator[tuple[Any, Handle, SlackSide]]:
    """A worker, the account (``AE`` and ``CE`` of record, settled in kickoff) and the app."""
    async with harness_factory() as harness:
        account: Handle = harness.track(
            await start_account(
                harness.client,
                harness.env,
                harness.task_queue,
                harness.settings,
                salesforce_fake,
                ACCOUNT_ID,
                timedelta(days=300),
            )
        )
        async with slack_app(harness.client, harness.settings) as slack:
            yield harness, account, slack


async def health_of(handle: Handle) -> HealthView:
    view: HealthView = await handle.query(AccountWorkflow.health)
    return view


async def test_a_health_modal_submitted_sets_the_health_by_the_submitter(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with account_and_app(harness_factory, salesforce_fake) as (_harness, handle, slack):
        view = await open_health_modal(slack, slack_fake, CE)
        assert view["callback_id"] == "dealcycle_modal_health"

        status, answer = await slack.interaction(
            submission(CE, view, health_answers("yellow", "the champion left"))
        )

        assert status == 200
        assert answer["response_action"] == "update", answer
        assert "✅" in answer["view"]["blocks"][0]["text"]["text"]
        health = await health_of(handle)
        assert health.colour == "yellow"
        assert health.history[-1].by == CE
        assert health.history[-1].reason == "the champion left"
        ((update_id, name, request),) = await accepted_updates(handle)
        assert name == "set_health"
        assert request["actor"] == CE and request["role"] == "CE"
        assert update_id.startswith(f"slack-view-{view['id']}-")


async def test_a_bad_submission_returns_field_errors_and_changes_nothing(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with account_and_app(harness_factory, salesforce_fake) as (_harness, handle, slack):
        before = await health_of(handle)
        view = await open_health_modal(slack, slack_fake, CE)
        # The workflow's validator: a health change needs a reason.
        _, no_reason = await slack.interaction(submission(CE, view, health_answers("red", "   ")))
        # The field's bound (schemas/limits.py), checked before anything is sent.
        _, too_long = await slack.interaction(
            submission(CE, view, health_answers("red", "x" * 2_001))
        )
        # Someone who is neither the AE nor the CE: the workflow names who may act.
        stranger_view = await open_health_modal(slack, slack_fake, STRANGER)
        _, stranger = await slack.interaction(
            submission(STRANGER, stranger_view, health_answers("red", "looks bad"))
        )

        assert no_reason["response_action"] == "errors"
        assert list(no_reason["errors"]) == ["reason"]
        assert "needs a reason" in no_reason["errors"]["reason"]
        assert too_long == {
            "response_action": "errors",
            "errors": {"reason": "reason: at most 2000 characters (got 2001)"},
        }
        assert stranger["response_action"] == "errors"
        assert f"{STRANGER} is not the account's CE ({CE} is)" in stranger["errors"]["colour"]
        after = await health_of(handle)
        assert (after.colour, len(after.history)) == (before.colour, len(before.history))
        assert await accepted_updates(handle) == []


async def test_dealcycle_account_and_health_answer_with_their_forms(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with account_and_app(harness_factory, salesforce_fake) as (_harness, _account, slack):
        status, account = await slack.command(AE, f"account {ACCOUNT_ID}")
        _, health = await slack.command(AE, f"health {WORKFLOW_ID}")
        _, unknown = await slack.command(AE, "account 001NOSUCH")
        trigger = slack_fake.issue_trigger(AE)
        _, opened = await slack.command(AE, f"feature {ACCOUNT_ID}", trigger)

        assert status == 200
        assert account["response_type"] == "ephemeral"
        text = account["blocks"][0]["text"]["text"]
        assert f"{WORKFLOW_ID}  AccountWorkflow  RUNNING" in text
        assert f"AE / CE      {AE} / {CE}" in text
        assert "dealcycle_open_modal_kickoff" in json.dumps(account["blocks"][1])
        assert "Health       Green" in health["blocks"][0]["text"]["text"]
        (set_health,) = health["blocks"][1]["elements"]
        assert set_health["action_id"] == "dealcycle_open_modal_health"
        assert json.loads(set_health["value"])["workflow_id"] == WORKFLOW_ID
        assert "there is no workflow 'account-001NOSUCH'" in unknown["blocks"][0]["text"]["text"]
        assert opened is None  # the form opened instead of an answer
        (modal,) = slack_fake.views.stack(AE)
        assert modal.view["callback_id"] == "dealcycle_modal_feature_request"
        assert json.loads(modal.view["private_metadata"])["workflow_id"] == WORKFLOW_ID


async def test_a_feature_request_form_is_recorded_as_the_ae_it_came_from(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with account_and_app(harness_factory, salesforce_fake) as (_harness, handle, slack):
        await slack.command(AE, f"feature {ACCOUNT_ID}", slack_fake.issue_trigger(AE))
        (modal,) = slack_fake.views.stack(AE)
        answers = {
            "title": {"value": {"type": "plain_text_input", "value": "SAML groups"}},
            "detail": {"value": {"type": "plain_text_input", "value": None}},
        }
        _, answer = await slack.interaction(submission(AE, modal.payload(), answers))

        assert answer["response_action"] == "update", answer
        state = await handle.query(AccountWorkflow.state)
        assert state.feature_requests == 1
        ((_, name, request),) = await accepted_updates(handle)
        assert (name, request["actor"], request["role"]) == ("record_feature_request", AE, "AE")


async def test_a_red_health_form_opens_a_case_whose_action_plan_form_records_the_ae_part(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with account_and_app(harness_factory, salesforce_fake) as (harness, account, slack):
        view = await open_health_modal(slack, slack_fake, AE)
        _, red = await slack.interaction(
            submission(AE, view, health_answers("red", "the champion left"))
        )
        assert red["response_action"] == "update", red
        case = harness.track(await case_handle(harness, account, 1))
        await settle(case)

        _, opened = await slack.command(
            AE, f"action-plan {ACCOUNT_ID}", slack_fake.issue_trigger(AE)
        )
        assert opened is None
        plan_view = slack_fake.views.stack(AE)[-1].payload()
        assert json.loads(plan_view["private_metadata"])["workflow_id"] == case.id
        text = {"type": "plain_text_input"}
        answers = {
            "current_status": {"value": {**text, "value": "champion gone"}},
            "needs": {"value": {**text, "value": "an exec sponsor"}},
            "intended_actions": {"value": {**text, "value": ""}},
        }
        _, missing = await slack.interaction(submission(AE, plan_view, answers))
        answers["intended_actions"] = {"value": {**text, "value": "meet the new VP"}}
        _, recorded = await slack.interaction(submission(AE, plan_view, answers))

        assert missing["response_action"] == "errors"
        assert list(missing["errors"]) == ["intended_actions"]
        assert recorded["response_action"] == "update", recorded
        (entry,) = (await case_state(case)).action_plan
        assert (entry.role, entry.actor, entry.intended_actions) == (
            Role.AE,
            AE,
            "meet the new VP",
        )
