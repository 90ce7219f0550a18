"""The Done button on an account's steps (``kind`` ``account``): the step's owner completes a
training step with their id; a step completed by its own form answers with the workflow's
reason; someone else is told who may act."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk import WebClient

from schemas.account import AccountState, LifecycleStage, RecordKickoffPlan, ReportProductionReady
from schemas.common import Role
from tests.support.accounts import AE, CE, DAY, VE, settle, start_account
from tests.support.slack_app import (
    accepted_update_inputs,
    done_button_blocks,
    eventually,
    fake_control,
    served_app,
)
from tests.test_roster_rotation import NEW_VE, open_account, rotate
from tests.test_slack_app_buttons import answers_to, ephemerals_to
from workflows.account import AccountWorkflow

CHANNEL = "#customer-accounts"


async def test_done_on_account_steps(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    async with harness_factory() as harness:
        account = await start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            "001SLACKSTEPS",
            200 * DAY,
            track=harness.track,
        )

        def prompt(step: str) -> dict[str, str]:
            value = {"workflow_id": account.id, "step": step, "kind": "account"}
            posted = slack_client.chat_postMessage(
                channel=CHANNEL, text=step, blocks=done_button_blocks(value, step)
            )
            return {"channel": posted["channel"], "ts": posted["ts"], "action_id": "dealcycle_done"}

        async with served_app(harness.client, harness.settings) as app:
            await fake_control(slack_fake.url, "app", {"request_url": app.url})
            kickoff = prompt("kickoff-plan")
            await fake_control(slack_fake.url, "click", {**kickoff, "user": CE})
            await fake_control(slack_fake.url, "click", {**kickoff, "user": AE})

            async def both() -> tuple[list[str], list[str]] | None:
                ce, ae = ephemerals_to(slack_fake, CE), ephemerals_to(slack_fake, AE)
                return (ce, ae) if ce and ae else None

            [by_form], [not_theirs] = await eventually(both)

            await account.execute_update(
                AccountWorkflow.record_kickoff_plan, RecordKickoffPlan(CE, Role.CE, "monthly")
            )
            await account.execute_update(
                AccountWorkflow.report_production_ready, ReportProductionReady(CE, Role.CE)
            )
            await settle(account)
            state: AccountState = await account.query(AccountWorkflow.state)
            step = next(view for view in state.roadmap if view.owner == CE)
            await fake_control(slack_fake.url, "click", {**prompt(step.key), "user": CE})

            async def done() -> AccountState | None:
                view: AccountState = await account.query(AccountWorkflow.state)
                mine = [s for s in view.roadmap + view.open_steps if s.key == step.key]
                return view if not mine or mine[0].status == "done" else None

            await eventually(done)

        assert by_form.startswith("step 'kickoff-plan' is completed by recording the kickoff plan")
        assert not_theirs == f"only <@{CE}> (CE) of Acme 001SLACKSTEPS may mark this done"
        completions = [
            json.loads(raw) for raw in await accepted_update_inputs(account) if '"step"' in raw
        ]
        assert completions == [
            # Sent by the Slack app (the actor is Slack's verified user).
            {"step": step.key, "actor": CE, "role": "CE", "note": "done from Slack", "via": "slack"}
        ]


async def test_value_engineering_of_the_day_marks_an_exercise_done_from_slack(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    # The workflow lets Value Engineering of the day do an exercise given to their
    # predecessor (the roster rotated since); the app refused the click first ("only <@VE>
    # may mark this done"), so the exercise could be recorded from the CLI alone.
    async with harness_factory() as harness:
        account = await open_account(
            harness,
            salesforce_fake,
            "001SLACKVE",
            renewal_in=60 * DAY,
            stage=LifecycleStage.RENEWAL,
        )
        view: AccountState = await account.query(AccountWorkflow.state)
        [exercise] = [step for step in view.open_steps if step.kind == "value_realization"]
        assert exercise.owner == VE
        rotate(harness, value_engineering=NEW_VE)
        value = {"workflow_id": account.id, "step": exercise.key, "kind": "account"}
        posted = slack_client.chat_postMessage(
            channel=CHANNEL, text=exercise.key, blocks=done_button_blocks(value, exercise.key)
        )
        click = {"channel": posted["channel"], "ts": posted["ts"], "action_id": "dealcycle_done"}
        async with served_app(harness.client, harness.settings) as app:
            await fake_control(slack_fake.url, "app", {"request_url": app.url})
            await fake_control(slack_fake.url, "click", {**click, "user": AE})
            [not_theirs] = await answers_to(slack_fake, AE)
            await fake_control(slack_fake.url, "click", {**click, "user": NEW_VE})

            async def done() -> AccountState | None:
                state: AccountState = await account.query(AccountWorkflow.state)
                return state if state.value_exercise_done else None

            await eventually(done)

        # Anyone else is still refused, by the workflow, which knows who may.
        assert not_theirs == f"step {exercise.key!r} is owned by {VE}, not {AE}"
        assert ephemerals_to(slack_fake, NEW_VE) == []
