"""A workflow that cannot answer a query, or take an action, is explained as soon as Temporal's
records say why, not once the query has timed out or never (``starter.queries``), on the real
dev server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest
from temporalio.client import Client, WorkflowHandle

from schemas.common import Role
from schemas.effects import RetryEffect
from schemas.trial import CompleteStep
from starter import accounts, effects, queries, trials
from starter.errors import CommandError
from tests.support.dev_temporal import dev_client
from workflows.trial import TrialWorkflow

__all__ = ["dev_client"]  # the dev-server fixture, shared
QUICK = timedelta(milliseconds=500)
"""``EXPLAIN_AFTER`` in the tests whose workflow no worker polls: a reason is there at once."""


async def idle(
    client: Client, kind: str, workflow_id: str, task_queue: str
) -> WorkflowHandle[Any, Any]:
    """A workflow started on ``task_queue``, where no worker of ours polls."""
    return await client.start_workflow(kind, id=workflow_id, task_queue=task_queue)


async def test_a_workflow_no_worker_polls_for_is_explained_before_its_query_times_out(
    dev_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"nobody-polls-{uuid.uuid4()}"
    handle = await idle(dev_client, "TrialWorkflow", f"trial-IDLE-{uuid.uuid4()}", nobody)
    # The explanation must come while the query is still unanswered: it is cancelled, not
    # timed out (by us, or by the server's own deadline for a query nobody takes).
    monkeypatch.setattr(queries, "QUERY_TIMEOUT", timedelta(hours=1))
    ends: list[str] = []
    ask = handle.query

    async def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            return await ask(*args, **kwargs)
        except asyncio.CancelledError:
            ends.append("cancelled")
            raise
        except BaseException as err:
            ends.append(type(err).__name__)
            raise

    monkeypatch.setattr(handle, "query", watched)
    with pytest.raises(CommandError) as refused:
        await asyncio.wait_for(
            queries.query_workflow(dev_client, handle, TrialWorkflow.state), timeout=120
        )
    assert ends == ["cancelled"]
    assert str(refused.value).startswith(f"{handle.id} is not answering: no worker polls")
    assert repr(nobody) in str(refused.value)
    await handle.terminate()


async def test_an_action_no_worker_takes_is_explained_not_left_waiting(
    dev_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"nobody-polls-{uuid.uuid4()}"
    handle = await idle(dev_client, "TrialWorkflow", f"trial-IDLE-{uuid.uuid4()}", nobody)
    monkeypatch.setattr(queries, "UPDATE_PATIENCE", timedelta(hours=1))
    monkeypatch.setattr(queries, "EXPLAIN_AFTER", QUICK)
    started = asyncio.get_running_loop().time()
    with pytest.raises(CommandError) as refused:
        await asyncio.wait_for(
            queries.update_workflow(dev_client, handle, "complete_step", {}), timeout=120
        )
    waited = asyncio.get_running_loop().time() - started
    message = str(refused.value)
    assert message.startswith(f"{handle.id} is not answering: no worker polls")
    assert repr(nobody) in message
    # Said at once (after EXPLAIN_AFTER), and what to do before sending it again.
    assert waited < 30
    assert f"check with `dealcycle status {handle.id}` before sending it again" in message
    await handle.terminate()


async def test_an_action_a_stalled_worker_holds_is_given_up_after_the_patience(
    dev_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that polls but never answers (stopped, overloaded): Temporal's records see a
    poller and a started task, so only the patience ends the wait."""
    stalled = f"stalled-{uuid.uuid4()}"
    poll = asyncio.ensure_future(
        dev_client.workflow_service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(
                namespace=dev_client.namespace,
                task_queue=TaskQueue(name=stalled),
                identity="a stalled worker",
            )
        )
    )
    handle = await dev_client.start_workflow(
        "TrialWorkflow", id=f"trial-STALLED-{uuid.uuid4()}", task_queue=stalled
    )
    await asyncio.wait_for(poll, timeout=30)  # the task is taken, and never answered
    monkeypatch.setattr(queries, "EXPLAIN_AFTER", QUICK)
    monkeypatch.setattr(queries, "UPDATE_PATIENCE", timedelta(seconds=2))
    with pytest.raises(CommandError) as refused:
        await asyncio.wait_for(
            queries.update_workflow(dev_client, handle, "complete_step", {}), timeout=60
        )
    message = str(refused.value)
    assert "it did not take the action within 2 s" in message, message
    assert "before sending it again" in message
    await handle.terminate()


@pytest.mark.parametrize("command", ["account step", "trial step", "effects retry"])
async def test_every_cli_action_explains_a_workflow_no_worker_takes(
    dev_client: Client, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account, trial (and opportunity, security review, red account) and effect commands
    all send their actions through ``update_workflow``."""
    monkeypatch.setattr(queries, "EXPLAIN_AFTER", QUICK)
    nobody = f"nobody-polls-{uuid.uuid4()}"
    suffix = uuid.uuid4().hex[:10].upper()
    kind = "AccountWorkflow" if command == "account step" else "TrialWorkflow"
    workflow_id = f"account-001{suffix}" if kind == "AccountWorkflow" else f"trial-006{suffix}"
    handle = await idle(dev_client, kind, workflow_id, nobody)
    sending: Any
    if command == "account step":
        sending = accounts.complete_step(
            dev_client, workflow_id, "kickoff-plan", actor="U0CE1", role=Role.CE
        )
    elif command == "trial step":
        sending = trials.act(
            dev_client, workflow_id, "complete_step", CompleteStep("user_survey", "U0AE1", Role.AE)
        )
    else:
        sending = effects.change_effect(dev_client, workflow_id, RetryEffect("kickoff", "U0OPS1"))
    with pytest.raises(CommandError, match="is not answering: no worker polls") as refused:
        await asyncio.wait_for(sending, timeout=60)
    assert "before sending it again" in str(refused.value)
    await handle.terminate()
