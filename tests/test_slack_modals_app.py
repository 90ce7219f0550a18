"""The Slack app's modals and ``/dealcycle`` end to end, driven by the Slack fake's own
deliveries (``POST /__fake__/click``, ``/submit``, ``/command``: signed, Slack's wire format)
to the app over HTTP or Socket Mode, with a worker on the time-skipping server.

A modal opens from a button or a command with the trigger id the fake issued with the
interaction; it is submitted with ``/__fake__/submit``, which answers with the app's
acknowledgement (``response_action``) and applies it to the open view as Slack would.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_chat import Ephemeral
from dealcycle.fakes.slack_views import OpenView
from schemas.account import LifecycleStage, RecordKickoffPlan
from schemas.common import Role
from schemas.health import HealthView, SetHealth
from starter.slack import commands, modals
from starter.slack.answers import button_value
from starter.slack.modal_forms import ModalName, open_button
from starter.slack.modal_specs import MODALS
from tests.support.accounts import AE, CE, DAY, a_plan, advance_to, start_account, state
from tests.support.codec import plain_payloads
from tests.support.patience import settle
from tests.support.slack_app import eventually, fake_control
from tests.test_red_account_workflow import case_handle, case_state
from tests.test_slack_app_fake_delivery import MODES, app_in
from workflows.account import AccountWorkflow

STRANGER = "U0STRANGER1"
ACCOUNT_ID = "001SLKMODAL"
WORKFLOW_ID = f"account-{ACCOUNT_ID}"
CHANNEL = "dealcycle-trials"
Handle = WorkflowHandle[Any, Any]


async def started_account(
    harness: Any, salesforce_fake: Any, stage: LifecycleStage = LifecycleStage.KICKOFF
) -> Handle:
    """The account, ``AE`` and ``CE`` of record, settled in ``stage``."""
    handle: Handle = harness.track(
        await start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            ACCOUNT_ID,
            timedelta(days=300),
            stage=stage,
        )
    )
    return handle


async def open_view(fake: SlackFake, user: str, callback_id: str) -> OpenView:
    """The modal the app opened for ``user`` (it opens after acknowledging the click)."""

    async def opened() -> OpenView | None:
        stack = fake.views.stack(user)
        return stack[-1] if stack and stack[-1].view["callback_id"] == callback_id else None

    return await eventually(opened)


async def submit(fake: SlackFake, user: str, view: OpenView, values: dict[str, Any]) -> Any:
    """``/__fake__/submit``: the app's acknowledgement (``response_action`` and the rest)."""
    result = await fake_control(
        fake.url, "submit", {"user": user, "view_id": view.id, "values": values}
    )
    assert result["status"] == 200, result
    return result["body"]


async def command(fake: SlackFake, user: str, text: str) -> Any:
    result = await fake_control(
        fake.url, "command", {"user": user, "command": "/dealcycle", "text": text}
    )
    assert result["status"] == 200, result
    return result


def health(colour: str, reason: str) -> dict[str, Any]:
    return {"colour": {"value": colour}, "reason": {"value": reason}}


async def accepted_updates(handle: Handle) -> list[tuple[str, str, dict[str, Any]]]:
    """(update id, update name, input) of every update in the history."""
    history = await handle.fetch_history()
    return [
        (
            request.meta.update_id,
            request.input.name,
            json.loads((await plain_payloads(request.input.args.payloads))[0].data),
        )
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for request in [event.workflow_execution_update_accepted_event_attributes.accepted_request]
    ]


async def health_of(handle: Handle) -> HealthView:
    view: HealthView = await handle.query(AccountWorkflow.health)
    return view


def post_set_health_button(slack_client: WebClient) -> dict[str, str]:
    """A message carrying the account's "Set health" button; its channel and ts."""
    button = open_button(
        MODALS[ModalName.HEALTH], "Set health", button_value(WORKFLOW_ID, "account")
    )
    posted = slack_client.chat_postMessage(
        channel=CHANNEL,
        text="Acme's health",
        blocks=[{"type": "actions", "block_id": "health", "elements": [button]}],
    )
    return {"channel": str(posted["channel"]), "ts": str(posted["ts"])}


