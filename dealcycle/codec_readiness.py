"""Before a worker polls: can its codec keys read the workflows already running on its queue?

A worker given the wrong keys (a new key without the old one, or none) started as any other
and took tasks: every workflow task it got failed to decode and was retried elsewhere, and
every activity attempt it got failed with "Failed decoding arguments", using up the effect's
budget; an activity that timed out on one of its attempts could leave a failure the other
workers cannot read. It now refuses to start, naming the key it lacks.
"""

from __future__ import annotations

from temporalio.client import Client

from dealcycle.codec import ENCODING, KEY_ID_METADATA, KEYS_FILE_VAR, KEYS_VAR

SAMPLE = 20
"""Running workflows looked at (the newest): each costs a visibility row and one event."""


async def unreadable_workflows(
    client: Client, task_queue: str, key_ids: frozenset[str], sample: int = SAMPLE
) -> dict[str, str]:
    """Workflow id -> the key id its start input is encrypted with, for each of the newest
    ``sample`` running workflows on ``task_queue`` that none of ``key_ids`` opens."""
    unreadable: dict[str, str] = {}
    query = f'TaskQueue = "{task_queue}" AND ExecutionStatus = "Running"'
    async for execution in client.list_workflows(query, limit=sample):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for event in handle.fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            for payload in started.input.payloads:
                if payload.metadata.get("encoding") != ENCODING:
                    continue
                key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
                if key_id not in key_ids:
                    unreadable[execution.id] = key_id
            break
    return unreadable


def refusal(unreadable: dict[str, str], key_ids: frozenset[str]) -> str:
    missing = sorted(set(unreadable.values()))
    example = next(iter(unreadable))
    known = ", ".join(sorted(key_ids)) or "none: the codec is off"
    return (
        f"the worker cannot read {len(unreadable)} running workflow(s) (e.g. {example}):"
        f" their payloads are encrypted with key id(s) {', '.join(missing)}, and its keys are"
        f" {known}; add the old key(s) after the current one in {KEYS_VAR} or {KEYS_FILE_VAR}"
    )
