"""The modals: a button (or ``/dealcycle``) opens one with the interaction's ``trigger_id``; its
submission becomes the workflow's Update, sent by typed reference with the verified Slack
``user.id`` as the actor. A problem (a bound, or the workflow's validator) comes back as
``response_action: errors`` on its block, the modal stays open and nothing is written.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from schemas.account import ACCOUNT_WORKFLOW_TYPE, AccountState
from schemas.common import Role
from schemas.health import RED_ACCOUNT_WORKFLOW_TYPE, RedAccountState
from starter.errors import CommandError, describe
from starter.payloads import check_payload_size
from starter.provenance import from_slack
from starter.queries import query_workflow
from starter.slack.actions import Click
from starter.slack.deps import SlackAppDeps
from starter.slack.modal_forms import (
    CALLBACK_PREFIX,
    ModalName,
    ModalSpec,
    bound_errors,
    context_from_button,
    control_errors,
    done_view,
    initial_values,
    late_refusal_view,
    metadata_of,
    modal_view,
    pending_view,
    read_values,
    rejection_errors,
)
from starter.slack.modal_specs import MODALS, spec_for_action, spec_for_callback
from starter.slack.steps import ButtonTarget, read_step
from starter.trials import running_workflow
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow


@dataclass(frozen=True)
class ModalTarget:
    """Which workflow a modal's submission goes to, and the Update it sends."""

    workflow_type: str
    update: UpdateMethodMultiParam[[Any, Any], Any]


TARGETS: dict[ModalName, ModalTarget] = {
    ModalName.KICKOFF: ModalTarget(ACCOUNT_WORKFLOW_TYPE, AccountWorkflow.record_kickoff_plan),
    ModalName.ASSESSMENT: ModalTarget(
        ACCOUNT_WORKFLOW_TYPE, AccountWorkflow.record_renewal_assessment
    ),
    ModalName.ACTION_PLAN: ModalTarget(
        RED_ACCOUNT_WORKFLOW_TYPE, RedAccountWorkflow.record_action_plan
    ),
    ModalName.HEALTH: ModalTarget(ACCOUNT_WORKFLOW_TYPE, AccountWorkflow.set_health),
    ModalName.ACCOUNT_PLAN: ModalTarget(ACCOUNT_WORKFLOW_TYPE, AccountWorkflow.submit_account_plan),
    ModalName.FEATURE_REQUEST: ModalTarget(
        ACCOUNT_WORKFLOW_TYPE, AccountWorkflow.record_feature_request
    ),
}


ACK_WITHIN = 2.0
"""Seconds a submission waits for the workflow before it is acknowledged without its answer
(Slack allows three)."""
ACK_SETTLE = 1.0
"""Seconds between that acknowledgement and the form's update with the answer."""


