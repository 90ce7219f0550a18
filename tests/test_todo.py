"""The to-do list on the dev server (real visibility): one visibility query on ``StepOwners``
names the workflows where a person owns an open step, and only those are asked for their
state. The trial, the account, the security review and the red-account case each keep the
attribute current; another person's workflows are never asked."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import (
    Client,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    QueryWorkflowInput,
    WorkflowExecutionAsyncIterator,
    WorkflowHandle,
)

from schemas.account import AccountProfile, AccountStart, account_workflow_id
from schemas.common import DeploymentType, Durations, Region
from schemas.health import RedAccountCaseStart
from schemas.search_attributes import NEXT_DUE_AT
from schemas.security_review import (
    CompleteSecurityStep,
    SecurityReviewInput,
    SecurityReviewStart,
    security_review_workflow_id,
)
from schemas.todo import TodoKind, TodoList
from schemas.trial import TrialInput, TrialStart, trial_workflow_id
from starter.cli import main
from starter.todo import todo_for
from tests.support.dev_temporal import DevHarness, dev_client, dev_harness_factory
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

__all__ = ["dev_client", "dev_harness_factory"]  # the dev-server fixtures, shared


class CountingInterceptor(Interceptor):
    """Counts the client's visibility listings and the workflows it queries (the SDK's own
    interceptor hook: the calls still go to the server)."""

    def __init__(self) -> None:
        self.listings: list[str] = []
        self.queried: Counter[str] = Counter()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counter = self

        class Counting(OutboundInterceptor):
            def list_workflows(self, input: ListWorkflowsInput) -> WorkflowExecutionAsyncIterator:
                counter.listings.append(input.query or "")
                return super().list_workflows(input)

            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                counter.queried[input.id] += 1
                return await super().query_workflow(input)

        return Counting(next)


def counting(client: Client) -> tuple[Client, CountingInterceptor]:
    interceptor = CountingInterceptor()
    config = client.config()
    config["interceptors"] = [interceptor]
    return Client(**config), interceptor


def people() -> tuple[str, str]:
    """A CE and an AE of this test alone (the dev server is the module's)."""
    tag = uuid.uuid4().hex[:8].upper()
    return f"U0CE{tag}", f"U0AE{tag}"


async def start_trial(h: DevHarness, opportunity_id: str, ce: str, ae: str) -> Any:
    start = TrialStart(opportunity_id, "001ACME", "Acme", ce, ae, durations=h.settings.durations)
    handle = await h.client.start_workflow(
        TrialWorkflow.run,
        TrialInput(start=start),
        id=trial_workflow_id(opportunity_id),
        task_queue=h.task_queue,
    )
    return h.track(handle)


async def start_account(h: DevHarness, account_id: str, ce: str, ae: str) -> Any:
    renewal = midnight(datetime.now(UTC) + timedelta(days=300))
    profile = AccountProfile(
        account_id, f"Acme {account_id}", 1, "US East / EMEA", ae, ce, 100, renewal
    )
    start = AccountStart(
        account_id, f"Acme {account_id}", profile=profile, config=h.settings.account_config()
    )
    handle = await h.client.start_workflow(
        AccountWorkflow.run, start, id=account_workflow_id(account_id), task_queue=h.task_queue
    )
    return h.track(handle)


async def start_review(h: DevHarness, opportunity_id: str, ce: str, ae: str) -> Any:
    start = SecurityReviewStart(
        opportunity_id, "001ACME", "Acme", ae, ce, Region.US_WEST_APAC, None,
        roster=h.settings.security_roster, durations=h.settings.durations,
    )  # fmt: skip
    handle = await h.client.start_workflow(
        SecurityReviewWorkflow.run,
        SecurityReviewInput(start=start),
        id=security_review_workflow_id(opportunity_id),
        task_queue=h.task_queue,
    )
    return h.track(handle)


async def start_case(h: DevHarness, case_id: str, ce: str, ae: str) -> Any:
    start = RedAccountCaseStart(
        case_id, "001ACME", "Acme", 1, None, ae, ce, "usage fell", datetime.now(UTC),
        h.settings.health, h.settings.security_roster, "http://localhost:8233",
    )  # fmt: skip
    handle = await h.client.start_workflow(
        RedAccountWorkflow.run, start, id=case_id, task_queue=h.task_queue
    )
    return h.track(handle)


async def listed(client: Client, user: str, workflow_ids: set[str], now: datetime) -> TodoList:
    """The list once it has steps of exactly ``workflow_ids`` (visibility lags an upsert)."""
    for _ in range(300):
        todo = await todo_for(client, user, now)
        if {item.workflow_id for item in todo.items} == workflow_ids:
            return todo
        await asyncio.sleep(0.1)
    raise AssertionError(f"{user}: {todo}")


async def test_a_persons_steps_across_workflows_soonest_first_and_nobody_elses(
    dev_harness_factory: Any,
) -> None:
    ce, ae = people()
    other_ce, other_ae = people()
    tag = ce[-8:]
    async with dev_harness_factory() as h:
        trial = await start_trial(h, f"006T{tag}", ce, ae)
        account = await start_account(h, f"001A{tag}", ce, ae)
        review: WorkflowHandle[Any, Any] = await start_review(h, f"006R{tag}", ce, ae)
        case = await start_case(h, f"red-{tag}", ce, ae)
        # Someone else's workflows, to be neither listed nor asked.
        others = [
            await start_trial(h, f"006X{tag}", other_ce, other_ae),
            await start_account(h, f"001X{tag}", other_ce, other_ae),
        ]

        now = datetime.now(UTC)
        # The account at kickoff owes the CE its steps, nothing yet of the AE.
        ae_list = await listed(h.client, ae, {trial.id, review.id, case.id}, now)
        assert ("grant_access", review.id) in {(i.step, i.workflow_id) for i in ae_list.items}

        # The AE grants access: the review's next step is the CE's, and leaves the AE's list.
        await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("grant_access", ae)
        )
        await listed(h.client, ae, {trial.id, case.id}, now)

        client, calls = counting(h.client)
        later = now + timedelta(days=3, hours=12)
        mine = {trial.id, account.id, review.id, case.id}
        await listed(client, ce, mine, later)
        calls.listings.clear()
        calls.queried.clear()
        todo = await todo_for(client, ce, later)
        everything = (dict(calls.queried), list(calls.listings))
        calls.listings.clear()
        calls.queried.clear()
        first_two = await todo_for(client, ce, later, limit=2)
        next_due = {
            wid: (await h.client.get_workflow_handle(wid).describe()).typed_search_attributes.get(
                NEXT_DUE_AT
            )
            for wid in mine
        }

    # With a limit, only the workflows due soonest (NextDueAt, from the same listing) are asked.
    assert len(calls.listings) == 1 and sum(calls.queried.values()) == 2
    asked, not_asked = set(calls.queried), mine - set(calls.queried)
    assert max(next_due[wid] or later for wid in asked) <= min(
        next_due[wid] or later for wid in not_asked
    )
    assert first_two.workflows_named == 4 and first_two.not_asked == 2
    assert {item.workflow_id for item in first_two.items} == asked

    # One visibility query, then one state query of each workflow it named, and no other.
    queried, listings = everything
    assert len(listings) == 1 and "StepOwners" in listings[0]
    assert queried == dict.fromkeys(mine, 1)
    assert not {other.id for other in others} & set(queried)
    assert todo.not_answering == [] and todo.workflows_named == 4

    assert {item.workflow_id for item in todo.items} == mine
    assert all(item.owner == ce for item in todo.items)
    assert ("note_deployment_type", review.id) in {(i.step, i.workflow_id) for i in todo.items}
    assert ("action_plan", case.id) in {(i.step, i.workflow_id) for i in todo.items}
    dues = [item.due_at for item in todo.items if item.due_at is not None]
    assert dues == sorted(dues) and todo.items[0].due_at is not None
    assert [item.overdue for item in todo.items if item.due_at] == [due < later for due in dues]
    assert todo.overdue and len(todo.overdue) < len(todo.items)
    # The red case's action plan is due in three days: overdue three and a half days on.
    assert next(i for i in todo.items if i.workflow_id == case.id).overdue


