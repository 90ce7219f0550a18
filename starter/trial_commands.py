"""``dealcycle trial …`` (a customer trial: start, override, extend, tech-win, conclude, snooze,
show, list) and ``dealcycle step complete``."""

from __future__ import annotations

import argparse
from typing import Any

from dealcycle.settings import Settings
from schemas.common import Role, TechnicalWinStatus
from schemas.opportunity import OPPORTUNITY_WORKFLOW_TYPE
from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
from schemas.trial import (
    TRIAL_WORKFLOW_TYPE,
    CompleteStep,
    ConcludeTrial,
    ExtendTrial,
    SetTechnicalWin,
    StartTrialOverride,
)
from starter.cli_common import (
    actor_arguments,
    client,
    cmd_status,
    parse_count,
    parse_name,
    run,
    snooze_arguments,
    update_command,
)
from starter.tables import table, when
from starter.trials import start_trial, trial_start_for

WIN_STATUSES = [status.value for status in TechnicalWinStatus]


def cmd_trial_start(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        start = trial_start_for(
            settings,
            opportunity_id=args.opportunity,
            account_id=args.account,
            account_name=args.account_name,
            ce_owner=args.ce,
            ae_owner=args.ae,
            seats=args.seats,
            length_days=args.length_days,
        )
        started = await start_trial(await client(settings), settings, start)
        print(f"started {started.workflow_id}")
        print(f"  status:      dealcycle status {started.workflow_id}")
        print(
            f"  Temporal UI: {settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
            f"/workflows/{started.workflow_id}"
        )
        return 0

    return run(go)(args)


def cmd_trial_list(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        connected = await client(settings)
        query = "WorkflowType = 'TrialWorkflow'"
        if args.stage:
            query += f" AND LifecycleStage = 'trial_{args.stage}'"
        rows = []
        async for execution in connected.list_workflows(query, limit=args.limit):
            attributes = execution.typed_search_attributes
            rows.append(
                [
                    execution.id,
                    execution.status.name if execution.status else "-",
                    str(attributes.get(_sa().LIFECYCLE_STAGE) or "-"),
                    str(attributes.get(_sa().TECHNICAL_WIN_STATUS) or "-"),
                    str(attributes.get(_sa().CE_OWNER) or "-"),
                    when(execution.start_time),
                ]
            )
        print(
            table(["WORKFLOW", "STATUS", "STAGE", "TECHNICAL WIN", "CE", "STARTED"], rows)
            if rows
            else "no trials"
        )
        return 0

    return run(go)(args)


def _sa() -> Any:
    from schemas import search_attributes

    return search_attributes


def add_trial_commands(commands: Any) -> None:
    trial = commands.add_parser("trial", help="customer trials").add_subparsers(
        dest="trial_command", required=True, metavar="ACTION"
    )
    start = trial.add_parser("start", help="start a trial for an opportunity")
    start.add_argument("--opportunity", required=True, help="Salesforce Opportunity id")
    start.add_argument("--account", required=True, help="Salesforce Account id")
    start.add_argument("--account-name", required=True, type=parse_name)
    start.add_argument("--ce", required=True, help="the CE's Slack member id")
    start.add_argument("--ae", required=True, help="the AE's Slack member id")
    start.add_argument("--seats", type=int, default=25)
    start.add_argument(
        "--length-days", type=int, default=None, help="default: DEALCYCLE_TRIAL_LENGTH_DAYS"
    )
    start.set_defaults(func=cmd_trial_start)

    override = trial.add_parser("override", help="start the trial although planning items are open")
    override.add_argument("workflow_id")
    actor_arguments(override)
    override.add_argument("--reason", required=True)
    override.set_defaults(
        func=update_command(
            "start_with_override", lambda a: StartTrialOverride(a.actor, Role(a.role), a.reason)
        )
    )

    extend = trial.add_parser("extend", help="move the trial's end and issue a new key")
    extend.add_argument("workflow_id")
    extend.add_argument("--days", type=int, required=True)
    extend.add_argument("--reason", required=True)
    actor_arguments(extend)
    extend.set_defaults(
        func=update_command(
            "extend_trial", lambda a: ExtendTrial(a.days, a.reason, a.actor, Role(a.role))
        )
    )

    win = trial.add_parser("tech-win", help="set the technical win status (CE)")
    win.add_argument("workflow_id")
    win.add_argument("status", choices=WIN_STATUSES)
    actor_arguments(win, role=False)
    win.add_argument("--note", default="")
    win.set_defaults(
        func=update_command(
            "set_technical_win",
            lambda a: SetTechnicalWin(TechnicalWinStatus(a.status), a.actor, a.note),
        )
    )

    conclude = trial.add_parser("conclude", help="end the trial before its end date")
    conclude.add_argument("workflow_id")
    actor_arguments(conclude)
    conclude.add_argument("--reason", required=True)
    conclude.set_defaults(
        func=update_command(
            "conclude_trial", lambda a: ConcludeTrial(a.actor, Role(a.role), a.reason)
        )
    )

    snooze = trial.add_parser("snooze", help="move a step's next reminder by business days")
    snooze_arguments(snooze, "workflow_id")
    snooze.set_defaults(
        func=update_command(SNOOZE_STEP_UPDATE, lambda a: SnoozeStep(a.step, a.actor, a.days))
    )

    show = trial.add_parser("show", help="show a trial (as `dealcycle status` does)")
    show.add_argument("workflow_id", help="trial-{opportunity}")
    show.set_defaults(func=cmd_status)

    listing = trial.add_parser("list", help="list trials (from Temporal's visibility)")
    listing.add_argument("--stage", choices=["planning", "running", "ended"])
    listing.add_argument(
        "--limit", type=parse_count, default=50, help="at most this many trials (default 50)"
    )
    listing.set_defaults(func=cmd_trial_list)


def add_step_command(commands: Any) -> None:
    step = commands.add_parser("step", help="steps of a workflow").add_subparsers(
        dest="step_command", required=True, metavar="ACTION"
    )
    complete = step.add_parser("complete", help="mark a step complete")
    complete.add_argument("workflow_id")
    complete.add_argument("step")
    actor_arguments(complete)
    complete.add_argument("--note", default="")
    complete.set_defaults(
        func=update_command(
            "complete_step",
            lambda a: CompleteStep(a.step, a.actor, Role(a.role), a.note),
            (TRIAL_WORKFLOW_TYPE, OPPORTUNITY_WORKFLOW_TYPE),
        )
    )
