"""Counting what went wrong, from what the fakes recorded, the idempotency ledger and the
workflows themselves.

1. duplicate writes: one idempotency key posted to Slack twice (the key travels as message
   metadata), or two Salesforce Tasks with one ``Dealcycle_Key__c``;
2. lost effects: a write the ledger or a workflow reports done that the fake never received,
   or owed work that makes no progress after the faults are lifted;
3. failed or stuck workflows: closed as Failed, Terminated or TimedOut, a workflow task
   failing again and again, or an activity still retrying once everything is healthy;
4. permanent failures not surfaced: a write refused for good (the archived channel, the
   invalid field) that its workflow's ``effects`` query does not show as failed, or whose
   workflow ``NeedsAttention = true`` does not find.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from dealcycle.db.engine import make_engine
from dealcycle.db.models import ExternalEffect
from dealcycle.fakes import Sandbox
from schemas.effects import EffectsView

EFFECTS_QUERY = "effects"
BAD_STATUSES = (
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT,
)
_TASK_FAILED = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
_TASK_COMPLETED = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


@dataclass
class Findings:
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    failed_or_stuck: list[str] = field(default_factory=list)
    not_surfaced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    posts: int = 0
    tasks: int = 0
    workflows: int = 0

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.lost or self.failed_or_stuck or self.not_surfaced)


def post_key(params: Mapping[str, Any]) -> str | None:
    """The idempotency key in a ``chat.postMessage`` call's (or message's) metadata."""
    metadata = params.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    if not isinstance(metadata, dict):
        return None
    payload = metadata.get("event_payload") or {}
    key = payload.get("idempotency_key") if isinstance(payload, dict) else None
    return str(key) if key else None


_EDIT_KEY = re.compile(r"/prompt/(\d+\.\d+)/done$")


def _edited_prompt(key: str) -> str | None:
    """The ts of the prompt a message-update effect's key names (".../prompt/<ts>/done")."""
    match = _EDIT_KEY.search(key)
    return match.group(1) if match else None


def _duplicates(keys: Iterable[str | None], what: str) -> list[str]:
    counts = Counter(key for key in keys if key)
    return [f"{what} {key!r} written {n} times" for key, n in counts.items() if n > 1]


def ledger_rows(database_url: str) -> list[ExternalEffect]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.execute(select(ExternalEffect)).scalars())
    finally:
        engine.dispose()


async def workflow_ids(client: Client, task_queue: str) -> list[str]:
    ids = []
    async for execution in client.list_workflows(f'TaskQueue = "{task_queue}"'):
        ids.append(execution.id)
    return sorted(set(ids))


async def effects_views(client: Client, ids: Iterable[str]) -> dict[str, Any]:
    """Each workflow's ``effects`` query answer (closed ones too: queries reach them)."""
    views: dict[str, Any] = {}
    for workflow_id in ids:
        try:
            views[workflow_id] = await client.get_workflow_handle(workflow_id).query(
                EFFECTS_QUERY, result_type=EffectsView
            )
        except Exception as error:  # a workflow without the query is reported, not fatal
            views[workflow_id] = error
    return views


async def needing_attention(client: Client) -> set[str] | None:
    try:
        return {e.id async for e in client.list_workflows("NeedsAttention = true")}
    except Exception:
        return None


async def unhealthy(client: Client, workflow_id: str) -> str | None:
    """Why the workflow counts as failed or stuck, or None."""
    handle = client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    if description.status in BAD_STATUSES:
        return f"{workflow_id} is {description.status.name}"
    raw = description.raw_description
    if raw.HasField("pending_workflow_task") and raw.pending_workflow_task.attempt > 1:
        return f"{workflow_id}: its workflow task is on attempt {raw.pending_workflow_task.attempt}"
    failed_in_a_row = 0
    async for event in handle.fetch_history_events():
        if event.event_type == _TASK_FAILED:
            failed_in_a_row += 1
            if failed_in_a_row >= 2:
                return f"{workflow_id}: its workflow task failed {failed_in_a_row} times in a row"
        elif event.event_type == _TASK_COMPLETED:
            failed_in_a_row = 0
    for activity in raw.pending_activities:
        if activity.attempt > 1:
            cause = activity.last_failure.message[:200] if activity.HasField("last_failure") else ""
            return (
                f"{workflow_id}: {activity.activity_type.name} still retrying after the faults"
                f" were lifted (attempt {activity.attempt}: {cause})"
            )
    return None


def _update_landed(sandbox: Sandbox, result: Mapping[str, Any] | None) -> bool:
    if not result:
        return False
    sobject, record_id = str(result.get("sobject", "")), str(result.get("record_id", ""))
    pattern = rf"/sobjects/{re.escape(sobject)}/{re.escape(record_id)}"
    return any(
        200 <= call.status < 300 and not call.faulted
        for call in sandbox.salesforce.calls_to(pattern, "PATCH")
    )


