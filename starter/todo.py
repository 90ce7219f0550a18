"""``todo_for``: a person's open steps across every running workflow, soonest first.

Cheap at a thousand accounts: ONE visibility query names the running workflows with an open
step the person owns (the ``StepOwners`` search attribute the workflows keep, which names the
AE and CE but also a Value Engineer, the region's Security CE or PM); then only those are
asked for their open steps (the small ``open_steps`` query, not the whole ``state``), a
bounded number at a time. A workflow that does not answer is listed in ``not_answering``
rather than failing the whole list.

A person can own steps in a thousand workflows, and a worker answers queries one at a time
(about 6 ms each): asking every one would take seconds. The listing already carries each
workflow's ``NextDueAt``, so only the ``limit`` workflows due soonest are asked (a Slack
message or the App Home shows a few dozen steps at most); the rest are counted in
``not_asked``, and ``limit=None`` asks them all (``dealcycle todo --all``, the digest does not
need it: its DM lists the soonest steps).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from schemas import search_attributes as sa
from schemas.account import ACCOUNT_WORKFLOW_TYPE
from schemas.errors import RuleViolation
from schemas.health import RED_ACCOUNT_WORKFLOW_TYPE
from schemas.limits import MEMBER
from schemas.security_review import SECURITY_REVIEW_WORKFLOW_TYPE
from schemas.todo import OpenSteps, TodoItem, TodoList
from schemas.trial import TRIAL_WORKFLOW_TYPE
from starter.errors import CommandError
from starter.queries import query_workflow
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

DEFAULT_LIMIT = 50
"""Workflows asked for their steps, the soonest due first (``NextDueAt`` from the listing)."""

QUERY_CONCURRENCY = 16
"""Queries in flight at once: a few hide the round trips; more only queue up at the worker,
which answers them one at a time (bench/todo_list.py)."""

OPEN_STEPS_QUERIES: dict[str, Callable[[Any], OpenSteps]] = {
    TRIAL_WORKFLOW_TYPE: TrialWorkflow.open_steps,
    ACCOUNT_WORKFLOW_TYPE: AccountWorkflow.open_steps,
    SECURITY_REVIEW_WORKFLOW_TYPE: SecurityReviewWorkflow.open_steps,
    RED_ACCOUNT_WORKFLOW_TYPE: RedAccountWorkflow.open_steps,
}
"""The workflow types with steps, and their ``open_steps`` query."""


def todo_query(user: str) -> str:
    """The visibility query: running workflows where ``user`` owns an open step."""
    if not re.fullmatch(MEMBER.pattern or "", user):
        raise RuleViolation(f"user: {MEMBER.what} (got {user[:40]!r})")
    return f"ExecutionStatus = 'Running' AND {sa.STEP_OWNERS.name} = '{user}'"


async def todo_for(
    client: Client,
    user: str,
    now: datetime,
    *,
    limit: int | None = DEFAULT_LIMIT,
    concurrency: int = QUERY_CONCURRENCY,
) -> TodoList:
    listed = [
        (
            execution.typed_search_attributes.get(sa.NEXT_DUE_AT),
            execution.id,
            execution.workflow_type,
        )
        async for execution in client.list_workflows(todo_query(user))
    ]
    # Soonest first; a workflow with no due date known (none of its steps has one) last.
    listed.sort(key=lambda entry: (entry[0] is None, entry[0] or now, entry[1]))
    asked = listed if limit is None else listed[:limit]
    named = [(workflow_id, workflow_type) for _, workflow_id, workflow_type in asked]
    bound = asyncio.Semaphore(concurrency)
    not_answering: list[str] = []

    async def items_of(workflow_id: str, workflow_type: str) -> list[TodoItem]:
        query = OPEN_STEPS_QUERIES.get(workflow_type)
        if query is None:
            return []
        async with bound:
            try:
                view: OpenSteps = await query_workflow(
                    client, client.get_workflow_handle(workflow_id), query
                )
            except CommandError:
                not_answering.append(workflow_id)
                return []
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                return []  # closed since the visibility query named it: nothing owed there
        return [
            TodoItem(
                workflow_id,
                view.kind,
                view.name,
                step.key,
                step.title,
                step.due_at,
                step.due_at is not None and step.due_at < now,
                step.owner,
                step.role,
            )
            for step in view.steps
            if step.owner == user
        ]

    found = await asyncio.gather(*(items_of(wid, wtype or "") for wid, wtype in named))
    items = sorted(
        (item for items in found for item in items),
        key=lambda item: (item.due_at is None, item.due_at or now, item.workflow_id, item.step),
    )
    return TodoList(
        user, now, items, len(listed), sorted(not_answering), not_asked=len(listed) - len(asked)
    )
