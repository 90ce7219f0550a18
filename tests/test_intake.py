"""Deal close: the `deal-closed` command and the scheduled intake hand each deal off once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError

from schemas.account import AccountState, account_workflow_id
from schemas.intake import IntakeRun
from starter.intake import deal_closed, intake_schedule, render_intake_result, run_intake_once
from starter.trials import CommandError
from workflows.account import AccountWorkflow
from workflows.intake import ClosedWonIntakeWorkflow

REPEAT_CHANGES_NOTHING = (
    "already running (it keeps one hand-off per deal: a repeat changes nothing)"
)


async def run_intake(harness: Any, name: str) -> Any:
    """One run, as the schedule starts it, in real time: while its activities run, the test
    server would otherwise skip to the next timer (an idle account's ten-year run timeout).

    The first poll looks back far: earlier tests moved the test server's clock months past the
    fake Salesforce's (real-time) LastModifiedDate.
    """
    with harness.env.auto_time_skipping_disabled():
        handle = await harness.client.start_workflow(
            ClosedWonIntakeWorkflow.run,
            IntakeRun(first_poll_lookback_days=36500),
            id=f"intake-{name}",
            task_queue=harness.task_queue,
        )
        harness.track(handle)
        return await handle.result()


async def close_deal(harness: Any, opportunity_id: str) -> str:
    """``dealcycle deal-closed``, in real time: it waits on the worker's run, during which the
    test server would otherwise skip to the next timer (an idle account's ten-year timeout)."""
    with harness.env.auto_time_skipping_disabled():
        return await deal_closed(harness.client, harness.settings, opportunity_id)


async def account_deals(harness: Any, account_id: str) -> list[str]:
    handle = harness.client.get_workflow_handle_for(
        AccountWorkflow.run, account_workflow_id(account_id)
    )
    harness.track(handle)
    state: AccountState = await handle.query(AccountWorkflow.state)
    return [deal.opportunity_id for deal in state.hand_offs]


async def test_deal_closed_and_the_schedule_hand_each_deal_off_once(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record("Account", {"Id": "001HOOLI", "Name": "Hooli"})
    salesforce_fake.add_record("Account", {"Id": "001PIED", "Name": "Pied Piper"})
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006W1", "AccountId": "001HOOLI", "StageName": "Closed Won"}
    )
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006W2", "AccountId": "001HOOLI", "StageName": "Closed Won"}
    )
    salesforce_fake.add_record(
        "Opportunity",
        {"Id": "006OPEN", "AccountId": "001PIED", "StageName": "Stage 2 - Qualification"},
    )
    async with harness_factory() as harness:
        first = await close_deal(harness, "006W1")
        # The Java test server does not say whether a signal-with-start started the run.
        assert first in (
            "started account-001HOOLI for 006W1",
            f"handed 006W1 to account-001HOOLI, {REPEAT_CHANGES_NOTHING}",
        )
        again = await close_deal(harness, "006W1")
        assert again == f"handed 006W1 to account-001HOOLI, {REPEAT_CHANGES_NOTHING}"

        run1 = await run_intake(harness, "1")
        # Both go to the account, which keeps one hand-off per deal: no read first.
        assert (sorted(run1.handed_off), run1.skipped) == (["006W1", "006W2"], [])
        assert [d.decision for d in run1.decisions] == ["already running"] * 2
        assert run1.watermark is not None

        # A failing poll: the run fails, the watermark stays, nothing is handed off.
        salesforce_fake.fail_next(
            "GET", r"/query", 400, [{"errorCode": "MALFORMED_QUERY", "message": "unexpected token"}]
        )
        with pytest.raises(WorkflowFailureError):
            await run_intake(harness, "2")

        salesforce_fake.add_record(
            "Opportunity", {"Id": "006W3", "AccountId": "001PIED", "StageName": "Closed Won"}
        )
        run3 = await run_intake(harness, "3")
        assert (run3.handed_off, run3.skipped) == (["006W3"], [])  # the watermark held
        run4 = await run_intake(harness, "4")
        assert (run4.handed_off, run4.skipped) == ([], [])

        assert await account_deals(harness, "001HOOLI") == ["006W1", "006W2"]
        assert await account_deals(harness, "001PIED") == ["006W3"]


async def test_deal_closed_refuses_an_open_or_unknown_opportunity(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record(
        "Opportunity",
        {
            "Id": "006NOTYET",
            "AccountId": "001X",
            "StageName": "Stage 4 - Technical and Business Validation",
        },
    )
    # A record without a stage at all (the demo data's DEMO-006-ACME, say).
    salesforce_fake.add_record("Opportunity", {"Id": "006NOSTAGE", "AccountId": "001X"})
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006NULLSTAGE", "AccountId": "001X", "StageName": None}
    )
    async with harness_factory() as harness:
        with pytest.raises(CommandError) as open_deal:
            await close_deal(harness, "006NOTYET")
        assert str(open_deal.value) == (
            "006NOTYET is not Closed Won (it is 'Stage 4 - Technical and Business Validation');"
            " nothing was handed off"
        )
        for opportunity_id in ("006NOSTAGE", "006NULLSTAGE"):
            with pytest.raises(CommandError) as no_stage:
                await close_deal(harness, opportunity_id)
            assert str(no_stage.value) == (
                f"{opportunity_id} is not Closed Won (it has no StageName); nothing was handed off"
            )
        with pytest.raises(CommandError, match="Salesforce has no Opportunity '006NOPE'"):
            await close_deal(harness, "006NOPE")


async def test_a_failed_hand_off_or_intake_run_says_why_salesforce_refused(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    """Not "Activity task failed" nor an internal error: Salesforce's own reason."""
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006REFUSED", "AccountId": "001X", "StageName": "Closed Won"}
    )
    malformed = [{"errorCode": "MALFORMED_QUERY", "message": "unexpected token"}]
    async with harness_factory() as harness:
        salesforce_fake.fail_next("GET", r"/query", 400, malformed)
        with pytest.raises(CommandError) as closed:
            await close_deal(harness, "006REFUSED")
        assert str(closed.value).startswith("the hand-off of 006REFUSED failed: ")
        assert "MALFORMED_QUERY" in str(closed.value)

        salesforce_fake.fail_next("GET", r"/query", 400, malformed)
        with harness.env.auto_time_skipping_disabled(), pytest.raises(CommandError) as run:
            await run_intake_once(
                harness.client, harness.settings, IntakeRun(first_poll_lookback_days=36500)
            )
        assert str(run.value).startswith("the intake run failed: ")
        assert "MALFORMED_QUERY" in str(run.value)
        assert "the next run reads the same deals again" in str(run.value)


async def test_a_deal_the_account_would_drop_is_refused_by_name_and_starts_no_account(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    """A CloseDate typed 2062: the account's workflow would drop the hand-off (its bounds), so
    the deal is not handed off, and no empty account is started: the field and bound said."""
    salesforce_fake.add_record(
        "Opportunity",
        {
            "Id": "006TYPO",
            "AccountId": "001TYPO",
            "StageName": "Closed Won",
            "CloseDate": "2062-12-01",
        },
    )
    async with harness_factory() as harness:
        with pytest.raises(CommandError) as refused:
            await close_deal(harness, "006TYPO")
        assert str(refused.value).startswith(
            "the hand-off of 006TYPO failed: Salesforce's Opportunity 006TYPO cannot be handed"
            " off: closed_at: a date with a time zone, within 10 years of today (got 2062-12-01"
        )
        with pytest.raises(RPCError, match="not found"):
            await harness.client.get_workflow_handle(account_workflow_id("001TYPO")).describe()

        run = await run_intake(harness, "typo")
        # Not handed off, said why, and passed over: the fix in Salesforce brings it back.
        assert (run.handed_off, run.failed, run.skipped) == ([], [], ["006TYPO"])
        assert "closed_at: a date with a time zone" in run.decisions[0].why
        with pytest.raises(RPCError, match="not found"):
            await harness.client.get_workflow_handle(account_workflow_id("001TYPO")).describe()


async def test_a_closed_won_deal_with_no_account_is_named_by_the_run_not_passed_over(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record("Opportunity", {"Id": "006NOACC", "StageName": "Closed Won"})
    async with harness_factory() as harness:
        run = await run_intake(harness, "no-account")
    assert (run.handed_off, run.without_account) == ([], ["006NOACC"])
    shown = render_intake_result(run)
    assert (
        "no account: 006NOACC (Closed Won with no AccountId in Salesforce: nothing to hand it"
        " to; once it has one, a run hands it off)"
    ) in shown


def test_the_intake_schedule_polls_at_the_configured_interval_without_overlap(
    test_settings: Any,
) -> None:
    from datetime import timedelta

    from temporalio.client import ScheduleOverlapPolicy

    schedule = intake_schedule(replace(test_settings, task_queue="q1"), timedelta(minutes=5))
    assert schedule.spec.intervals[0].every == timedelta(minutes=5)
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert schedule.action.workflow == "ClosedWonIntakeWorkflow"  # type: ignore[union-attr]
    assert schedule.action.task_queue == "q1"  # type: ignore[union-attr]


async def test_deal_closed_waiting_on_salesforce_says_so_not_that_no_worker_runs(
    harness_factory: Any, salesforce_fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Salesforce down (or over its API limit) while the worker reads the deal: the command
    gives up waiting with Salesforce's answer, not by asking whether a worker runs (nor, for
    `intake run`, silently waiting out the run's budget)."""
    import starter.intake

    salesforce_fake.add_record(
        "Opportunity", {"Id": "006DOWN", "AccountId": "001DOWN", "StageName": "Closed Won"}
    )
    unavailable = [{"errorCode": "SERVER_UNAVAILABLE", "message": "down for maintenance"}]
    monkeypatch.setattr(starter.intake, "DEAL_CLOSED_WAIT_SECONDS", 4.0)
    async with harness_factory() as harness:
        salesforce_fake.fail_next("GET", r"/query", 503, unavailable, count=1000)
        with pytest.raises(CommandError) as waited:
            await close_deal(harness, "006DOWN")
        message = str(waited.value)
        assert "is `dealcycle worker` running" not in message
        assert message.startswith("006DOWN is not handed off yet: the worker's tries are failing")
        assert "HTTP 503" in message and "SERVER_UNAVAILABLE" in message

        # `intake run` likewise, rather than waiting out the run's ten minutes in silence.
        with harness.env.auto_time_skipping_disabled(), pytest.raises(CommandError) as ran:
            await run_intake_once(
                harness.client, harness.settings, IntakeRun(first_poll_lookback_days=36500)
            )
        message = str(ran.value)
        assert message.startswith("the intake run is not done: the worker's tries are failing")
        assert "HTTP 503" in message and "SERVER_UNAVAILABLE" in message
        salesforce_fake.clear_faults()
