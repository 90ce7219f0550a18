"""``dealcycle effects``: the failed effects of every workflow, and a person's retry or skip.

A failed effect is a write a service refused for good (an archived channel, an invalid field,
revoked credentials) or that ran out of its time budget. Its workflow carries on and shows it;
once the cause is fixed, a retry runs the same request under its original idempotency key, so
it lands exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from schemas.effects import EffectsView, EffectView, RetryEffect, SkipEffect
from starter.provenance import stamped
from starter.queries import update_workflow
from starter.trials import CommandError, within_limits, workflow_handle
from workflows.owed_work import OwedWorkHandlers

WITH_OWED_WORK = (
    "TrialWorkflow",
    "OpportunityWorkflow",
    "SecurityReviewWorkflow",
    "AccountWorkflow",
    "RedAccountWorkflow",
)
NEEDS_ATTENTION_QUERY = 'NeedsAttention = true AND ExecutionStatus = "Running"'


@dataclass(frozen=True)
class FailedEffect:
    workflow_id: str
    workflow_type: str
    effect: EffectView | None
    problem: str = ""
    """Set when the workflow could not be asked (it is not answering)."""


async def failed_effects(client: Client) -> list[FailedEffect]:
    """Every running workflow's failed effects: one visibility query, then a query of only the
    workflows it names."""
    found: list[FailedEffect] = []
    async for listed in client.list_workflows(NEEDS_ATTENTION_QUERY):
        handle = client.get_workflow_handle(listed.id, run_id=listed.run_id)
        try:
            view: EffectsView = await handle.query(OwedWorkHandlers.effects)
        except RPCError as err:
            found.append(FailedEffect(listed.id, listed.workflow_type, None, err.message))
            continue
        found.extend(
            FailedEffect(listed.id, listed.workflow_type, effect)
            for effect in view.effects
            if effect.state == "failed" and not effect.optional
        )
    return found


def render_failed(found: list[FailedEffect]) -> str:
    if not found:
        return "no failed effects: nothing needs attention"
    lines = [f"{len(found)} failed effect(s):"]
    for entry in found:
        if entry.effect is None:
            lines.append(f"- {entry.workflow_id} ({entry.workflow_type}): {entry.problem}")
            continue
        effect = entry.effect
        lines.append(
            f"- {entry.workflow_id} ({entry.workflow_type}) {effect.name} [{effect.kind}]"
            f" since {_when(effect.changed_at)}: {effect.cause}"
        )
        if effect.retry_refused:
            lines.append(f"    not to be retried: {effect.retry_refused}")
            lines.append(f"    skip: {_skip_command(entry.workflow_id, effect)}")
        else:
            lines.append(
                f"    retry: dealcycle effects retry {entry.workflow_id} {effect.name} --by U…"
            )
    return "\n".join(lines)


def _skip_command(workflow_id: str, effect: EffectView) -> str:
    return f"dealcycle effects skip {workflow_id} {effect.name} --reason … --by U…"


async def change_effect(client: Client, workflow_id: str, request: RetryEffect | SkipEffect) -> str:
    request = stamped(request)
    within_limits(request)
    handle, description = await workflow_handle(client, workflow_id, WITH_OWED_WORK)
    if description.status is None or description.status.name != "RUNNING":
        raise CommandError(f"{workflow_id} is not running; its effects cannot change")
    update: Any = (
        OwedWorkHandlers.retry_effect
        if isinstance(request, RetryEffect)
        else OwedWorkHandlers.skip_effect
    )
    try:
        accepted = await update_workflow(client, handle, update, request)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise CommandError(f"rejected: {message}") from None
    return str(accepted.message)


async def effects_section(client: Client, workflow_id: str) -> str:
    """What ``dealcycle status`` adds under a workflow's table: its failed and pending effects."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        view: EffectsView = await handle.query(OwedWorkHandlers.effects)
    except (RPCError, WorkflowQueryFailedError):  # no owed work (an intake run): nothing to add
        return ""
    return render_effects(view)


def render_effects(view: EffectsView) -> str:
    failed = [e for e in view.effects if e.state == "failed" and not e.optional]
    pending = [e for e in view.effects if e.state == "pending"]
    if not failed and not pending:
        return ""
    lines = []
    if failed:
        lines.append(f"Failed effects ({len(failed)}), needs attention:")
        for effect in failed:
            lines.append(f"  ✗ {effect.name} [{effect.kind}] {effect.summary}")
            lines.append(f"      why: {effect.cause}")
            if effect.retry_refused:
                lines.append(f"      not to be retried: {effect.retry_refused}")
                lines.append(f"      skip it: {_skip_command(view.workflow_id, effect)}")
                continue
            lines.append(
                f"      fix the cause, then: dealcycle effects retry {view.workflow_id}"
                f" {effect.name} --by U…   (or: dealcycle effects skip … --reason …)"
            )
    if pending:
        lines.append(f"Effects in progress ({len(pending)}):")
        lines.extend(f"  … {effect.name} [{effect.kind}] {effect.summary}" for effect in pending)
    return "\n".join(lines)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
