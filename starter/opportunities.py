"""Client-side operations on opportunities: start one, and show it with its children."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from dealcycle.settings import Settings
from schemas import search_attributes as sa
from schemas import start_summaries
from schemas.effects import EffectView
from schemas.errors import RuleViolation
from schemas.opportunity import (
    OPPORTUNITY_WORKFLOW_TYPE,
    SECURITY_REVIEW_CHILD,
    TRIAL_CHILD,
    ChildLink,
    ChildLinkKind,
    OpportunityInput,
    OpportunityStart,
    OpportunityState,
    StartOpportunityTrial,
    child_effect_name,
    opportunity_workflow_id,
)
from schemas.trial import TRIAL_WORKFLOW_TYPE, TrialState
from starter.effects import effects_section
from starter.provenance import by_via
from starter.queries import query_workflow
from starter.tables import clock_for, status_now, table, when
from starter.trials import CommandError, act, workflow_handle
from workflows.opportunity import OpportunityWorkflow
from workflows.opportunity_rules import check_start
from workflows.trial import TrialWorkflow


def opportunity_start_for(settings: Settings, **fields: Any) -> OpportunityStart:
    start = OpportunityStart(
        durations=settings.durations,
        roster=settings.security_roster,
        announce_channel=settings.slack.trial_channel,
        **fields,
    )
    try:
        check_start(start, datetime.now(UTC))
    except RuleViolation as err:
        raise CommandError(err.message) from None
    return start


async def start_opportunity(client: Client, settings: Settings, start: OpportunityStart) -> str:
    workflow_id = opportunity_workflow_id(start.opportunity_id)
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(sa.OPPORTUNITY_ID, start.opportunity_id),
            SearchAttributePair(sa.ACCOUNT_ID, start.account_id),
            SearchAttributePair(sa.LIFECYCLE_STAGE, start.stage.value),
            SearchAttributePair(sa.CE_OWNER, start.ce_owner),
            SearchAttributePair(sa.AE_OWNER, start.ae_owner),
            SearchAttributePair(sa.REGION, start.region.value),
        ]
    )
    shown = start_summaries.opportunity(start)
    try:
        await client.start_workflow(
            OpportunityWorkflow.run,
            OpportunityInput(start=start),
            id=workflow_id,
            task_queue=settings.task_queue,
            search_attributes=attributes,
            static_summary=shown.summary,
            static_details=shown.details,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise CommandError(
            f"{workflow_id} already exists; see `dealcycle status {workflow_id}`"
        ) from None
    return workflow_id


async def start_opportunity_trial(
    client: Client, workflow_id: str, request: StartOpportunityTrial
) -> str:
    """``opportunity trial``: the workflow's answer (trial started, or adopted), and for an
    adopted trial whose owners are not the opportunity's, who they are; for one adopted when a
    length was asked for, that the length was not applied."""
    answer = await act(client, workflow_id, "start_trial", request, (OPPORTUNITY_WORKFLOW_TYPE,))
    return answer + await _adopted_note(client, workflow_id, request.length_days)


async def _adopted_note(client: Client, workflow_id: str, length_days: int | None) -> str:
    """An adopted trial keeps the CE and AE it was started with, and its steps stay theirs.
    Those may not be the opportunity's: said by name, a person can reassign them (nothing is
    reassigned here, and the workflow cannot compare: it knows the trial only by its id).
    It keeps its length too: a ``--length-days`` asked for is said not to be applied."""
    handle, _ = await workflow_handle(client, workflow_id, (OPPORTUNITY_WORKFLOW_TYPE,))
    opportunity: OpportunityState = await query_workflow(client, handle, OpportunityWorkflow.state)
    link = opportunity.trial_link
    if link is None or link.how is not ChildLinkKind.ADOPTED:
        return ""
    try:
        trial_handle, _ = await workflow_handle(client, link.workflow_id, (TRIAL_WORKFLOW_TYPE,))
        trial: TrialState = await query_workflow(client, trial_handle, TrialWorkflow.state)
    except CommandError as err:  # the adoption stands; only the comparison is missing
        return f"\ncould not compare the trial's owners with this opportunity's: {err}"
    differ = [
        f"the trial's {role} is {theirs}, this opportunity's {role} is {ours}"
        for role, theirs, ours in (
            ("CE", trial.ce_owner, opportunity.ce_owner),
            ("AE", trial.ae_owner, opportunity.ae_owner),
        )
        if theirs != ours
    ]
    note = ""
    if differ:
        note += (
            "\nits owners differ from this opportunity's: " + "; ".join(differ) + "."
            " The trial's steps stay with its owners; nothing was reassigned."
        )
    if length_days is not None:
        ends = f" (it ends {trial.ends_at:%Y-%m-%d %H:%M} UTC)" if trial.ends_at else ""
        when = "" if trial.ends_at else " once it runs"
        note += (
            f"\n--length-days {length_days} was not applied: an adopted trial keeps the length"
            f" it was started with{ends}; `dealcycle trial extend {trial.workflow_id}` moves"
            f" its end{when}."
        )
    return note


async def render_opportunity_status(
    client: Client, workflow_id: str, ui_url: str, namespace: str
) -> str:
    handle, description = await workflow_handle(client, workflow_id, (OPPORTUNITY_WORKFLOW_TYPE,))
    state: OpportunityState = await query_workflow(client, handle, OpportunityWorkflow.state)
    status = description.status.name if description.status else "UNKNOWN"
    lines = [
        f"{workflow_id}  OpportunityWorkflow  {status}",
        f"Account      {state.account_name} ({state.account_id})",
        f"Opportunity  {state.opportunity_id}  ({state.kind.value}, {state.region.value})",
        f"CE / AE      {state.ce_owner} / {state.ae_owner}",
        f"Stage        {state.stage.value}  [{state.status.value}]",
        f"Tech. win    {state.technical_win.value}",
        f"TDD          {state.tdd_url or '-'}  parts done: "
        + (", ".join(part.value for part in state.tdd_parts_done) or "none"),
        f"Deal review  {state.deal_review or ('required' if state.complex_engagement else '-')}",
    ]
    if state.closed_reason:
        lines.append(f"Reason       {state.closed_reason}")
    for label, link, key in (
        ("Trial", state.trial_link, child_effect_name(TRIAL_CHILD)),
        ("Security", state.security_review_link, child_effect_name(SECURITY_REVIEW_CHILD)),
    ):
        if link is not None:
            effect = next((e for e in state.effects if e.name == key), None)
            lines.append(f"{label:<12} {_link_line(link, effect)}")
    lines.append("")
    lines.append(
        table(
            ["STEP", "LEAD", "OWNER", "STATUS", "COMPLETED BY"],
            [
                [step.key, step.lead.value, step.owner, step.status.value, step.completed_by or "-"]
                for step in state.steps
            ],
        )
    )
    for child_id in (state.trial_workflow_id, state.security_review_workflow_id):
        if child_id:
            lines += ["", await _child_summary(client, child_id)]
    if state.audit:
        lines += ["", "History (UTC):"]
        lines += [
            f"  {when(entry.at)}  {by_via(entry.actor, entry.via)}  {entry.action}"
            for entry in state.audit
        ]
    lines += ["", f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{workflow_id}"]
    return "\n".join(lines)


def _link_line(link: ChildLink, effect: EffectView | None = None) -> str:
    """How the opportunity came by a child, and what became of it (a failed one given up with
    `effects skip` is said to be: the effects list no longer names it)."""
    parts = [f"{link.workflow_id} ({link.how.value})"]
    if link.how is ChildLinkKind.REFUSED:
        parts.append(link.why)
    if link.failed and effect is not None and effect.state == "skipped":
        by = f" by {effect.changed_by}" if effect.changed_by else ""
        parts.append(f"FAILED: {link.failed}; given up{by}: {effect.reason}")
    elif link.failed:
        parts.append(f"FAILED: {link.failed} (see `dealcycle effects list`)")
    if link.concluded:
        parts.append(f"concluded: {link.concluded}")
    elif link.ended:
        parts.append("ended")
    return "; ".join(parts)


def _moment(value: Any) -> datetime | None:
    """A time in a child's ``state`` read as plain data (ISO 8601 text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def _child_summary(client: Client, workflow_id: str) -> str:
    """A child's steps, read through its ``state`` query as plain data."""
    handle, description = await workflow_handle(client, workflow_id)
    status = description.status.name if description.status else "UNKNOWN"
    header = f"{workflow_id}  {description.workflow_type}  {status}"
    try:
        state: dict[str, Any] = await query_workflow(client, handle, "state")
    except CommandError as err:  # a stuck child leaves its parent's status readable
        return f"{header}\n{err}"
    if state.get("conclusion_reason"):
        header += f"\nConcluded: {state['conclusion_reason']}"
    steps = state.get("steps") or []
    now = clock_for(status)
    rows = [
        [
            str(step.get("key", "")),
            str(step.get("owner", "")),
            when(due_at := _moment(step.get("due_at"))),
            status_now(str(step.get("status", "")), due_at, now),
            str(step.get("completed_by") or "-"),
        ]
        for step in steps
    ]
    summary = header + "\n" + table(["STEP", "OWNER", "DUE (UTC)", "STATUS", "COMPLETED BY"], rows)
    # Its failed writes too, with how to retry them: not only `dealcycle effects list` says.
    effects = await effects_section(client, workflow_id)
    return summary + "\n" + effects if effects else summary