async def test_the_security_ce_sees_a_step_they_own_without_being_the_ae_or_ce(
    dev_harness_factory: Any,
) -> None:
    ce, ae = people()
    tag = ce[-8:]
    async with dev_harness_factory() as h:
        # The review asks the roster (the settings' until rotated) for the region's Security CE.
        security_ce = h.settings.security_roster.us_west_apac
        review = await start_review(h, f"006S{tag}", ce, ae)
        await listed(h.client, ae, {review.id}, datetime.now(UTC))
        assert (await todo_for(h.client, security_ce, datetime.now(UTC))).items == []
        for done in (
            CompleteSecurityStep("grant_access", ae),
            CompleteSecurityStep("note_deployment_type", ce, deployment_type=DeploymentType.CLOUD),
            CompleteSecurityStep("ce_first_pass", ce),
        ):
            await review.execute_update(SecurityReviewWorkflow.complete_step, done)
        todo = await listed(h.client, security_ce, {review.id}, datetime.now(UTC))
    assert [(item.step, item.kind) for item in todo.items] == [
        ("security_ce_review", TodoKind.SECURITY_REVIEW)
    ]


async def test_the_cli_refuses_a_user_that_is_not_a_member_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["todo", "--user", "alice' OR 1=1"]) == 1
    assert "user: a Slack member id" in capsys.readouterr().err


