"""An open red-account case follows its account on the time-skipping test server: when the CE
changes hands the case's open part, its reminders, its escalation and its tracker row go to the
new CE and never again to the old one; when the renewal date moves the case shows the new date.
A change signal that is not from the case's own account is dropped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from activities.red_accounts import get_red_account_case
from dealcycle.db.engine import make_engine
from schemas.account import (
    AccountHandOff,
    AccountStart,
    CompleteProfile,
    RecordRenewalOutcome,
    account_workflow_id,
)
from schemas.account_changes import MoveRenewalDate, ReassignOwner
from schemas.common import CustomerHealth, Role
from schemas.health import (
    OWNERS_CHANGED_CASE_SIGNAL_KIND,
    RENEWAL_MOVED_CASE_SIGNAL_KIND,
    CaseSignal,
    HealthSignal,
    Reading,
    RecordActionPlan,
    SetHealth,
)
from starter.tables import render_red_case
from tests.support.accounts import AE, CE, CE_LEADER, DAY, advance_to, case_id, settle
from tests.test_account_renewal_outcomes import in_renewal_window
from tests.test_red_account_workflow import CHANNEL, case_handle, case_state, open_account
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight
from workflows.red_account import RedAccountWorkflow

NEW_CE = "U0CE00002"
INTRUDER = "U0CE00099"


def thread(slack_fake: Any) -> list[str]:
    return [message.text for message in slack_fake.messages_in(CHANNEL)]


async def red(harness: Any, account: Any) -> Any:
    await account.execute_update(
        AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
    )
    case = await case_handle(harness, account, 1)
    await settle(case)
    return case


async def test_a_new_ce_takes_over_the_open_case_and_the_old_one_hears_no_more_of_it(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001HANDOVER")
        case = await red(harness, account)
        await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(AE, Role.AE, "renewal at risk", "exec sponsor", "EBR in 2 weeks"),
        )
        opened = (await case_state(case)).opened_at
        await advance_to(harness.env, case, opened + DAY + timedelta(minutes=1))
        assert f"<@{CE}>" in thread(slack_fake)[-1]  # the first reminder: still the old CE's

        # Not from the case's own account (another case's id, or none): dropped, and the case
        # runs on as it was.
        now = await harness.env.get_current_time()
        for stray in (
            CaseSignal(
                OWNERS_CHANGED_CASE_SIGNAL_KIND, CustomerHealth.RED, CE_LEADER, "", now,
                case_id(account, 2), ae_owner=AE, ce_owner=INTRUDER,
            ),
            CaseSignal(
                OWNERS_CHANGED_CASE_SIGNAL_KIND, CustomerHealth.RED, CE_LEADER, "", now,
                ae_owner=AE, ce_owner=INTRUDER,
            ),
            CaseSignal(
                OWNERS_CHANGED_CASE_SIGNAL_KIND, CustomerHealth.RED, CE_LEADER, "", now,
                case_id(account, 1), ae_owner=AE,
            ),
        ):  # fmt: skip
            await case.signal(RedAccountWorkflow.case_signal, stray)
        await settle(case)
        assert (await case.describe()).status is WorkflowExecutionStatus.RUNNING
        assert (await case_state(case)).ce_owner == CE

        await account.execute_update(
            AccountWorkflow.reassign_owner,
            ReassignOwner(Role.CE, NEW_CE, CE_LEADER, "territories re-cut"),
        )
        await settle(account)
        await settle(case)
        told = len(thread(slack_fake))
        view = await case_state(case)
        assert (view.ae_owner, view.ce_owner, view.missing_from) == (AE, NEW_CE, ["CE"])
        shown = render_red_case(view, "RUNNING", "http://ui", "default").splitlines()
        assert f"Owners       AE {AE}, CE {NEW_CE}" in shown
        # Told once each: the old CE and the new one by the account, the thread by the case.
        [told_old] = [m.text for m in slack_fake.messages_in(CE) if "no longer the CE" in m.text]
        [told_new] = [m.text for m in slack_fake.messages_in(NEW_CE) if "now the CE" in m.text]
        assert case_id(account, 1) in told_old and case_id(account, 1) in told_new
        [handover] = [text for text in thread(slack_fake) if "is now the CE" in text]
        assert f"<@{NEW_CE}> is now the CE" in handover and "territories re-cut" in handover
        row = get_red_account_case(make_engine(harness.settings.database_url), case_id(account, 1))
        assert row is not None and (row.ae_owner, row.ce_owner) == (AE, NEW_CE)

        with pytest.raises(WorkflowUpdateFailedError) as gone:
            await case.execute_update(
                RedAccountWorkflow.record_action_plan,
                RecordActionPlan(CE, Role.CE, "usage halved", "SSO fix", "office hours"),
            )
        assert f"{CE} is neither the AE" in str(gone.value.cause)

        # The reminders and the escalation at the SLA are the new CE's, never the old one's.
        await advance_to(harness.env, case, opened + 3 * DAY + timedelta(minutes=1))
        after = thread(slack_fake)[told:]
        assert [text.split(" ")[0] for text in after] == ["Reminder:", "Escalation"]
        assert all(f"<@{NEW_CE}>" in text for text in after)
        assert not [text for text in after if f"<@{CE}>" in text]
        assert len([m for m in slack_fake.messages_in(CE) if "no longer the CE" in m.text]) == 1

        accepted = await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(NEW_CE, Role.CE, "usage halved", "SSO fix", "office hours"),
        )
        assert accepted.action_plan_complete


async def test_a_moved_renewal_date_reaches_the_open_case(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001COTERM")
        case = await red(harness, account)
        was = (await case_state(case)).renewal_date
        assert was is not None

        now = await harness.env.get_current_time()
        stray = CaseSignal(
            RENEWAL_MOVED_CASE_SIGNAL_KIND, CustomerHealth.RED, AE, "", now, case_id(account, 1)
        )
        await case.signal(RedAccountWorkflow.case_signal, stray)  # no date: dropped
        moved_to = midnight(was + 180 * DAY)
        await account.execute_update(
            AccountWorkflow.move_renewal_date, MoveRenewalDate(moved_to, AE, Role.AE, "co-terming")
        )
        await settle(account)
        await settle(case)

        view = await case_state(case)
        assert view.renewal_date == moved_to
        shown = render_red_case(view, "RUNNING", "http://ui", "default").splitlines()
        assert f"Renewal      {moved_to.date().isoformat()}" in shown
        [note] = [text for text in thread(slack_fake) if "moved to" in text]
        assert f"moved to {moved_to.date().isoformat()} (was {was.date().isoformat()})" in note
        assert "co-terming" in note


async def test_a_case_opened_before_the_account_had_owners_gets_them_with_the_profile(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        # The intake hands off a new customer (Salesforce knows no Slack members), and the
        # usage feed finds it barely used: red, before anyone named its AE and CE.
        now = await harness.env.get_current_time()
        salesforce_fake.add_record("Account", {"Id": "001NOBODY", "Name": "NewCo"})
        deal = AccountHandOff("006NOBODY", "001NOBODY", "NewCo", "new", 50, "", "", 2, "", now)
        started = await harness.client.start_workflow(
            AccountWorkflow.run,
            AccountStart(
                "001NOBODY", "NewCo", hand_offs=[deal], config=harness.settings.account_config()
            ),
            id=account_workflow_id("001NOBODY"),
            task_queue=harness.task_queue,
        )
        account = harness.client.get_workflow_handle_for(
            AccountWorkflow.run, started.id, first_execution_run_id=started.result_run_id
        )
        harness.track(account)
        await account.signal(
            AccountWorkflow.health_signal,
            HealthSignal(
                "usage", 5, "feed", more=[Reading("adoption", 3), Reading("sentiment", 40)]
            ),
        )
        case = await case_handle(harness, account, 1)
        assert ((await case_state(case)).ae_owner, (await case_state(case)).ce_owner) == ("", "")

        await account.execute_update(
            AccountWorkflow.complete_profile,
            CompleteProfile(CE_LEADER, Role.CE, ae_owner=AE, ce_owner=CE),
        )
        await settle(account)
        await settle(case)
        view = await case_state(case)
        assert (view.ae_owner, view.ce_owner) == (AE, CE)
        accepted = await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(AE, Role.AE, "just started", "an admin", "onboarding push"),
        )
        assert accepted.message == "AE part recorded; waiting for the CE"
        told = [text for text in thread(slack_fake) if "is now the AE of NewCo" in text]
        assert len(told) == 1 and f"<@{CE}> is now the CE" in told[0]


async def test_a_renewal_decided_with_a_case_open_gives_the_case_the_next_renewal_date(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """Renewed while red: the case must not go on showing the renewal that has passed."""
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001REDRENEW")
        case = await red(harness, account)
        was = (await case_state(case)).renewal_date
        assert was is not None
        await account.execute_update(
            AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("renewed", AE, Role.AE)
        )
        await settle(account)
        await settle(case)

        following = was.replace(year=was.year + 1)
        assert (await case_state(case)).renewal_date == following
        [note] = [text for text in thread(slack_fake) if "moved to" in text]
        assert f"moved to {following.date().isoformat()} (was {was.date().isoformat()})" in note
        assert note.endswith("(the renewal was decided: renewed).")