class Refused(Exception):
    """The submission is not sent, or the workflow refused it: ``errors`` by block."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


async def open_modal(
    slack: AsyncWebClient, trigger_id: str, spec: ModalSpec, context: Mapping[str, str]
) -> None:
    """``views.open`` within the trigger's three seconds; ``context`` names the workflow. A
    form Slack will not open (an expired trigger) is a ``CommandError`` saying so."""
    try:
        await slack.views_open(
            trigger_id=trigger_id, view=modal_view(spec, context, initial_values(spec, context))
        )
    except SlackApiError as err:
        error = err.response.get("error") or f"HTTP {err.response.status_code}"
        raise CommandError(f"the form did not open (Slack answered {error}); try again") from None


async def closed_step(deps: SlackAppDeps, context: Mapping[str, str]) -> str | None:
    """Why the form must not open: its workflow has closed, or its account step is done or no
    longer open (an old prompt's button). None: open it. The workflow still judges the
    submission; this only spares someone filling in a form that would be refused."""
    workflow_id = context.get("workflow_id", "")
    target = ButtonTarget(workflow_id, context.get("step", ""), "account")
    try:
        handle = await running_workflow(deps.client, workflow_id)
        if context.get("kind") != "account" or not target.step:
            return None
        step = await read_step(deps.client, handle, target)
    except CommandError as err:
        # No such workflow, closed, or unable to answer (no worker, a failing task): the
        # form would fail too.
        return str(err)
    except RPCError:
        return None  # the submission says what is wrong
    if step is None:
        return (
            f"step '{target.step}' is no longer open on {target.workflow_id} (done, or replaced"
            " by a newer one); nothing to fill in"
        )
    return step.already_done() if step.done else None


def _role_of(user: str, ae_owner: str) -> Role:
    # The workflow knows who may act: the AE of record acts as the AE, anyone else is sent as
    # the CE, so the validator refuses a stranger naming the CE of record.
    return Role.AE if user and user == ae_owner else Role.CE


async def submit(
    client: Client, spec: ModalSpec, view: Mapping[str, Any], user: str, now: Any
) -> str:
    """Send the submission's Update as ``user``; the workflow's answer, or ``Refused``."""
    target = TARGETS[spec.name]
    context = metadata_of(view)
    first = spec.fields[0].name
    if not context:
        raise Refused({first: "this form lost the workflow it was for; open it again"})
    values = read_values(spec, (view.get("state") or {}).get("values") or {})
    unprintable = control_errors(spec, values)
    if unprintable:
        raise Refused(unprintable)
    try:
        handle = await running_workflow(client, context["workflow_id"], (target.workflow_type,))
        if target.workflow_type == RED_ACCOUNT_WORKFLOW_TYPE:
            case: RedAccountState = await query_workflow(client, handle, RedAccountWorkflow.state)
            ae_owner = case.ae_owner
        else:
            account: AccountState = await query_workflow(client, handle, AccountWorkflow.state)
            ae_owner = account.profile.ae_owner if account.profile else ""
        request = from_slack(spec.build(values, user, _role_of(user, ae_owner), context))
        errors = bound_errors(spec, request, now)
        if errors:
            raise Refused(errors)
        check_payload_size(request)
        accepted = await handle.execute_update(target.update, request, id=_update_id(view, request))
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise Refused(rejection_errors(spec, reason)) from None
    except (CommandError, RPCError) as err:
        raise Refused({first: describe(err)}) from None
    return str(getattr(accepted, "message", accepted))


def _update_id(view: Mapping[str, Any], request: object) -> str:
    """The same answers from the same modal are one Update (a double click on Submit, a
    retried delivery); changed answers after a refusal are a new one."""
    payload = DataConverter.default.payload_converter.to_payloads([request])[0]
    digest = hashlib.sha256(payload.data).hexdigest()[:16]
    return f"slack-view-{view.get('id') or 'unknown'}-{digest}"


def register(app: AsyncApp, deps: SlackAppDeps) -> None:
    @app.action({"type": "block_actions", "action_id": _open_pattern()})
    async def open_from_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        for action in body.get("actions") or []:
            spec = spec_for_action(str(action.get("action_id", "")))
            context = context_from_button(str(action.get("value", "")))
            if spec is None or not context:
                deps.log.warning("slack.modal.unknown_button", action_id=action.get("action_id"))
                continue
            refusal = await closed_step(deps, context)
            if refusal is not None:
                await Click.of(body).answer(client, deps, refusal)
                return
            try:
                await open_modal(client, str(body.get("trigger_id", "")), spec, context)
            except CommandError as err:
                deps.log.warning("slack.modal.not_opened", modal=spec.name.value, error=str(err))
                await Click.of(body).answer(client, deps, str(err))
            return

    @app.view(_callback_pattern())
    async def on_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        spec = spec_for_callback(str(view.get("callback_id", "")))
        user = str((body.get("user") or {}).get("id", ""))
        if spec is None:
            await ack()
            return
        work = asyncio.ensure_future(_outcome(deps, spec, view, user))
        done, _ = await asyncio.wait({work}, timeout=ACK_WITHIN)
        if work in done:
            await ack(**work.result())
            return
        # Slack gives up after three seconds ("We had some trouble connecting") while the
        # workflow may still record it: acknowledged now, the form shows the answer later.
        await ack(response_action="update", view=pending_view(spec))
        # The acknowledgement leaves after ack() returns: an update sent at once could reach
        # Slack before it, and be replaced by "Recording…".
        await asyncio.sleep(ACK_SETTLE)
        answer = await work
        final = answer.get("view") or late_refusal_view(spec, answer.get("errors") or {})
        try:
            await client.views_update(view_id=str(view.get("id") or ""), view=final)
        except SlackApiError as err:
            deps.log.warning(
                "slack.modal.answer_not_shown",
                modal=spec.name.value,
                error=err.response.get("error"),
            )


async def _outcome(
    deps: SlackAppDeps, spec: ModalSpec, view: Mapping[str, Any], user: str
) -> dict[str, Any]:
    """The acknowledgement of a submission: its field errors, or the form saying it is done."""
    try:
        message = await submit(deps.client, spec, view, user, deps.now())
    except Refused as refused:
        deps.log.info(
            "slack.modal.refused", modal=spec.name.value, user=user, blocks=list(refused.errors)
        )
        return {"response_action": "errors", "errors": refused.errors}
    except Exception:
        # Slack shows a bare "We had some trouble connecting" for a failed request: the
        # person is told on the form instead, and the cause goes to the log.
        deps.log.exception("slack.modal.failed", modal=spec.name.value, user=user)
        failed = {spec.fields[0].name: "dealcycle failed to record this; try again later"}
        return {"response_action": "errors", "errors": failed}
    deps.log.info("slack.modal.submitted", modal=spec.name.value, user=user)
    return {"response_action": "update", "view": done_view(spec, message)}


def _open_pattern() -> re.Pattern[str]:
    names = "|".join(name.value for name in MODALS)
    return re.compile(rf"^dealcycle_open_modal_({names})$")


def _callback_pattern() -> re.Pattern[str]:
    return re.compile(rf"^{CALLBACK_PREFIX}\w+$")