async def test_the_cli_prints_a_persons_list_soonest_first(
    dev_harness_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ce, ae = people()
    async with dev_harness_factory() as h:
        trial = await start_trial(h, f"006C{ce[-8:]}", ce, ae)
        await listed(h.client, ae, {trial.id}, datetime.now(UTC))
        monkeypatch.setenv("DEALCYCLE_TEMPORAL_ADDRESS", h.client.service_client.config.target_host)
        assert await asyncio.to_thread(main, ["todo", "--user", ae]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"To do for {ae}: 2 open, 0 overdue")
    assert [line.split("  ")[2].split(" [")[0] for line in lines[1:]] == [
        "Business value assessment planning",
        "User survey planning",
    ]
    assert all(f"trial {trial.id}" in line for line in lines[1:])


async def test_status_says_overdue_what_the_todo_list_does_before_the_first_reminder(
    dev_harness_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A workflow wakes for a step's reminder, a day after its due date, not at the due date;
    its ``state`` query answers as of that last wake-up. `dealcycle status` judges a pending
    step against the clock, as `dealcycle todo` does: past due is overdue, not "pending"."""
    ce, ae = people()
    durations = Durations(planning_item_due_seconds=1, overdue_reminder_delay_seconds=3600)
    async with dev_harness_factory(durations=durations) as h:
        trial = await start_trial(h, f"006O{ce[-8:]}", ce, ae)
        await listed(h.client, ae, {trial.id}, datetime.now(UTC))
        await asyncio.sleep(1.5)
        monkeypatch.setenv("DEALCYCLE_TEMPORAL_ADDRESS", h.client.service_client.config.target_host)
        assert await asyncio.to_thread(main, ["todo", "--user", ae]) == 0
        assert await asyncio.to_thread(main, ["status", trial.id]) == 0
    todo, status = capsys.readouterr().out.split(f"{trial.id}  TrialWorkflow")
    assert todo.splitlines()[0].startswith(f"To do for {ae}: 2 open, 2 overdue")
    rows = {line.split()[0]: line.split() for line in status.splitlines() if line.strip()}
    assert rows["user_survey"][5] == "overdue" and rows["business_value_assessment"][5] == "overdue"
    # Not yet due (it opens at the trial's midpoint): still pending.
    assert rows["mid_trial_check_in"][4] == "pending"
