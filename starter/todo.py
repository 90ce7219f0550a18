"""``todo_for``: a person's open steps across every running workflow, soonest first.

Cheap at a thousand accounts: ONE visibility query names the running workflows with an open
step the person owns (the ``StepOwners`` search attribute the workflows keep, which names the
AE and CE but also a Value Engineer, the region's Security CE or PM); then only those are
asked for their ``state``, a bounded number at a time. A workflow that does not answer is
listed in ``not_answering`` rather than failing the whole list.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from schemas import search_attributes as sa
from schemas.account import ACCOUNT_WORKFLOW_TYPE, AccountState
from schemas.common import StepStatus
from schemas.errors import RuleViolation
from schemas.health import RED_ACCOUNT_WORKFLOW_TYPE, RedAccountState
from schemas.limits import MEMBER
from schemas.security_review import (
    SECURITY_REVIEW_WORKFLOW_TYPE,
    SecurityReviewPhase,
    SecurityReviewState,
)
from schemas.todo import TodoItem, TodoKind, TodoList
from schemas.trial import MID_TRIAL_CHECK_IN, TRIAL_WORKFLOW_TYPE, TrialPhase, TrialState
from starter.errors import CommandError
from starter.queries import query_workflow
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow
from workflows.trial_rules import PLANNING_KEYS

QUERY_CONCURRENCY = 32
"""State queries in flight at once: enough to hide round trips, few enough to spare the
server and the workers answering them."""
RED_ACCOUNT_STEP = "action_plan"
_OPEN = {StepStatus.PENDING.value, StepStatus.OVERDUE.value}

Reader = Callable[[Client, str, str], Awaitable["_Owed"]]


def todo_query(user: str) -> str:
    """The visibility query: running workflows where ``user`` owns an open step."""
    if not re.fullmatch(MEMBER.pattern or "", user):
        raise RuleViolation(f"user: {MEMBER.what} (got {user[:40]!r})")
    return f"ExecutionStatus = 'Running' AND {sa.STEP_OWNERS.name} = '{user}'"


async def todo_for(
    client: Client, user: str, now: datetime, *, concurrency: int = QUERY_CONCURRENCY
) -> TodoList:
    named = [
        (execution.id, execution.workflow_type)
        async for execution in client.list_workflows(todo_query(user))
    ]
    bound = asyncio.Semaphore(concurrency)
    not_answering: list[str] = []

    async def items_of(workflow_id: str, workflow_type: str) -> list[TodoItem]:
        read = READERS.get(workflow_type)
        if read is None:
            return []
        async with bound:
            try:
                return (await read(client, workflow_id, user)).items(workflow_id, user, now)
            except CommandError:
                not_answering.append(workflow_id)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                # It closed since the visibility query named it: nothing is owed there now.
            return []

    found = await asyncio.gather(*(items_of(wid, wtype or "") for wid, wtype in named))
    items = sorted(
        (item for items in found for item in items),
        key=lambda item: (item.due_at is None, item.due_at or now, item.workflow_id, item.step),
    )
    return TodoList(user, now, items, len(named), sorted(not_answering))


@dataclass(frozen=True)
class _Owed:
    """What a workflow's state says a person owes there."""

    kind: TodoKind
    name: str
    steps: list[tuple[str, str, datetime | None, str]]
    """``(key, title, due_at, role)`` of each open step the person owns."""

    def items(self, workflow_id: str, user: str, now: datetime) -> list[TodoItem]:
        return [
            TodoItem(
                workflow_id,
                self.kind,
                self.name,
                key,
                title,
                due_at,
                due_at is not None and due_at < now,
                user,
                role,
            )
            for key, title, due_at, role in self.steps
        ]


async def _trial_owes(client: Client, workflow_id: str, user: str) -> _Owed:
    handle = client.get_workflow_handle(workflow_id)
    state: TrialState = await query_workflow(client, handle, TrialWorkflow.state)
    # The steps owed now: planning before the trial, the check-in while it runs.
    owed = {
        TrialPhase.PLANNING: PLANNING_KEYS,
        TrialPhase.RUNNING: frozenset({MID_TRIAL_CHECK_IN.key}),
    }.get(state.phase, frozenset())
    return _Owed(
        TodoKind.TRIAL,
        f"{state.account_name} trial ({state.opportunity_id})",
        [
            (step.key, step.title, step.due_at, step.lead.value)
            for step in state.steps
            if step.owner == user and step.key in owed and step.status.value in _OPEN
        ],
    )


async def _account_owes(client: Client, workflow_id: str, user: str) -> _Owed:
    handle = client.get_workflow_handle(workflow_id)
    state: AccountState = await query_workflow(client, handle, AccountWorkflow.state)
    return _Owed(
        TodoKind.ACCOUNT,
        f"{state.account_name} ({state.account_id})",
        [
            (step.key, step.title, step.due_at, step.role)
            for step in state.open_steps
            if step.owner == user
        ],
    )


async def _security_review_owes(client: Client, workflow_id: str, user: str) -> _Owed:
    handle = client.get_workflow_handle(workflow_id)
    state: SecurityReviewState = await query_workflow(client, handle, SecurityReviewWorkflow.state)
    # ``waiting_on``: the steps whose owners can act now (their prerequisites are done).
    actionable = state.waiting_on if state.phase is SecurityReviewPhase.OPEN else []
    return _Owed(
        TodoKind.SECURITY_REVIEW,
        f"{state.account_name} security review ({state.opportunity_id})",
        [
            (step.key, step.title, step.due_at, step.role.value)
            for step in state.steps
            if step.owner == user and step.key in actionable
        ],
    )


async def _red_account_owes(client: Client, workflow_id: str, user: str) -> _Owed:
    handle = client.get_workflow_handle(workflow_id)
    state: RedAccountState = await query_workflow(client, handle, RedAccountWorkflow.state)
    owners = {"AE": state.ae_owner, "CE": state.ce_owner}
    missing = state.missing_from if state.resolved_at is None else []
    return _Owed(
        TodoKind.RED_ACCOUNT,
        f"{state.account_name} red case {state.case_id}",
        [
            (
                RED_ACCOUNT_STEP,
                f"Record your part of the action plan ({role})",
                state.action_plan_due_at,
                role,
            )
            for role in missing
            if owners.get(role) == user
        ],
    )


READERS: dict[str, Reader] = {
    TRIAL_WORKFLOW_TYPE: _trial_owes,
    ACCOUNT_WORKFLOW_TYPE: _account_owes,
    SECURITY_REVIEW_WORKFLOW_TYPE: _security_review_owes,
    RED_ACCOUNT_WORKFLOW_TYPE: _red_account_owes,
}
"""Per workflow type, how its state names a person's open steps."""
