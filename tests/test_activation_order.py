"""An update that comes right after an effect's quiet end replays alike however the SDK's core
cuts the history into activations.

Core merges a workflow task that issued no commands with the next one when it replays a run
from its start (sdk-rust#1606): a worker restarted or with the workflow out of its cache saw
the update and the activity result in one activation, where a later replay saw them apart. By
default the update then ran before the result was applied, found the effect's lane busy and
issued its commands in another order: every later task failed with a nondeterminism error
(seen with ``max_cached_workflows=0``: two runs in three). ``worker.build_worker`` has every
job of an activation applied first (``dealcycle.activation_order``).

Here the merge is made by hand, deterministically: the recorded history's no-command task is
removed so its result and the update share the update's task.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from schemas.common import TechnicalWinStatus
from schemas.trial import SetTechnicalWin
from tests.support.codec import TEST_DATA_CONVERTER
from tests.support.patience import settle
from tests.test_trial_workflow import CE, complete_planning, start
from worker import WORKFLOWS
from workflows.trial import TrialWorkflow

TASK_SCHEDULED = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
UPDATE_ACCEPTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
ACTIVITY_COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED


def _renumber(message: Message, ids: dict[int, int]) -> None:
    """Every ``*event_id`` field of ``message``, however deep, mapped through ``ids``."""
    for descriptor, value in message.ListFields():
        if descriptor.type == descriptor.TYPE_MESSAGE:
            if descriptor.message_type.GetOptions().map_entry:
                children = [v for v in value.values() if isinstance(v, Message)]
            elif descriptor.is_repeated:
                children = list(value)
            else:
                children = [value]
            for child in children:
                _renumber(child, ids)
        elif descriptor.name.endswith("event_id") and not descriptor.is_repeated:
            if value in ids:
                setattr(message, descriptor.name, ids[value])


def without_events(history: WorkflowHistory, dropped: set[int]) -> WorkflowHistory:
    kept = [event for event in history.events if event.event_id not in dropped]
    ids = {event.event_id: number for number, event in enumerate(kept, start=1)}
    merged = History()
    for event in kept:
        copy = merged.events.add()
        copy.CopyFrom(event)
        _renumber(copy, ids)
    return WorkflowHistory(history.workflow_id, list(merged.events))


def quiet_tasks_before_an_update(events: list[HistoryEvent]) -> list[set[int]]:
    """The events (scheduled, started, completed) of each workflow task that followed an
    activity's result, issued no commands and was followed at once by the task of an
    update: what core merges."""
    found = []
    for i, event in enumerate(events):
        if (
            event.event_type == TASK_COMPLETED
            and i >= 3
            and events[i - 3].event_type == ACTIVITY_COMPLETED
            and i + 4 < len(events)
            and events[i + 1].event_type == TASK_SCHEDULED
            and events[i + 4].event_type == UPDATE_ACCEPTED
        ):
            found.append({events[i - 2].event_id, events[i - 1].event_id, event.event_id})
    return found


async def test_an_update_after_an_effects_quiet_end_replays_when_core_merges_the_tasks(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006MERGE1")
        await complete_planning(handle)
        await settle(handle)
        # Each writes the technical win to Salesforce (an activity, one lane) and posts it.
        for status in (TechnicalWinStatus.IN_PROGRESS, TechnicalWinStatus.AT_RISK):
            await settle(handle)
            await handle.execute_update(
                TrialWorkflow.set_technical_win, SetTechnicalWin(status, CE)
            )
        await settle(handle)
        history = await handle.fetch_history()

    quiet = quiet_tasks_before_an_update(list(history.events))
    # The second update comes after the first's Salesforce write ended quietly, at least.
    assert quiet, "no workflow task without commands just before an update's"
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=TEST_DATA_CONVERTER)
    assert (
        await replayer.replay_workflow(history, raise_on_replay_failure=False)
    ).replay_failure is None
    for dropped in quiet:
        merged = without_events(history, dropped)
        result = await replayer.replay_workflow(merged, raise_on_replay_failure=False)
        assert result.replay_failure is None, (sorted(dropped), result.replay_failure)