def form_button_click(
    slack_client: WebClient, name: ModalName, value: dict[str, str], user: str = CE
) -> dict[str, str]:
    """A message carrying the button that opens ``name``'s form; ``user``'s click on it."""
    spec = MODALS[name]
    button = open_button(spec, "Fill in…", value)
    posted = slack_client.chat_postMessage(
        channel=CHANNEL,
        text=spec.title,
        blocks=[{"type": "actions", "block_id": "form", "elements": [button]}],
    )
    return {
        "user": user,
        "channel": str(posted["channel"]),
        "ts": str(posted["ts"]),
        "action_id": spec.open_action_id,
    }


@pytest.mark.parametrize("mode", MODES)
async def test_a_health_modal_submitted_sets_the_health_by_the_submitter(
    mode: str,
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: SlackFake,
    slack_client: WebClient,
) -> None:
    async with harness_factory() as harness:
        handle = await started_account(harness, salesforce_fake)
        message = post_set_health_button(slack_client)
        async with app_in(mode, harness, slack_fake):
            await fake_control(
                slack_fake.url,
                "click",
                {**message, "user": CE, "action_id": "dealcycle_open_modal_health"},
            )
            view = await open_view(slack_fake, CE, "dealcycle_modal_health")
            answer = await submit(slack_fake, CE, view, health("yellow", "the champion left"))

        assert answer["response_action"] == "update", answer
        (shown,) = slack_fake.views.stack(CE)  # the modal now says it is done
        assert shown.view["blocks"][0]["text"]["text"].startswith("✅ ")
        now = await health_of(handle)
        assert now.colour == "yellow"
        assert (now.history[-1].by, now.history[-1].reason) == (CE, "the champion left")
        ((update_id, name, request),) = await accepted_updates(handle)
        assert (name, request["actor"], request["role"]) == ("set_health", CE, "CE")
        assert update_id.startswith(f"slack-view-{view.id}-")


async def test_a_bad_submission_returns_field_errors_and_changes_nothing(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake, slack_client: WebClient
) -> None:
    async with harness_factory() as harness:
        handle = await started_account(harness, salesforce_fake)
        before = await health_of(handle)
        message = post_set_health_button(slack_client)
        click = {**message, "action_id": "dealcycle_open_modal_health"}
        async with app_in("http", harness, slack_fake):
            await fake_control(slack_fake.url, "click", {**click, "user": CE})
            view = await open_view(slack_fake, CE, "dealcycle_modal_health")
            # The workflow's validator: a health change needs a reason.
            no_reason = await submit(slack_fake, CE, view, health("red", "   "))
            # The field's bound (schemas/limits.py), checked before anything is sent.
            too_long = await submit(slack_fake, CE, view, health("red", "x" * 2_001))
            # Neither the AE nor the CE: the workflow names who may act.
            await fake_control(slack_fake.url, "click", {**click, "user": STRANGER})
            theirs = await open_view(slack_fake, STRANGER, "dealcycle_modal_health")
            stranger = await submit(slack_fake, STRANGER, theirs, health("red", "looks bad"))

        assert no_reason["response_action"] == "errors"
        assert list(no_reason["errors"]) == ["reason"]
        assert "needs a reason" in no_reason["errors"]["reason"]
        assert too_long == {
            "response_action": "errors",
            "errors": {"reason": "reason: at most 2000 characters (got 2001)"},
        }
        assert stranger["response_action"] == "errors"
        assert f"{STRANGER} is not the account's CE ({CE} is)" in stranger["errors"]["colour"]
        assert slack_fake.views.stack(CE)[-1].id == view.id  # the modal stays open
        after = await health_of(handle)
        assert (after.colour, len(after.history)) == (before.colour, len(before.history))
        assert await accepted_updates(handle) == []


