"""A step named by a Slack button, read from its workflow: who may act on it and whether it is
done; and the step's Update, sent by typed reference.

The app decides nothing the workflow would not: what it reads here only lets it answer a
stranger or a second click without sending anything. The validators stay the judges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from schemas.account import CompleteAccountStep, StepKind
from schemas.common import Role
from schemas.security_review import CompleteSecurityStep
from schemas.trial import CompleteStep
from starter.provenance import from_slack
from starter.queries import query_workflow
from workflows.account import AccountWorkflow
from workflows.mrkdwn import escape
from workflows.opportunity import OpportunityWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

KINDS = ("trial", "account", "security_review", "red_account", "opportunity")
_WORKFLOWS: dict[str, Any] = {
    "trial": TrialWorkflow,
    "account": AccountWorkflow,
    "security_review": SecurityReviewWorkflow,
    "opportunity": OpportunityWorkflow,
}


class NotActionable(Exception):
    """The click cannot be acted on; the message says why, for the clicker alone."""


@dataclass(frozen=True)
class ButtonTarget:
    """The button's ``value``: ``{"workflow_id", "step", "kind"}``."""

    workflow_id: str
    step: str
    kind: str

    @classmethod
    def parse(cls, raw: str) -> ButtonTarget:
        try:
            value = json.loads(raw)
        except ValueError:
            raise NotActionable("this button carries no step; ask in #dealcycle-ops") from None
        if not isinstance(value, dict):
            raise NotActionable("this button carries no step; ask in #dealcycle-ops")
        fields = {name: value.get(name) for name in ("workflow_id", "step", "kind")}
        if not all(isinstance(v, str) and v for v in fields.values()):
            raise NotActionable("this button carries no step; ask in #dealcycle-ops")
        if fields["kind"] not in KINDS:
            raise NotActionable(f"this button is for a {fields['kind']}, which has no steps")
        return cls(str(fields["workflow_id"]), str(fields["step"]), str(fields["kind"]))


@dataclass(frozen=True)
class StepOfRecord:
    """A step as its workflow reports it."""

    subject: str
    """What the step is of (the account's name)."""
    title: str
    owner: str
    role: Role | None
    """The owner's role for workflows whose updates carry one; ``None`` for security reviews."""
    role_name: str
    done: bool
    completed_by: str | None
    completed_at: datetime | None
    owner_alone: bool = True
    """``False`` where the workflow may let someone else act: a value exercise is Value
    Engineering's of the day, whom the workflow asks the roster for (its owner may have
    rotated away). The app then leaves the judging to it."""

    # The account's name (and a step's title) are as someone typed them: escaped, as in every
    # post, so they never ping or link; the app's own mentions stay.
    def who_may_act(self) -> str:
        subject = escape(self.subject)
        return f"only <@{self.owner}> ({self.role_name}) of {subject} may mark this done"

    def already_done(self) -> str:
        by = f" by <@{self.completed_by}>" if self.completed_by else ""
        at = f" at {self.completed_at:%Y-%m-%d %H:%M} UTC" if self.completed_at else ""
        return f"{escape(self.title)} is already done{by}{at}; nothing changed"


def _role(raw: object) -> Role | None:
    text = getattr(raw, "value", raw)
    return Role(text) if text in (Role.CE.value, Role.AE.value) else None


def workflow_class(kind: str) -> Any:
    cls = _WORKFLOWS.get(kind)
    if cls is None:
        raise NotActionable(
            "a red-account case is acted on with its forms (action plan) or in its thread"
        )
    return cls


async def read_step(
    client: Client, handle: WorkflowHandle[Any, Any], target: ButtonTarget
) -> StepOfRecord | None:
    """The step from the workflow's ``state`` query; ``None`` when the state does not list it
    (an account lists only its open steps: the validator then says why)."""
    state = await query_workflow(client, handle, workflow_class(target.kind).state)
    if target.kind == "account":
        for view in [*state.open_steps, *state.roadmap]:
            if view.key == target.step:
                return StepOfRecord(
                    state.account_name,
                    view.title,
                    view.owner,
                    _role(view.role) or Role.CE,
                    str(view.role),
                    view.status == "done",
                    view.completed_by,
                    None,
                    owner_alone=view.kind != StepKind.VALUE_REALIZATION.value,
                )
        return None
    for step in state.steps:
        if step.key != target.step:
            continue
        lead = step.role if target.kind == "security_review" else step.lead
        return StepOfRecord(
            state.account_name,
            step.title,
            step.owner,
            None if target.kind == "security_review" else _role(lead),
            str(getattr(lead, "value", lead)),
            str(getattr(step.status, "value", step.status)) == "done",
            step.completed_by,
            step.completed_at,
        )
    return None


async def complete(
    handle: WorkflowHandle[Any, Any],
    target: ButtonTarget,
    actor: str,
    role: Role | None,
    update_id: str,
) -> str:
    """Send the step's completion with ``update_id`` (a retried delivery of the same click is
    applied once); the workflow's answer, or ``NotActionable`` with the validator's reason."""
    note = "done from Slack"
    try:
        if target.kind == "trial":
            answer: Any = await handle.execute_update(
                TrialWorkflow.complete_step,
                from_slack(CompleteStep(target.step, actor, role or Role.CE, note)),
                id=update_id,
            )
        elif target.kind == "account":
            answer = await handle.execute_update(
                AccountWorkflow.complete_step,
                from_slack(CompleteAccountStep(target.step, actor, role or Role.CE, note)),
                id=update_id,
            )
        elif target.kind == "opportunity":
            answer = await handle.execute_update(
                OpportunityWorkflow.complete_step,
                from_slack(CompleteStep(target.step, actor, role or Role.CE, note)),
                id=update_id,
            )
        elif target.kind == "security_review":
            answer = await handle.execute_update(
                SecurityReviewWorkflow.complete_step,
                from_slack(CompleteSecurityStep(target.step, actor, note)),
                id=update_id,
            )
        else:
            workflow_class(target.kind)
            raise AssertionError(target.kind)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        raise NotActionable(
            cause.message if isinstance(cause, ApplicationError) else str(cause)
        ) from None
    return str(getattr(answer, "message", answer))
