"""What the Temporal Web UI shows of a running account, read as the UI reads it, on the
time-skipping server: the static summary and details the CLI starts it with, a summary on
each activity (from the effect it writes) and each timer (what wakes the account), the
current details (phase, open steps, overdue marked), and what continue-as-new keeps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.account import account_workflow_id
from schemas.common import Role
from schemas.health import SetHealth
from starter.accounts import start_account
from tests.support.accounts import AE, CE, DAY, advance_to, case_id
from tests.support.patience import settle
from tests.support.web_ui import current_details, event_summaries, of_type
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight

ACCOUNT = "001WEBUI1"


async def start_acme(harness: Any, salesforce_fake: Any, renewal_in: timedelta) -> Any:
    """``dealcycle account start`` for Acme Corp, Tier 1; the handle follows its runs."""
    salesforce_fake.add_record("Account", {"Id": ACCOUNT, "Name": "Acme Corp"})
    now = await harness.env.get_current_time()
    renewal = midnight(now + renewal_in)
    await start_account(
        harness.client,
        harness.settings,
        account_id=ACCOUNT,
        account_name="Acme Corp",
        tier=1,
        renewal_date=renewal,
        seats=100,
        ae_owner=AE,
        ce_owner=CE,
        region="US East / EMEA",
        now=now,
    )
    handle = harness.track(harness.client.get_workflow_handle(account_workflow_id(ACCOUNT)))
    await settle(handle)
    return handle, renewal


async def test_a_running_account_has_its_static_summary_and_summaries_on_activities_and_timers(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as h:
        handle, renewal = await start_acme(h, salesforce_fake, timedelta(days=400))
        headline = f"Acme Corp · Tier 1 · renews {renewal:%Y-%m-%d}"

        description = await handle.describe()
        assert await description.static_summary() == headline
        details = await description.static_details()
        assert details is not None
        assert f"**Owners**: AE {AE} / CE {CE}" in details
        assert "**Seats**: 100" in details

        found = await event_summaries(h.client, handle)
        # Slack posts are tried first as local activities: their summary is on the marker.
        activities = of_type(found, "ACTIVITY_TASK_SCHEDULED") + of_type(found, "MARKER_RECORDED")
        assert any(
            s.startswith("post #customer-accounts: New customer Acme Corp (001WEBUI1): Tier 1")
            for s in activities
        ), activities
        assert "issue a full license: Acme Corp, 100 seats" in activities
        assert all(len(s) <= 200 for s in activities)
        timers = of_type(found, "TIMER_STARTED")
        assert timers and timers[-1].startswith("next reminder: Kickoff call"), timers

        text = await current_details(handle)
        assert text.startswith(f"**{headline}** · phase **kickoff** · 1 open step\n\n- ")
        assert "Kickoff call" in text and f"CE {CE} · due " in text
        assert "overdue" not in text

        # Past the kickoff plan's due date and its first reminder: the CE is reminded.
        now = await h.env.get_current_time()
        await advance_to(h.env, handle, now + 16 * DAY)
        found = await event_summaries(h.client, handle)
        reminders = [
            s
            for s in of_type(found, "ACTIVITY_TASK_SCHEDULED") + of_type(found, "MARKER_RECORDED")
            if s.startswith(f"remind {CE}: ")
        ]
        assert reminders and "Kickoff call" in reminders[0], reminders
        assert " · 1 open step, 1 overdue\n" in await current_details(handle)
        assert "**overdue** since" in await current_details(handle)


async def test_continue_as_new_drops_the_static_summary_and_the_current_details_keep_it(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    """Temporal (dev and test server alike, SDK 1.35) starts a continued run with no user
    metadata and the SDK cannot pass it on: the current details repeat the headline."""
    async with harness_factory(account_history_event_limit=60) as h:
        handle, renewal = await start_acme(h, salesforce_fake, timedelta(days=400))
        first_run = (await handle.describe()).run_id
        now = await h.env.get_current_time()
        # Reminders until the history passes its limit.
        for days in range(16, 60, 4):
            await advance_to(h.env, handle, now + days * DAY)
            if (await handle.describe()).run_id != first_run:
                break
        description = await handle.describe()
        assert description.run_id != first_run, "the account never continued as new"

        assert await description.static_summary() is None
        # The continued run's config is the carried one, given once, not also beside it.
        latest = h.client.get_workflow_handle(handle.id, run_id=description.run_id)
        first = (await latest.fetch_history()).events[0]
        [payload] = first.workflow_execution_started_event_attributes.input.payloads
        [carried_start] = await h.client.data_converter.decode([payload], [dict])
        assert "config" not in carried_start
        assert carried_start["carried"]["config"]["history_event_limit"] == 60
        headline = f"Acme Corp · Tier 1 · renews {renewal:%Y-%m-%d}"
        assert (await current_details(handle)).startswith(f"**{headline}** · phase ")
        # The continued run's timers and activities still say what they are.
        await advance_to(h.env, handle, await h.env.get_current_time() + 4 * DAY)
        found = await event_summaries(h.client, latest)
        # The kickoff plan has escalated (reminded no more): the renewal window is next.
        assert of_type(found, "TIMER_STARTED")[-1] == "T-90 value exercise opens", found


async def test_a_red_account_case_started_by_the_account_reads_as_its_case(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as h:
        handle, renewal = await start_acme(h, salesforce_fake, timedelta(days=400))
        account = h.client.get_workflow_handle_for(
            AccountWorkflow.run,
            handle.id,
            first_execution_run_id=(await handle.describe()).run_id,
        )
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "the champion left")
        )
        case = h.track(h.client.get_workflow_handle(case_id(account, 1)))
        await settle(account)
        await settle(case)

        headline = f"Red account case · Acme Corp · Tier 1 · renews {renewal:%Y-%m-%d}"
        description = await case.describe()
        assert await description.static_summary() == headline
        assert "champion" not in (await description.static_details() or "")
        details = await current_details(case)
        assert details.startswith(f"**{headline}** · phase **open** · ")
        timers = of_type(await event_summaries(h.client, case), "TIMER_STARTED")
        assert timers and timers[-1] in (
            "next reminder: the action plan",
            "escalate: no action plan yet",
        ), timers