@pytest.mark.parametrize("mode", MODES)
async def test_dealcycle_account_and_health_answer_with_their_forms(
    mode: str, harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        await started_account(harness, salesforce_fake)
        async with app_in(mode, harness, slack_fake):
            await command(slack_fake, AE, f"account {ACCOUNT_ID}")
            await command(slack_fake, AE, f"health {WORKFLOW_ID}")
            await command(slack_fake, AE, "account 001NOSUCH")

        account, health_answer, unknown = slack_fake.ephemerals_for(AE)
        assert account.blocks is not None and health_answer.blocks is not None
        text = account.blocks[0]["text"]["text"]
        assert f"{WORKFLOW_ID}  AccountWorkflow  RUNNING" in text
        assert f"AE / CE      {AE} / {CE}" in text
        assert "dealcycle_open_modal_kickoff" in json.dumps(account.blocks[1])
        assert "Health       Green" in health_answer.blocks[0]["text"]["text"]
        (set_health,) = health_answer.blocks[1]["elements"]
        assert set_health["action_id"] == "dealcycle_open_modal_health"
        assert json.loads(set_health["value"])["workflow_id"] == WORKFLOW_ID
        assert "there is no workflow 'account-001NOSUCH'" in unknown.text


async def test_a_feature_request_form_is_recorded_as_the_ae_it_came_from(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        handle = await started_account(harness, salesforce_fake)
        async with app_in("http", harness, slack_fake):
            await command(slack_fake, AE, f"feature {ACCOUNT_ID}")
            view = await open_view(slack_fake, AE, "dealcycle_modal_feature_request")
            assert json.loads(view.view["private_metadata"])["workflow_id"] == WORKFLOW_ID
            answer = await submit(slack_fake, AE, view, {"title": {"value": "SAML groups"}})

        assert answer["response_action"] == "update", answer
        assert (await handle.query(AccountWorkflow.state)).feature_requests == 1
        ((_, name, request),) = await accepted_updates(handle)
        assert (name, request["actor"], request["role"]) == ("record_feature_request", AE, "AE")


async def test_a_red_health_form_opens_a_case_whose_action_plan_form_records_the_ae_part(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        account = await started_account(harness, salesforce_fake)
        async with app_in("http", harness, slack_fake):
            await command(slack_fake, AE, f"set-health {ACCOUNT_ID}")
            view = await open_view(slack_fake, AE, "dealcycle_modal_health")
            red = await submit(slack_fake, AE, view, health("red", "the champion left"))
            assert red["response_action"] == "update", red
            case = harness.track(await case_handle(harness, account, 1))
            await settle(case)

            await command(slack_fake, AE, f"action-plan {ACCOUNT_ID}")
            plan = await open_view(slack_fake, AE, "dealcycle_modal_action_plan")
            assert json.loads(plan.view["private_metadata"])["workflow_id"] == case.id
            answers = {
                "current_status": {"value": "champion gone"},
                "needs": {"value": "an exec sponsor"},
                "intended_actions": {"value": ""},
            }
            missing = await submit(slack_fake, AE, plan, answers)
            answers["intended_actions"] = {"value": "meet the new VP"}
            recorded = await submit(slack_fake, AE, plan, answers)

        assert missing["response_action"] == "errors"
        assert list(missing["errors"]) == ["intended_actions"]
        assert recorded["response_action"] == "update", recorded
        (entry,) = (await case_state(case)).action_plan
        assert (entry.role, entry.actor, entry.intended_actions) == (
            Role.AE,
            AE,
            "meet the new VP",
        )


async def test_a_slow_answer_is_acknowledged_first_and_follows_through_the_response_url(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake, monkeypatch: Any
) -> None:
    # No time to answer within the acknowledgement: Slack's three seconds have run out.
    monkeypatch.setattr(commands, "ACK_WITHIN", 0)
    async with harness_factory() as harness:
        await started_account(harness, salesforce_fake)
        async with app_in("http", harness, slack_fake):
            result = await command(slack_fake, AE, f"health {ACCOUNT_ID}")

            async def answered() -> list[Ephemeral] | None:
                found = slack_fake.ephemerals_for(AE)
                return found if len(found) == 2 else None

            both = await eventually(answered)

    assert result["body"] == {"response_type": "ephemeral", "text": "Working on it…"}
    # The acknowledgement (the command's HTTP answer) and the answer through the response URL
    # reach the fake side by side: which it records first says nothing of the order.
    (working,) = [ephemeral for ephemeral in both if ephemeral.text == "Working on it…"]
    (health_answer,) = [ephemeral for ephemeral in both if ephemeral is not working]
    assert health_answer.blocks is not None
    assert "Health       Green" in health_answer.blocks[0]["text"]["text"]


def plan_answers(quarter: str) -> dict[str, Any]:
    """The form's answers: the plan the CLI's tests submit from a file, field by field."""
    plan = a_plan(quarter)
    lines = {
        name: {"value": "\n".join(getattr(plan, name))}
        for name in (
            "use_cases",
            "expansion_opportunities",
            "risks",
            "product_feedback_themes",
            "objectives",
        )
    }
    contacts = {
        f"contacts.{name}": {"value": getattr(plan.contacts, name)}
        for name in ("champion", "economic_buyer", "advocate", "admin")
    }
    return {
        **lines,
        **contacts,
        "health": {"value": plan.health},
        "next_steps": {"value": plan.next_steps},
        "link": {"value": plan.link},
    }


async def account_planning(harness: Any, salesforce_fake: Any) -> tuple[Handle, str]:
    """The account in adoption, moved into the next quarter: its account plan step open."""
    handle = await started_account(harness, salesforce_fake, LifecycleStage.ADOPTION)
    now = await harness.env.get_current_time()
    month = ((now.month - 1) // 3 + 1) * 3 + 1
    next_quarter = datetime(now.year + (month > 12), (month - 1) % 12 + 1, 1, tzinfo=UTC)
    await advance_to(harness.env, handle, next_quarter + timedelta(hours=1))
    step = next(s for s in (await state(handle)).open_steps if s.kind == "account_plan")
    return handle, step.key.removeprefix("account-plan-")


async def test_the_account_plan_form_submits_the_quarters_plan_and_names_missing_sections(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        handle, quarter = await account_planning(harness, salesforce_fake)
        async with app_in("http", harness, slack_fake):
            await command(slack_fake, CE, f"plan {ACCOUNT_ID} {quarter}")
            form = await open_view(slack_fake, CE, "dealcycle_modal_account_plan")
            answers = plan_answers(quarter)
            incomplete = {**answers, "risks": {"value": ""}, "link": {"value": ""}}
            missing = await submit(slack_fake, CE, form, incomplete)
            submitted = await submit(slack_fake, CE, form, answers)

        assert missing["response_action"] == "errors"
        assert set(missing["errors"]) == {"risks", "link"}
        assert "missing sections: risks, link" in missing["errors"]["link"]
        assert submitted["response_action"] == "update", submitted
        assert (await state(handle)).plans_submitted == 1
        ((_, name, request),) = await accepted_updates(handle)
        assert name == "submit_account_plan"
        assert request["quarter"] == quarter and request["actor"] == CE
        assert request["contacts"]["economic_buyer"] == a_plan(quarter).contacts.economic_buyer
        assert request["use_cases"] == a_plan(quarter).use_cases


async def test_a_red_case_reminder_offers_the_action_plan_form_that_records_the_ce_part(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        account = await started_account(harness, salesforce_fake)
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "the champion left")
        )
        case = harness.track(await case_handle(harness, account, 1))
        await settle(case)
        # A day on, the thread reminds both owners; the reminder carries the form, no Done.
        await advance_to(harness.env, case, await harness.env.get_current_time() + DAY * 1.1)
        (reminder,) = [
            message
            for message in slack_fake.messages_in("#red-accounts")
            if message.thread_ts and message.text.startswith("Reminder:")
        ]
        (actions,) = [block for block in reminder.blocks or [] if block["type"] == "actions"]
        by_action = {button["action_id"]: button for button in actions["elements"]}
        assert set(by_action) == {"dealcycle_open_modal_action_plan", "dealcycle_open"}
        assert json.loads(by_action["dealcycle_open_modal_action_plan"]["value"]) == {
            "workflow_id": case.id,
            "step": "action_plan",
            "kind": "red_account",
        }
        assert by_action["dealcycle_open"]["url"].endswith(f"/workflows/{case.id}")

        async with app_in("http", harness, slack_fake):
            clicked = await fake_control(
                slack_fake.url,
                "click",
                {
                    "user": CE,
                    "channel": reminder.channel,
                    "ts": reminder.ts,
                    "action_id": "dealcycle_open_modal_action_plan",
                },
            )
            assert clicked["status"] == 200, clicked
            plan = await open_view(slack_fake, CE, "dealcycle_modal_action_plan")
            recorded = await submit(
                slack_fake,
                CE,
                plan,
                {
                    "current_status": {"value": "usage down 40%"},
                    "needs": {"value": "a product deep-dive"},
                    "intended_actions": {"value": "run an adoption workshop"},
                },
            )

        assert recorded["response_action"] == "update", recorded
        (entry,) = (await case_state(case)).action_plan
        assert (entry.role, entry.actor, entry.intended_actions) == (
            Role.CE,
            CE,
            "run an adoption workshop",
        )


async def test_a_form_for_no_account_is_refused_before_it_opens_and_garbage_is_named(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        await started_account(harness, salesforce_fake)
        async with app_in("http", harness, slack_fake):
            await command(slack_fake, AE, "kickoff 001NOSUCH")
            await command(slack_fake, AE, "frobnicate <!channel>")

        no_form, garbage = slack_fake.ephemerals_for(AE)
        assert slack_fake.views.stack(AE) == []
        assert "there is no workflow 'account-001NOSUCH'" in no_form.text
        assert garbage.blocks is not None
        said = garbage.blocks[0]["text"]["text"]
        assert said == "`frobnicate` is not a `/dealcycle` command."
        assert "/dealcycle todo" in garbage.blocks[1]["text"]["text"]


async def test_a_done_steps_form_is_refused_before_it_opens(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake, slack_client: WebClient
) -> None:
    """The kickoff prompt's "Fill in…" opens the form while the step is open; once the kickoff
    is recorded, a click on the same old button says so instead of opening a form that its
    submission would find refused."""
    async with harness_factory() as harness:
        account = await started_account(harness, salesforce_fake)
        click = form_button_click(
            slack_client, ModalName.KICKOFF, button_value(WORKFLOW_ID, "account", "kickoff-plan")
        )
        async with app_in("http", harness, slack_fake):
            await fake_control(slack_fake.url, "click", click)
            await open_view(slack_fake, CE, "dealcycle_modal_kickoff")
            await account.execute_update(
                AccountWorkflow.record_kickoff_plan, RecordKickoffPlan(CE, Role.CE, "monthly")
            )
            await settle(account)
            await fake_control(slack_fake.url, "click", click)

            async def told() -> list[Ephemeral] | None:
                return slack_fake.ephemerals_for(CE) or None

            (answer,) = await eventually(told)

        assert answer.text == (
            f"step 'kickoff-plan' is no longer open on {WORKFLOW_ID} (done, or replaced by a"
            " newer one); nothing to fill in"
        )
        assert len(slack_fake.views.stack(CE)) == 1  # only the form of the first click


async def test_a_form_slack_rate_limits_opens_on_retry_and_one_that_cannot_open_says_so(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake, slack_client: WebClient
) -> None:
    """Slack answers 429 with Retry-After: the app's client waits and opens the form (it gave
    up at once: the click did nothing). A form Slack refuses to open (an expired trigger) is
    said so to the clicker, not left as a click that did nothing."""
    async with harness_factory() as harness:
        await started_account(harness, salesforce_fake)
        click = {**post_set_health_button(slack_client), "action_id": "dealcycle_open_modal_health"}
        async with app_in("http", harness, slack_fake):
            slack_fake.rate_limit_next(retry_after=1, api_method="views.open")
            await fake_control(slack_fake.url, "click", {**click, "user": CE})
            await open_view(slack_fake, CE, "dealcycle_modal_health")
            slack_fake.error_next("expired_trigger_id", api_method="views.open")
            await fake_control(slack_fake.url, "click", {**click, "user": AE})

            async def told() -> list[Ephemeral] | None:
                return slack_fake.ephemerals_for(AE) or None

            (answer,) = await eventually(told)

        assert answer.text == "the form did not open (Slack answered expired_trigger_id); try again"
        assert slack_fake.views.stack(AE) == []


async def test_a_plan_command_for_a_done_quarter_or_no_quarter_is_refused_before_it_opens(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    """``/dealcycle plan ACCOUNT QUARTER`` opened the form of a quarter already submitted (to
    be refused once filled in), and a word that is no quarter answered "internal error" (a
    long one) or opened a form for it."""
    async with harness_factory() as harness:
        handle, quarter = await account_planning(harness, salesforce_fake)
        await handle.execute_update(AccountWorkflow.submit_account_plan, a_plan(quarter))
        await settle(handle)
        async with app_in("http", harness, slack_fake):
            for text in (quarter, "<@U0AE00001|alice>", "Q" * 4000):
                await command(slack_fake, CE, f"plan {ACCOUNT_ID} {text}")

        done, mention, long = (answer.text for answer in slack_fake.ephemerals_for(CE))
        assert slack_fake.views.stack(CE) == []
        assert done == (
            f"⚠️ step 'account-plan-{quarter}' is no longer open on {WORKFLOW_ID} (done, or"
            " replaced by a newer one); nothing to fill in"
        )
        assert mention == (
            "⚠️ quarter '&lt;@U0AE00001|alice&gt;' is not like 2027-Q2:"
            " `/dealcycle plan ACCOUNT 2027-Q2`"
        )
        assert long.startswith("⚠️ quarter 'QQQQ") and "internal error" not in long


async def test_a_form_command_whose_form_slack_will_not_open_says_so(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    """A command answered after its trigger expired (a slow workflow) gets
    ``expired_trigger_id`` from views.open: said in a line, not as "internal error:
    SlackApiError" with the API's URL and raw answer."""
    async with harness_factory() as harness:
        await started_account(harness, salesforce_fake)
        async with app_in("http", harness, slack_fake):
            slack_fake.error_next("expired_trigger_id", api_method="views.open")
            await command(slack_fake, AE, f"set-health {ACCOUNT_ID}")

        (answer,) = slack_fake.ephemerals_for(AE)
        assert answer.text == (
            "⚠️ the form did not open (Slack answered expired_trigger_id); try again"
        )
        assert slack_fake.views.stack(AE) == []


async def test_a_slow_submission_is_acknowledged_in_time_and_the_form_then_says_what_happened(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: SlackFake,
    slack_client: WebClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A submission the workflow takes longer than Slack's three seconds to answer was
    acknowledged late: Slack showed "We had some trouble connecting" over a form whose action
    had been recorded, inviting a second, edited, submission. It is acknowledged with a
    "Recording…" form in time, which then shows the workflow's answer."""
    real_submit = modals.submit

    async def slow_submit(*args: Any) -> str:
        await asyncio.sleep(4)
        return await real_submit(*args)

    monkeypatch.setattr(modals, "submit", slow_submit)
    async with harness_factory() as harness:
        handle = await started_account(harness, salesforce_fake)
        message = post_set_health_button(slack_client)
        async with app_in("http", harness, slack_fake):
            await fake_control(
                slack_fake.url,
                "click",
                {**message, "user": CE, "action_id": "dealcycle_open_modal_health"},
            )
            view = await open_view(slack_fake, CE, "dealcycle_modal_health")
            started = time.monotonic()
            answer = await submit(slack_fake, CE, view, health("yellow", "the champion left"))
            acknowledged_after = time.monotonic() - started

            async def recorded() -> str | None:
                (shown,) = slack_fake.views.stack(CE)
                text = str(shown.view["blocks"][0]["text"]["text"])
                return text if text.startswith("✅ ") else None

            await eventually(recorded, attempts=200)
            # Refused late: the form can no longer mark its fields, it says why instead.
            await fake_control(
                slack_fake.url,
                "click",
                {**message, "user": STRANGER, "action_id": "dealcycle_open_modal_health"},
            )
            theirs = await open_view(slack_fake, STRANGER, "dealcycle_modal_health")
            await submit(slack_fake, STRANGER, theirs, health("red", "looks bad"))

            async def refused() -> str | None:
                (shown,) = slack_fake.views.stack(STRANGER)
                text = str(shown.view["blocks"][0]["text"]["text"])
                return text if text.startswith("⚠️ ") else None

            refusal = await eventually(refused, attempts=200)

        assert acknowledged_after < 3, acknowledged_after
        assert answer["response_action"] == "update", answer
        assert "Recording" in answer["view"]["blocks"][0]["text"]["text"]
        assert refusal.startswith("⚠️ Not recorded; open the form again:\n• ")
        assert f"{STRANGER} is not the account's CE ({CE} is)" in refusal
        assert (await health_of(handle)).colour == "yellow"
        assert len(await accepted_updates(handle)) == 1


async def test_a_kickoff_command_after_the_kickoff_is_refused_before_the_form_opens(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    """As the kickoff prompt's own button: the form of a kickoff already recorded is not
    opened to be refused once filled in."""
    async with harness_factory() as harness:
        account = await started_account(harness, salesforce_fake)
        await account.execute_update(
            AccountWorkflow.record_kickoff_plan, RecordKickoffPlan(CE, Role.CE, "monthly")
        )
        await settle(account)
        async with app_in("http", harness, slack_fake):
            await command(slack_fake, CE, f"kickoff {ACCOUNT_ID}")

        (answer,) = slack_fake.ephemerals_for(CE)
        assert slack_fake.views.stack(CE) == []
        assert answer.text == (
            f"⚠️ step 'kickoff-plan' is no longer open on {WORKFLOW_ID} (done, or replaced by a"
            " newer one); nothing to fill in"
        )


async def test_the_form_of_a_closed_case_is_refused_before_it_opens(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake, slack_client: WebClient
) -> None:
    """An old reminder's "Action plan" button of a case that has closed opened the form, to be
    refused once filled in ("… takes no more actions")."""
    async with harness_factory() as harness:
        await started_account(harness, salesforce_fake)
        case_id = "red-account-001SLKMODAL-1"
        await harness.client.start_workflow(
            "NoSuchWorkflowType", id=case_id, task_queue="nobody-polls-this"
        )
        await harness.client.get_workflow_handle(case_id).terminate("closed")
        click = form_button_click(
            slack_client, ModalName.ACTION_PLAN, button_value(case_id, "red_account", "action_plan")
        )
        async with app_in("http", harness, slack_fake):
            await fake_control(slack_fake.url, "click", click)

            async def told() -> list[Ephemeral] | None:
                return slack_fake.ephemerals_for(CE) or None

            (answer,) = await eventually(told, attempts=100)

        assert answer.text == f"{case_id} is terminated; it accepts no more actions"
        assert slack_fake.views.stack(CE) == []


async def test_a_form_answer_with_control_characters_is_refused_on_its_field(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    """A reason pasted with a terminal's escape sequence (``ESC[2J``, or one that retitles the
    window) was recorded as typed, and ``dealcycle health`` printed it raw in an operator's
    terminal. It is refused beside its input; line breaks and tabs stay fine in a paragraph."""
    async with harness_factory() as harness:
        handle = await started_account(harness, salesforce_fake)
        before = await health_of(handle)
        async with app_in("http", harness, slack_fake):
            await command(slack_fake, CE, f"set-health {ACCOUNT_ID}")
            view = await open_view(slack_fake, CE, "dealcycle_modal_health")
            escaped = await submit(slack_fake, CE, view, health("red", "gone\x1b[2J\x1b]0;x\x07"))
            await command(slack_fake, AE, f"feature {ACCOUNT_ID}")
            form = await open_view(slack_fake, AE, "dealcycle_modal_feature_request")
            fine = await submit(
                slack_fake,
                AE,
                form,
                {"title": {"value": "SAML groups"}, "detail": {"value": "one\n\ttwo"}},
            )

        assert escaped == {
            "response_action": "errors",
            "errors": {"reason": "reason: no control characters (got \\x1b)"},
        }
        after = await health_of(handle)
        assert (after.colour, len(after.history)) == (before.colour, len(before.history))
        assert fine["response_action"] == "update", fine
        assert [name for _, name, _ in await accepted_updates(handle)] == ["record_feature_request"]
