"""The App Home tab and ``/dealcycle todo`` end to end: the Slack fake delivers
``app_home_opened`` and the command to the app over HTTP, the app reads the person's to-do list
(one visibility query on ``StepOwners``, so a Temporal dev server, on the real clock) and
publishes it; a step that needs answers opens its form from the Home tab."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_views import OpenView
from tests.support.dev_temporal import dev_client, dev_harness_factory
from tests.support.slack_app import eventually, fake_control
from tests.test_slack_app_fake_delivery import app_in
from tests.test_todo import listed, people, start_account, start_trial
from workflows.account import AccountWorkflow

__all__ = ["dev_client", "dev_harness_factory"]  # the dev-server fixtures, shared


async def published_home(fake: SlackFake, user: str) -> OpenView:
    async def published() -> OpenView | None:
        return fake.views.home(user)

    return await eventually(published)


async def test_the_home_tab_lists_my_steps_and_opens_the_form_a_step_needs(
    dev_harness_factory: Any, slack_fake: SlackFake
) -> None:
    ce, ae = people()
    tag = ce[-8:]
    async with dev_harness_factory() as h:
        trial = await start_trial(h, f"006H{tag}", ce, ae)
        account = await start_account(h, f"001H{tag}", ce, ae)
        await listed(h.client, ce, {trial.id, account.id}, datetime.now(UTC))
        async with app_in("http", h, slack_fake):
            await fake_control(slack_fake.url, "home", {"user": ce})
            home = await published_home(slack_fake, ce)
            buttons = [
                (json.loads(block["accessory"]["value"]), block["accessory"]["action_id"])
                for block in home.view["blocks"]
                if "accessory" in block
            ]
            await fake_control(
                slack_fake.url,
                "click",
                {"user": ce, "view_id": home.id, "action_id": "dealcycle_open_modal_kickoff"},
            )

            async def kickoff_form() -> OpenView | None:
                stack = slack_fake.views.stack(ce)
                return stack[-1] if stack else None

            form = await eventually(kickoff_form)
            submitted = await fake_control(
                slack_fake.url,
                "submit",
                {"user": ce, "view_id": form.id, "values": {"cadence": {"value": "weekly"}}},
            )
            await fake_control(
                slack_fake.url, "command", {"user": ce, "command": "/dealcycle", "text": "todo"}
            )
            state = await account.query(AccountWorkflow.state)

    kinds = {(value["workflow_id"], value["kind"], action) for value, action in buttons}
    assert (trial.id, "trial", "dealcycle_done") in kinds
    kickoff = {"workflow_id": account.id, "step": "kickoff-plan", "kind": "account"}
    assert (kickoff, "dealcycle_open_modal_kickoff") in buttons
    assert form.view["callback_id"] == "dealcycle_modal_kickoff"
    assert submitted["body"]["response_action"] == "update", submitted
    assert state.cadence == "weekly"
    (todo,) = slack_fake.ephemerals_for(ce)
    assert todo.text.startswith("*Your to-do list*: ")
    assert todo.blocks is not None and len(todo.blocks) > 1


async def test_a_done_click_on_the_home_tab_refreshes_it_and_a_stale_one_says_why(
    dev_harness_factory: Any, slack_fake: SlackFake
) -> None:
    """The Home tab has no channel for an ephemeral answer: the tab is published again, the
    answer above the list."""
    ce, ae = people()
    tag = ce[-8:]
    async with dev_harness_factory() as h:
        trial = await start_trial(h, f"006D{tag}", ce, ae)
        await listed(h.client, ce, {trial.id}, datetime.now(UTC))
        async with app_in("http", h, slack_fake):
            await fake_control(slack_fake.url, "home", {"user": ce})
            home = await published_home(slack_fake, ce)
            block = next(
                block
                for block in home.view["blocks"]
                if block.get("accessory", {}).get("action_id") == "dealcycle_done"
            )
            click = {
                "user": ce,
                "view_id": home.id,
                "action_id": "dealcycle_done",
                "block_id": block["block_id"],
                "value": block["accessory"]["value"],
            }
            step = json.loads(block["accessory"]["value"])["step"]

            await fake_control(slack_fake.url, "click", click)

            async def without_the_step() -> OpenView | None:
                shown = slack_fake.views.home(ce)
                steps = {
                    json.loads(shown_block["accessory"]["value"]).get("step")
                    for shown_block in (shown.view["blocks"] if shown else [])
                    if "value" in shown_block.get("accessory", {})
                }
                return shown if shown is not None and step not in steps else None

            await eventually(without_the_step)
            await fake_control(slack_fake.url, "click", click)  # the button as it was

            async def with_a_notice() -> str | None:
                shown = slack_fake.views.home(ce)
                first = shown.view["blocks"][0].get("text", {}).get("text", "") if shown else ""
                return first if "already done" in first else None

            notice = await eventually(with_a_notice)
    assert f"is already done by <@{ce}>" in notice and notice.endswith("nothing changed")