async def audit(
    client: Client,
    sandbox: Sandbox,
    database_url: str,
    task_queue: str,
    *,
    archived_channel_ids: set[str],
    poisoned_records: set[str],
    stalled: set[tuple[str, str]],
) -> Findings:
    """The four counts. ``stalled``: (workflow, effect key) pairs pending in two snapshots
    taken apart after the faults were lifted."""
    findings = Findings()
    ids = await workflow_ids(client, task_queue)
    findings.workflows = len(ids)
    views = await effects_views(client, ids)
    # The ledger before the fakes: a write is made before its row says done, so whatever
    # the ledger says done the fakes have by now.
    rows = ledger_rows(database_url)
    messages = sandbox.slack.messages
    tasks = sandbox.salesforce.records("Task")
    findings.posts, findings.tasks = len(messages), len(tasks)
    posted = {post_key(m.to_dict()) for m in messages}
    # chat.update needs no ledger (it is idempotent): an edited prompt is its witness.
    edited = {m.ts for m in messages if m.edited}
    task_keys = {str(t.get("Dealcycle_Key__c")) for t in tasks}

    findings.duplicates += _duplicates((post_key(m.to_dict()) for m in messages), "Slack post")
    findings.duplicates += _duplicates(
        (t.get("Dealcycle_Key__c") for t in tasks), "Salesforce Task"
    )

    done_in_ledger = {row.idempotency_key for row in rows if row.status == "done"}
    for row in rows:
        if row.status != "done":
            continue
        if row.kind == "slack_post" and row.idempotency_key not in posted:
            findings.lost.append(f"Slack post {row.idempotency_key}: done in the ledger only")
        elif row.kind == "salesforce_task" and row.idempotency_key not in task_keys:
            findings.lost.append(f"Task {row.idempotency_key}: done in the ledger only")
        elif row.kind == "salesforce_update" and not _update_landed(sandbox, row.result):
            findings.lost.append(
                f"update {row.idempotency_key} done in the ledger, never accepted by Salesforce"
            )
    failed_keys: dict[str, str] = {}
    for workflow_id, view in views.items():
        if isinstance(view, Exception):
            findings.notes.append(f"{workflow_id}: effects query failed: {view}")
            continue
        for effect in view.effects:
            if effect.state == "done" and not (
                effect.key in posted
                or effect.key in task_keys
                or effect.key in done_in_ledger
                or _edited_prompt(effect.key) in edited
            ):
                findings.lost.append(f"{workflow_id}: {effect.key} done, never written")
            if effect.state == "failed":
                failed_keys[effect.key] = workflow_id
    findings.lost += [f"{wf}: {key} owed and not progressing" for wf, key in sorted(stalled)]

    for workflow_id in ids:
        why = await unhealthy(client, workflow_id)
        if why:
            findings.failed_or_stuck.append(why)

    flagged = await needing_attention(client)
    if views == {}:
        findings.notes.append(
            "schemas.effects has no EffectsView yet: every permanent failure counts as not"
            " surfaced until the effects mechanism is merged"
        )
    if flagged is None:
        findings.notes.append("the NeedsAttention search attribute is not registered")
        flagged = set()
    refused_keys = {
        key
        for call in sandbox.slack.calls_to(r"^/api/chat\.postMessage$")
        if isinstance(call.json, dict)
        and _channel_of(call.json, sandbox) in archived_channel_ids
        and (key := post_key(call.json))
    }
    for key in sorted(refused_keys):
        owner = failed_keys.get(key)
        if owner is None:
            findings.not_surfaced.append(f"post {key} to an archived channel: no failed effect")
        elif owner not in flagged:
            findings.not_surfaced.append(f"{owner}: failed post {key}, NeedsAttention not set")
    for record_id in sorted(poisoned_records):
        refused = sandbox.salesforce.calls_to(rf"/sobjects/\w+/{re.escape(record_id)}", "PATCH")
        if not any(call.status == 400 for call in refused):
            findings.notes.append(f"no write to {record_id} was refused (nothing to surface)")
            continue
        owners = [wf for wf in ids if wf.endswith(record_id)]
        for owner in owners:
            view = views.get(owner)
            has_failed = not isinstance(view, Exception | None) and any(
                e.state == "failed" for e in view.effects
            )
            if not has_failed:
                findings.not_surfaced.append(f"{owner}: INVALID_FIELD, no failed effect")
            elif owner not in flagged:
                findings.not_surfaced.append(f"{owner}: failed effect, NeedsAttention not set")
    return findings


def _channel_of(params: Mapping[str, Any], sandbox: Sandbox) -> str | None:
    channel = str(params.get("channel") or "")
    return sandbox.slack.channel_id(channel) if channel else None
