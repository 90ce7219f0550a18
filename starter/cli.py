"""``dealcycle``: the command line for operations, CEs, AEs and engineers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from dealcycle.connection import connect
from dealcycle.logging import configure_logging
from dealcycle.settings import (
    DURATION_FORM,
    MAX_INTAKE_INTERVAL_SECONDS,
    Settings,
    SettingsError,
    parse_duration,
)
from schemas.account import (
    CheckInCadence,
    LifecycleStage,
    RenewalOutcome,
)
from schemas.common import CustomerHealth, DeploymentType, Region, Role, TechnicalWinStatus
from schemas.effects import RetryEffect, SkipEffect
from schemas.limits import MAX_SNOOZE_DAYS
from schemas.opportunity import (
    OPPORTUNITY_WORKFLOW_TYPE,
    AbandonOpportunity,
    AdvanceStage,
    CloseOpportunity,
    CompleteTddPart,
    LinkTdd,
    OpportunityKind,
    ReceiveQuestionnaire,
    RecordDealReview,
    ReopenOpportunity,
    Stage,
    StartOpportunityTrial,
    TddPart,
)
from schemas.security_review import (
    SECURITY_REVIEW_WORKFLOW_TYPE,
    CompleteSecurityStep,
    DeclineFirstPass,
    EscalateToSecurityPM,
)
from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
from schemas.trial import (
    TRIAL_WORKFLOW_TYPE,
    CompleteStep,
    ConcludeTrial,
    ExtendTrial,
    SetTechnicalWin,
    StartTrialOverride,
)
from starter import accounts
from starter import health as account_health
from starter.accounts import render_account_status
from starter.codec_commands import add_codec_commands
from starter.digest import add_digest_commands
from starter.effects import change_effect, effects_section, failed_effects, render_failed
from starter.errors import debug_requested, report
from starter.license_commands import add_license_commands
from starter.opportunities import (
    opportunity_start_for,
    start_opportunity,
    start_opportunity_trial,
)
from starter.provenance import acting_via, cli_via
from starter.roster_commands import add_roster_commands
from starter.salesforce_commands import add_salesforce_commands
from starter.slack.command import add_slack_command
from starter.status import render_status
from starter.tables import table, when
from starter.todo_commands import add_todo_command
from starter.trials import (
    CommandError,
    act,
    start_trial,
    trial_start_for,
)
from starter.usage_feed import add_usage_feed_commands
from starter.worker_check import check_worker
from starter.workflow_ids import check_id_arguments

ROLES = [role.value for role in Role]
WIN_STATUSES = [status.value for status in TechnicalWinStatus]


def _settings() -> Settings:
    return Settings.from_env()


def _run(
    coro_factory: Callable[[Settings], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    def runner(_args: argparse.Namespace) -> int:
        settings = _settings()
        configure_logging(settings.log_format, settings.log_level)
        return asyncio.run(coro_factory(settings))

    return runner


async def _client(settings: Settings) -> Any:
    return await connect(settings)


# --- Commands ----------------------------------------------------------------------------------


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
        client = await _client(settings)
        started = await start_trial(client, settings, start)
        print(f"started {started.workflow_id}")
        print(f"  status:      dealcycle status {started.workflow_id}")
        print(
            f"  Temporal UI: {settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
            f"/workflows/{started.workflow_id}"
        )
        return 0

    return _run(go)(args)


def _action(
    update: str,
    build: Callable[[argparse.Namespace], object],
    expected: tuple[str, ...] = (TRIAL_WORKFLOW_TYPE,),
) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        async def go(settings: Settings) -> int:
            client = await _client(settings)
            print(await act(client, args.workflow_id, update, build(args), expected))
            return 0

        return _run(go)(args)

    return command


def cmd_status(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        client = await _client(settings)
        ui_url, namespace = settings.temporal_ui_url, settings.temporal_namespace
        print(await render_status(client, args.workflow_id, ui_url, namespace))
        section = await effects_section(client, args.workflow_id)
        if section:
            print(section)
        return 0

    return _run(go)(args)


def cmd_trial_list(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        client = await _client(settings)
        query = "WorkflowType = 'TrialWorkflow'"
        if args.stage:
            query += f" AND LifecycleStage = 'trial_{args.stage}'"
        rows = []
        async for execution in client.list_workflows(query, limit=args.limit):
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

    return _run(go)(args)


def _sa() -> Any:
    from schemas import search_attributes

    return search_attributes


def cmd_server(args: argparse.Namespace) -> int:
    from starter.devrun import serve_dev_server

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    return asyncio.run(
        serve_dev_server(
            settings,
            port=args.port,
            ui_port=args.ui_port,
            ui_codec_endpoint=args.ui_codec_endpoint,
        )
    )


def cmd_worker(args: argparse.Namespace) -> int:
    from starter.devrun import serve_worker

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    if args.check:  # the container's health check: this host's worker polls (worker_check)
        print(asyncio.run(check_worker(settings)))
        return 0
    return asyncio.run(serve_worker(settings, sandbox=args.sandbox))


def cmd_run(args: argparse.Namespace) -> int:
    from starter.devrun import run_everything

    return asyncio.run(run_everything(demo=not args.no_demo))


# --- Parser ------------------------------------------------------------------------------------


def _actor_arguments(parser: argparse.ArgumentParser, role: bool = True) -> None:
    parser.add_argument("--by", dest="actor", required=True, help="who acts: their Slack member id")
    if role:
        parser.add_argument("--role", choices=ROLES, required=True, help="the role they act in")


def _snooze_arguments(parser: argparse.ArgumentParser, workflow: str) -> None:
    parser.add_argument(workflow)
    parser.add_argument("step", help="the step's key (as `dealcycle status` shows it)")
    _actor_arguments(parser, role=False)
    parser.add_argument(
        "--days", type=int, default=1, help=f"business days, 1 to {MAX_SNOOZE_DAYS} (default 1)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealcycle", description="Durable deal and renewal lifecycles on Temporal."
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error after its line"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = commands.add_parser("server", help="run the Temporal dev server (Web UI, SQLite file)")
    server.add_argument("--port", type=int, default=7233)
    server.add_argument("--ui-port", type=int, default=8233)
    server.add_argument(
        "--ui-codec-endpoint",
        metavar="URL",
        help="the Web UI decodes payloads there (a `dealcycle codec-server`, http://127.0.0.1:8081)",
    )
    server.set_defaults(func=cmd_server)

    worker = commands.add_parser("worker", help="run the dealcycle worker")
    worker.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use the local Salesforce and Slack fakes (default: when no credentials are set)",
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 0 when a worker on this host polls the task queue, else 1",
    )
    worker.set_defaults(func=cmd_worker)

    run = commands.add_parser("run", help="dev server, worker, sandbox and demo trials in one go")
    run.add_argument("--no-demo", action="store_true", help="start no demo trials")
    run.set_defaults(func=cmd_run)
    add_slack_command(commands, _settings)

    trial = commands.add_parser("trial", help="customer trials").add_subparsers(
        dest="trial_command", required=True, metavar="ACTION"
    )
    start = trial.add_parser("start", help="start a trial for an opportunity")
    start.add_argument("--opportunity", required=True, help="Salesforce Opportunity id")
    start.add_argument("--account", required=True, help="Salesforce Account id")
    start.add_argument("--account-name", required=True)
    start.add_argument("--ce", required=True, help="the CE's Slack member id")
    start.add_argument("--ae", required=True, help="the AE's Slack member id")
    start.add_argument("--seats", type=int, default=25)
    start.add_argument(
        "--length-days", type=int, default=None, help="default: DEALCYCLE_TRIAL_LENGTH_DAYS"
    )
    start.set_defaults(func=cmd_trial_start)

    override = trial.add_parser("override", help="start the trial although planning items are open")
    override.add_argument("workflow_id")
    _actor_arguments(override)
    override.add_argument("--reason", required=True)
    override.set_defaults(
        func=_action(
            "start_with_override", lambda a: StartTrialOverride(a.actor, Role(a.role), a.reason)
        )
    )

    extend = trial.add_parser("extend", help="move the trial's end and issue a new key")
    extend.add_argument("workflow_id")
    extend.add_argument("--days", type=int, required=True)
    extend.add_argument("--reason", required=True)
    _actor_arguments(extend)
    extend.set_defaults(
        func=_action("extend_trial", lambda a: ExtendTrial(a.days, a.reason, a.actor, Role(a.role)))
    )

    win = trial.add_parser("tech-win", help="set the technical win status (CE)")
    win.add_argument("workflow_id")
    win.add_argument("status", choices=WIN_STATUSES)
    _actor_arguments(win, role=False)
    win.add_argument("--note", default="")
    win.set_defaults(
        func=_action(
            "set_technical_win",
            lambda a: SetTechnicalWin(TechnicalWinStatus(a.status), a.actor, a.note),
        )
    )

    conclude = trial.add_parser("conclude", help="end the trial before its end date")
    conclude.add_argument("workflow_id")
    _actor_arguments(conclude)
    conclude.add_argument("--reason", required=True)
    conclude.set_defaults(
        func=_action("conclude_trial", lambda a: ConcludeTrial(a.actor, Role(a.role), a.reason))
    )

    snooze = trial.add_parser("snooze", help="move a step's next reminder by business days")
    _snooze_arguments(snooze, "workflow_id")
    snooze.set_defaults(
        func=_action(SNOOZE_STEP_UPDATE, lambda a: SnoozeStep(a.step, a.actor, a.days))
    )

    show = trial.add_parser("show", help="show a trial (as `dealcycle status` does)")
    show.add_argument("workflow_id", help="trial-{opportunity}")
    show.set_defaults(func=cmd_status)

    listing = trial.add_parser("list", help="list trials (from Temporal's visibility)")
    listing.add_argument("--stage", choices=["planning", "running", "ended"])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_trial_list)

    step = commands.add_parser("step", help="steps of a workflow").add_subparsers(
        dest="step_command", required=True, metavar="ACTION"
    )
    complete = step.add_parser("complete", help="mark a step complete")
    complete.add_argument("workflow_id")
    complete.add_argument("step")
    _actor_arguments(complete)
    complete.add_argument("--note", default="")
    complete.set_defaults(
        func=_action(
            "complete_step",
            lambda a: CompleteStep(a.step, a.actor, Role(a.role), a.note),
            (TRIAL_WORKFLOW_TYPE, OPPORTUNITY_WORKFLOW_TYPE),
        )
    )
    _add_opportunity_commands(commands)
    _add_account_commands(commands)
    _add_health_commands(commands)
    _add_intake_commands(commands)
    _add_security_commands(commands)
    _add_effects_commands(commands)

    status = commands.add_parser("status", help="show a workflow's steps as a table")
    status.add_argument("workflow_id")
    status.set_defaults(func=cmd_status)

    license_commands = commands.add_parser("license", help="license keys").add_subparsers(
        dest="license_command", required=True, metavar="ACTION"
    )
    add_license_commands(license_commands, _settings)

    roster = commands.add_parser(
        "roster", help="the CE leader, Security PM, Security CEs, Value Engineering"
    ).add_subparsers(dest="roster_command", required=True, metavar="ACTION")
    add_roster_commands(roster, _settings)
    add_todo_command(commands, _settings)
    add_digest_commands(commands, _settings)
    add_codec_commands(commands, _settings)
    add_usage_feed_commands(commands, _settings)
    add_salesforce_commands(commands, _settings)
    return parser


def cmd_opportunity_start(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        start = opportunity_start_for(
            settings,
            opportunity_id=args.opportunity,
            account_id=args.account,
            account_name=args.account_name,
            ae_owner=args.ae,
            ce_owner=args.ce,
            region=Region(args.region),
            deployment_type=DeploymentType(args.deployment),
            tier=args.tier,
            kind=OpportunityKind(args.kind),
            complex_engagement=args.complex,
            seats=args.seats,
            stage=Stage(args.stage),
        )
        client = await _client(settings)
        workflow_id = await start_opportunity(client, settings, start)
        print(f"started {workflow_id}")
        print(f"  status: dealcycle status {workflow_id}")
        return 0

    return _run(go)(args)


def _stage(raw: str) -> Stage:
    """A stage by its Salesforce name, or by its number (``4`` is Stage 4)."""
    for stage in Stage:
        if (
            raw == stage.value
            or raw == stage.name.lower()
            or stage.value.startswith(f"Stage {raw} ")
        ):
            return stage
    names = "; ".join(stage.value for stage in Stage)
    raise argparse.ArgumentTypeError(f"unknown stage {raw!r}; the stages are: {names}")


def cmd_opportunity_trial(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        request = StartOpportunityTrial(args.actor, Role(args.role), args.length_days)
        client = await _client(settings)
        print(await start_opportunity_trial(client, args.workflow_id, request))
        return 0

    return _run(go)(args)


def _region(raw: str) -> str:
    if raw not in {region.value for region in Region}:
        valid = " or ".join(repr(region.value) for region in Region)
        raise argparse.ArgumentTypeError(f"unknown region {raw!r}; the regions are {valid}")
    return raw


def _add_opportunity_commands(commands: Any) -> None:
    opportunity = commands.add_parser(
        "opportunity", help="opportunities (pre-sales)"
    ).add_subparsers(dest="opportunity_command", required=True, metavar="ACTION")
    expected = (OPPORTUNITY_WORKFLOW_TYPE,)
    start = opportunity.add_parser("start", help="start the workflow of an opportunity")
    start.add_argument("--opportunity", required=True, help="Salesforce Opportunity id")
    start.add_argument("--account", required=True, help="Salesforce Account id")
    start.add_argument("--account-name", required=True)
    start.add_argument("--ae", required=True, help="the AE's Slack member id")
    start.add_argument("--ce", required=True, help="the CE's Slack member id")
    start.add_argument(
        "--region", required=True, type=_region, help=" or ".join(r.value for r in Region)
    )
    start.add_argument("--deployment", required=True, choices=[d.value for d in DeploymentType])
    start.add_argument("--tier", type=int, required=True, choices=[1, 2, 3])
    start.add_argument("--kind", default="new", choices=[k.value for k in OpportunityKind])
    start.add_argument(
        "--complex", action="store_true", help="a complex engagement (needs a deal review)"
    )
    start.add_argument("--seats", type=int, default=25)
    start.add_argument("--stage", type=_stage, default=Stage.DISCOVERY.value)
    start.set_defaults(func=cmd_opportunity_start)
    show = opportunity.add_parser(
        "show", help="show an opportunity with its trial and security review (as `status`)"
    )
    show.add_argument("workflow_id", help="opportunity-{opportunity}")
    show.set_defaults(func=cmd_status)

    def action(
        name: str, update: str, build: Callable[[argparse.Namespace], object], help: str
    ) -> Any:
        parser = opportunity.add_parser(name, help=help)
        parser.add_argument("workflow_id")
        _actor_arguments(parser)
        parser.set_defaults(func=_action(update, build, expected))
        return parser

    advance = action(
        "advance",
        "advance_stage",
        lambda a: AdvanceStage(a.stage, a.actor, Role(a.role)),
        "move to a later stage",
    )
    advance.add_argument("stage", type=_stage, help="e.g. 3, or 'Stage 3 - Solution'")
    link = action(
        "tdd-link", "link_tdd", lambda a: LinkTdd(a.url, a.actor, Role(a.role)), "link the TDD"
    )
    link.add_argument("url")
    part = action(
        "tdd-complete",
        "complete_tdd_part",
        lambda a: CompleteTddPart(TddPart(a.part), a.actor, Role(a.role)),
        "complete a part of the TDD (CE)",
    )
    part.add_argument("part", choices=[p.value for p in TddPart])
    review = action(
        "deal-review",
        "record_deal_review",
        lambda a: RecordDealReview(a.actor, Role(a.role), a.summary),
        "record the technical deal review",
    )
    review.add_argument("--summary", required=True)
    trial = opportunity.add_parser(
        "trial",
        help="start the opportunity's trial (a child TrialWorkflow), or adopt the one running",
    )
    trial.add_argument("workflow_id")
    _actor_arguments(trial)
    trial.add_argument("--length-days", type=int, default=None)
    trial.set_defaults(func=cmd_opportunity_trial)
    action(
        "questionnaire",
        "receive_questionnaire",
        lambda a: ReceiveQuestionnaire(a.actor, Role(a.role)),
        "the customer sent a security questionnaire (starts the security review)",
    )
    close = action(
        "close",
        "close",
        lambda a: CloseOpportunity(a.outcome == "won", a.actor, Role(a.role), a.reason),
        "close it won or lost",
    )
    close.add_argument("outcome", choices=["won", "lost"])
    close.add_argument("--reason", default="")
    abandon = action(
        "abandon",
        "abandon",
        lambda a: AbandonOpportunity(a.actor, Role(a.role), a.reason),
        "abandon it",
    )
    abandon.add_argument("--reason", required=True)
    reopen = action(
        "reopen",
        "reopen",
        lambda a: ReopenOpportunity(a.actor, Role(a.role), a.reason, a.stage),
        "reopen it (or move it back a stage)",
    )
    reopen.add_argument("--reason", required=True)
    reopen.add_argument("--stage", type=_stage, default=None)


# --- Accounts ----------------------------------------------------------------------------------

STAGES_TO_START_IN = [
    stage.value for stage in LifecycleStage if stage is not LifecycleStage.CHURNED
]
CADENCES = [cadence.value for cadence in CheckInCadence]
OUTCOMES = [outcome.value for outcome in RenewalOutcome]


def _date(raw: str) -> datetime:
    """``YYYY-MM-DD`` as midnight UTC."""
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date; use YYYY-MM-DD") from None


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.strip().isdigit() or int(raw) < minimum:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of at least {minimum}")
        return int(raw)

    return parse


_count = _whole(1)


def _quarter(raw: str) -> str:
    year, _, quarter = raw.partition("-Q")
    if not (len(year) == 4 and year.isdigit() and quarter in {"1", "2", "3", "4"}):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a quarter; use YYYY-QN, e.g. 2027-Q2")
    return raw


AccountCall = Callable[[Any], Awaitable[str]]


def _account_command(
    prepare: Callable[[argparse.Namespace], AccountCall],
) -> Callable[[argparse.Namespace], int]:
    """``prepare`` reads files and checks arguments (before connecting); its call acts."""

    def command(args: argparse.Namespace) -> int:
        call = prepare(args)

        async def go(settings: Settings) -> int:
            print(await call(await _client(settings)))
            return 0

        return _run(go)(args)

    return command


def cmd_account_start(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        workflow_id = await accounts.start_account(
            await _client(settings),
            settings,
            account_id=args.account_id,
            account_name=args.name,
            tier=args.tier,
            renewal_date=args.renewal_date,
            seats=args.seats,
            ae_owner=args.ae,
            ce_owner=args.ce,
            region=args.region or "",
            deployment_type=args.deployment,
            stage=LifecycleStage(args.stage),
            cadence=args.cadence,
        )
        print(f"started {workflow_id} ({args.stage})")
        print(f"  show:        dealcycle account show {args.account_id}")
        print(
            f"  Temporal UI: {settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
            f"/workflows/{workflow_id}"
        )
        return 0

    return _run(go)(args)


def cmd_account_show(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        client = await _client(settings)
        ui_url, namespace = settings.temporal_ui_url, settings.temporal_namespace
        print(await render_account_status(client, args.account_id, ui_url, namespace))
        return 0

    return _run(go)(args)


def _plan(args: argparse.Namespace) -> AccountCall:
    plan = accounts.load_account_plan(
        args.file, quarter=args.quarter, actor=args.actor, role=Role(args.role)
    )
    return lambda client: accounts.submit_account_plan(client, args.account_id, plan)


def _profile(args: argparse.Namespace) -> AccountCall:
    change = accounts.profile_change(
        actor=args.actor,
        role=Role(args.role),
        tier=args.tier or 0,
        seats=args.seats or 0,
        ae_owner=args.ae or "",
        ce_owner=args.ce or "",
        renewal_date=args.renewal_date,
    )
    return lambda client: accounts.complete_profile(client, args.account_id, change)


def _add_account_start(account: Any) -> None:
    start = account.add_parser("start", help="bring in an existing customer (starts its workflow)")
    start.add_argument("account_id", metavar="ACCOUNT_ID", help="Salesforce Account id")
    start.add_argument("--name", required=True, help="the account's name")
    start.add_argument("--tier", type=int, required=True, choices=[1, 2, 3])
    start.add_argument(
        "--renewal-date", type=_date, required=True, metavar="YYYY-MM-DD", help="contract end (UTC)"
    )
    start.add_argument("--seats", type=_count, required=True)
    start.add_argument("--ae", required=True, help="the AE's Slack member id")
    start.add_argument("--ce", required=True, help="the CE's Slack member id")
    start.add_argument("--region", type=_region, default=None, help=" or ".join(Region))
    start.add_argument(
        "--deployment", choices=[d.value for d in DeploymentType], default="self-hosted"
    )
    start.add_argument(
        "--stage", choices=STAGES_TO_START_IN, default="kickoff", help="where it stands today"
    )
    start.add_argument(
        "--cadence", choices=CADENCES, default="", help="check-ins (past kickoff; default monthly)"
    )
    start.set_defaults(func=cmd_account_start)


def _add_account_commands(commands: Any) -> None:
    account = commands.add_parser("account", help="customer accounts (post-sales)").add_subparsers(
        dest="account_command", required=True, metavar="ACTION"
    )
    _add_account_start(account)

    def action(
        name: str, prepare: Callable[[argparse.Namespace], AccountCall], help: str
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = account.add_parser(name, help=help)
        parser.add_argument("account_id", metavar="ACCOUNT_ID", help="001ACME or account-001ACME")
        _actor_arguments(parser)
        parser.set_defaults(func=_account_command(prepare))
        return parser

    kickoff = action(
        "kickoff",
        lambda a: (
            lambda client: accounts.record_kickoff_plan(
                client,
                a.account_id,
                actor=a.actor,
                role=Role(a.role),
                cadence=a.cadence,
                optional_trainings=a.trainings,
                onboarding_integration_help=a.integration_help,
                upcoming_initiatives=a.initiatives,
            )
        ),
        "record the kickoff plan (starts onboarding)",
    )
    kickoff.add_argument("--cadence", choices=CADENCES, required=True)
    kickoff.add_argument(
        "--training",
        dest="trainings",
        action="append",
        default=[],
        metavar="NAME",
        help="an optional training beyond 101, 102 and admin (repeatable)",
    )
    kickoff.add_argument("--integration-help", action="store_true")
    kickoff.add_argument(
        "--initiative", dest="initiatives", action="append", default=[], metavar="TEXT"
    )

    ready = action(
        "production-ready",
        lambda a: (
            lambda client: accounts.report_production_ready(
                client, a.account_id, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "the customer is ready for production",
    )
    ready.add_argument("--note", default="")

    step = action(
        "step",
        lambda a: (
            lambda client: accounts.complete_step(
                client, a.account_id, a.step, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "mark a step of the account complete",
    )
    step.add_argument("step", metavar="STEP_KEY")
    step.add_argument("--note", default="")

    onboarded = action(
        "onboarding-complete",
        lambda a: (
            lambda client: accounts.complete_onboarding(
                client, a.account_id, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "onboarding is done (moves to adoption)",
    )
    onboarded.add_argument("--note", default="")

    cadence = action(
        "cadence",
        lambda a: (
            lambda client: accounts.change_cadence(
                client, a.account_id, a.cadence, actor=a.actor, role=Role(a.role)
            )
        ),
        "change the check-in cadence",
    )
    cadence.add_argument("cadence", metavar="CADENCE", choices=CADENCES)

    tier = action(
        "tier",
        lambda a: (
            lambda client: accounts.change_tier(
                client, a.account_id, a.tier, actor=a.actor, role=Role(a.role), reason=a.reason
            )
        ),
        "change the tier (from next quarter)",
    )
    tier.add_argument("tier", metavar="TIER", type=int, choices=[1, 2, 3])
    tier.add_argument("--reason", required=True)

    profile = action("profile", _profile, "fill in the account's profile")
    profile.add_argument("--tier", type=int, choices=[1, 2, 3], default=None)
    profile.add_argument("--seats", type=_count, default=None)
    profile.add_argument("--ae", default=None, help="the AE's Slack member id")
    profile.add_argument("--ce", default=None, help="the CE's Slack member id")
    profile.add_argument("--renewal-date", type=_date, default=None, metavar="YYYY-MM-DD")

    plan = action("plan", _plan, "submit the quarter's account plan (a JSON file)")
    plan.add_argument("--quarter", type=_quarter, required=True, help="e.g. 2027-Q2")
    plan.add_argument(
        "--file", type=Path, required=True, help="JSON: contacts, use_cases, health, ..."
    )

    assessment = action(
        "assessment",
        lambda a: (
            lambda client: accounts.record_renewal_assessment(
                client,
                a.account_id,
                actor=a.actor,
                role=Role(a.role),
                risks=a.risks,
                turns_red=a.turns_red,
            )
        ),
        "record the month's renewal health assessment (no --risk: no risks)",
    )
    assessment.add_argument("--risk", dest="risks", action="append", default=[], metavar="TEXT")
    assessment.add_argument(
        "--turns-red",
        action="store_true",
        help="these risks make the account red (opens a red-account case)",
    )

    call = action(
        "renewal-call",
        lambda a: (
            lambda client: accounts.record_renewal_call(
                client, a.account_id, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "record the first renewal call",
    )
    call.add_argument("--note", default="")

    outcome = action(
        "renewal-outcome",
        lambda a: (
            lambda client: accounts.record_renewal_outcome(
                client,
                a.account_id,
                a.outcome,
                actor=a.actor,
                role=Role(a.role),
                next_renewal_date=a.next_renewal_date,
                seats=a.seats or 0,
                expansion_opportunity_id=a.opportunity,
                note=a.note,
                team_seats=a.team_seats or 0,
                settings=_settings(),
            )
        ),
        "record how the renewal ended",
    )
    outcome.add_argument("outcome", metavar="OUTCOME", choices=OUTCOMES, help=", ".join(OUTCOMES))
    outcome.add_argument("--next-renewal-date", type=_date, default=None, metavar="YYYY-MM-DD")
    outcome.add_argument("--seats", type=_count, default=None, help="for seat_expansion")
    outcome.add_argument("--opportunity", default="", help="for new_team: its Opportunity id")
    outcome.add_argument(
        "--team-seats", type=_count, default=None, help="for new_team: the new team's seats"
    )
    outcome.add_argument("--note", default="")

    renewal_date = action(
        "renewal-date",
        lambda a: (
            lambda client: accounts.move_renewal_date(
                client, a.account_id, a.date, actor=a.actor, role=Role(a.role), reason=a.reason
            )
        ),
        "move the renewal date (the renewal work re-plans to it)",
    )
    renewal_date.add_argument(
        "--date", type=_date, required=True, metavar="YYYY-MM-DD", help="the new contract end"
    )
    renewal_date.add_argument("--reason", required=True)

    reassign = account.add_parser(
        "reassign",
        help="give the account's AE or CE role to someone else (by the outgoing owner or the"
        " CE leader)",
    )
    reassign.add_argument("account_id", metavar="ACCOUNT_ID", help="001ACME or account-001ACME")
    reassign.add_argument("--role", choices=ROLES, required=True, help="the role changing hands")
    reassign.add_argument("--to", dest="new_owner", required=True, help="the new owner (U…)")
    _actor_arguments(reassign, role=False)
    reassign.add_argument("--reason", default="")
    reassign.set_defaults(
        func=_account_command(
            lambda a: (
                lambda client: accounts.reassign_owner(
                    client, a.account_id, Role(a.role), a.new_owner, actor=a.actor, reason=a.reason
                )
            )
        )
    )

    seats = action(
        "seats",
        lambda a: (
            lambda client: accounts.expand_seats(
                client, a.account_id, a.seats, actor=a.actor, role=Role(a.role), reason=a.reason
            )
        ),
        "expand the seats within the contract term (a new key)",
    )
    seats.add_argument("seats", metavar="SEATS", type=_count)
    seats.add_argument("--reason", required=True)

    snooze = account.add_parser("snooze", help="move a step's next reminder by business days")
    _snooze_arguments(snooze, "account_id")
    snooze.set_defaults(
        func=_account_command(
            lambda a: (
                lambda client: accounts.snooze_step(
                    client, a.account_id, SnoozeStep(a.step, a.actor, a.days)
                )
            )
        )
    )

    feature = action(
        "feature-request",
        lambda a: (
            lambda client: accounts.record_feature_request(
                client, a.account_id, a.title, actor=a.actor, role=Role(a.role), detail=a.detail
            )
        ),
        "record a feature request from the customer",
    )
    feature.add_argument("title", metavar="TITLE")
    feature.add_argument("--detail", default="")

    usage = account.add_parser("usage", help="report the customer's product usage (a signal)")
    usage.add_argument("account_id", metavar="ACCOUNT_ID")
    usage.add_argument("--active-users", type=_whole(0), required=True)
    usage.add_argument("--version", required=True, help="the version they run")
    usage.add_argument(
        "--support-item", dest="support_items", action="append", default=[], metavar="TEXT"
    )
    usage.set_defaults(
        func=_account_command(
            lambda a: (
                lambda client: accounts.report_usage(
                    client,
                    a.account_id,
                    active_users=a.active_users,
                    version=a.version,
                    open_support_items=a.support_items,
                )
            )
        )
    )

    show = account.add_parser("show", help="show the account (as `dealcycle status` does)")
    show.add_argument("account_id", metavar="ACCOUNT_ID")
    show.set_defaults(func=cmd_account_show)


# --- Health and red accounts -------------------------------------------------------------------

COLOURS = [colour.value for colour in CustomerHealth]


def _health(args: argparse.Namespace) -> AccountCall:
    """Show, set (``--set``) or feed (``--reading``) the account's health; flags that belong to
    another of the three are refused, so nothing is silently ignored."""
    given = {
        "--reason": args.reason is not None,
        "--by": args.actor is not None,
        "--role": args.role is not None,
        "--source": args.source is not None,
    }

    def refuse(flags: list[str], without: str) -> None:
        stray = [flag for flag in flags if given[flag]]
        if stray:
            raise CommandError(f"{', '.join(stray)} {'go' if len(stray) > 1 else 'goes'} {without}")

    if args.colour:
        refuse(["--source"], "with --reading")
        missing = [flag for flag in ("--reason", "--by", "--role") if not given[flag]]
        if missing:
            raise CommandError(f"--set needs {', '.join(missing)}")
        return lambda client: account_health.set_health(
            client,
            args.account_id,
            args.colour,
            actor=args.actor,
            role=Role(args.role),
            reason=args.reason,
        )
    refuse(["--reason", "--by", "--role"], "with --set")
    if args.readings:
        signals = account_health.health_signals(args.readings, args.source or "")
        return lambda client: account_health.send_health_signals(client, args.account_id, signals)
    refuse(["--source"], "with --reading")
    return lambda client: account_health.render_health_status(client, args.account_id)


def cmd_red_list(args: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    rows = account_health.read_tracker(
        settings.database_url, include_closed=args.all, account=args.account
    )
    print(
        account_health.render_tracker_listing(
            rows, datetime.now(UTC), include_closed=args.all, account=args.account
        )
    )
    return 0


def cmd_red_show(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        client = await _client(settings)
        ui_url, namespace = settings.temporal_ui_url, settings.temporal_namespace
        print(await account_health.render_case_status(client, args.reference, ui_url, namespace))
        return 0

    return _run(go)(args)


def _add_health_commands(commands: Any) -> None:
    health = commands.add_parser(
        "health",
        help="an account's health: show it, set its colour, or send readings",
        description=(
            "Without --set or --reading: show the colour, the score, its inputs and the colour"
            " history. --set: the AE or CE sets the colour (an update, checked by the workflow)."
            " --reading: send usage, adoption or sentiment readings, 0 to 100 (signals)."
        ),
    )
    health.add_argument("account_id", metavar="ACCOUNT_ID", help="001ACME or account-001ACME")
    change = health.add_mutually_exclusive_group()
    change.add_argument("--set", dest="colour", choices=COLOURS, help="set the colour")
    change.add_argument(
        "--reading",
        dest="readings",
        action="append",
        type=account_health.parse_reading,
        metavar="INPUT=VALUE",
        help=f"a reading, 0 to 100, of {account_health.INPUTS} (repeatable)",
    )
    health.add_argument("--reason", default=None, help="why (with --set)")
    health.add_argument("--by", dest="actor", default=None, help="who sets it (with --set)")
    health.add_argument("--role", choices=ROLES, default=None, help="their role (with --set)")
    health.add_argument("--source", default=None, help="where the readings come from")
    health.set_defaults(func=_account_command(_health))

    red = commands.add_parser(
        "red", help="red accounts: the Account Tracker and each case"
    ).add_subparsers(dest="red_command", required=True, metavar="ACTION")
    listing = red.add_parser("list", help="the Account Tracker (open cases; --all: every case)")
    listing.add_argument("--all", action="store_true", help="resolved cases too")
    listing.add_argument("--account", metavar="ACCOUNT_ID", default=None, help="one account's")
    listing.set_defaults(func=cmd_red_list)

    plan = red.add_parser("plan", help="record your part of the open case's action plan")
    plan.add_argument("account_id", metavar="ACCOUNT_ID")
    _actor_arguments(plan)
    plan.add_argument(
        "--status", dest="current_status", required=True, metavar="TEXT", help="where it stands"
    )
    plan.add_argument("--needs", required=True, metavar="TEXT", help="what the account needs")
    plan.add_argument(
        "--actions", dest="intended_actions", required=True, metavar="TEXT", help="what you will do"
    )
    plan.set_defaults(
        func=_account_command(
            lambda a: (
                lambda client: account_health.record_action_plan(
                    client,
                    a.account_id,
                    actor=a.actor,
                    role=Role(a.role),
                    current_status=a.current_status,
                    needs=a.needs,
                    intended_actions=a.intended_actions,
                )
            )
        )
    )

    ask = red.add_parser("ask", help="an ask of the business, posted in the case's thread")
    ask.add_argument("account_id", metavar="ACCOUNT_ID")
    ask.add_argument("ask", metavar="TEXT")
    _actor_arguments(ask)
    ask.set_defaults(
        func=_account_command(
            lambda a: (
                lambda client: account_health.record_ask(
                    client, a.account_id, a.ask, actor=a.actor, role=Role(a.role)
                )
            )
        )
    )

    show = red.add_parser("show", help="a case: the account's open (else latest) one, or by id")
    show.add_argument("reference", metavar="ACCOUNT_ID|CASE_ID")
    show.set_defaults(func=cmd_red_show)


def cmd_deal_closed(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import deal_closed, refuse_bad_opportunity_id

        refuse_bad_opportunity_id(args.opportunity_id)
        print(await deal_closed(await _client(settings), settings, args.opportunity_id))
        return 0

    return _run(go)(args)


def _interval(raw: str) -> int:
    """An ``--every`` value in seconds, read as the settings read durations. A named type
    raising ``ArgumentTypeError``: argparse shows its message, not "invalid <lambda> value"."""
    try:
        seconds = parse_duration("--every", raw)
    except SettingsError:
        seconds = 0
    if not 1 <= seconds <= MAX_INTAKE_INTERVAL_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an interval: give a duration from 1s to 1d, in {DURATION_FORM}"
        )
    return seconds


def cmd_intake_schedule(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import ensure_intake_schedule

        every = timedelta(seconds=args.every or settings.intake_interval_seconds)
        print(await ensure_intake_schedule(await _client(settings), settings, every))
        return 0

    return _run(go)(args)


def cmd_intake_status(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import intake_status

        print(await intake_status(await _client(settings)))
        return 0

    return _run(go)(args)


def cmd_intake_run(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import render_intake_result, run_intake_once

        result = await run_intake_once(await _client(settings), settings)
        print(render_intake_result(result))
        return 0

    return _run(go)(args)


def _add_security_commands(commands: Any) -> None:
    security = commands.add_parser("security", help="security reviews").add_subparsers(
        dest="security_command", required=True, metavar="ACTION"
    )
    expected = (SECURITY_REVIEW_WORKFLOW_TYPE,)
    step = security.add_parser("step", help="complete a step of a security review (its owner)")
    step.add_argument("workflow_id", help="security-review-{opportunity}")
    step.add_argument("step")
    step.add_argument("--by", dest="actor", required=True)
    step.add_argument("--note", default="")
    step.add_argument("--deployment-type", choices=[d.value for d in DeploymentType], default=None)
    step.set_defaults(
        func=_action(
            "complete_step",
            lambda a: CompleteSecurityStep(
                a.step,
                a.actor,
                a.note,
                DeploymentType(a.deployment_type) if a.deployment_type else None,
            ),
            expected,
        )
    )
    snooze = security.add_parser("snooze", help="move a step's next reminder by business days")
    _snooze_arguments(snooze, "workflow_id")
    snooze.set_defaults(
        func=_action(SNOOZE_STEP_UPDATE, lambda a: SnoozeStep(a.step, a.actor, a.days), expected)
    )
    decline = security.add_parser("decline-first-pass", help="the CE leaves the first pass out")
    decline.add_argument("workflow_id")
    decline.add_argument("--by", dest="actor", required=True)
    decline.add_argument("--reason", required=True)
    decline.set_defaults(
        func=_action("decline_first_pass", lambda a: DeclineFirstPass(a.actor, a.reason), expected)
    )
    escalate = security.add_parser("escalate", help="bring in the Security PM (moves the due date)")
    escalate.add_argument("workflow_id")
    escalate.add_argument("--by", dest="actor", required=True)
    escalate.add_argument("--reason", required=True)
    escalate.set_defaults(
        func=_action(
            "escalate_to_security_pm", lambda a: EscalateToSecurityPM(a.actor, a.reason), expected
        )
    )


def cmd_effects_list(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        client = await _client(settings)
        print(render_failed(await failed_effects(client)))
        return 0

    return _run(go)(args)


def cmd_effects_change(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        client = await _client(settings)
        request: RetryEffect | SkipEffect = (
            SkipEffect(args.effect, args.reason, args.actor)
            if args.effects_command == "skip"
            else RetryEffect(args.effect, args.actor)
        )
        print(await change_effect(client, args.workflow_id, request))
        return 0

    return _run(go)(args)


def _add_effects_commands(commands: Any) -> None:
    effects = commands.add_parser(
        "effects", help="failed writes to Slack, Salesforce and our records: list, retry, skip"
    ).add_subparsers(dest="effects_command", required=True, metavar="ACTION")
    effects.add_parser(
        "list", help="every running workflow's failed effects (NeedsAttention = true)"
    ).set_defaults(func=cmd_effects_list)
    retry = effects.add_parser(
        "retry", help="run a failed effect again under its original idempotency key"
    )
    retry.add_argument("workflow_id")
    retry.add_argument("effect", help="the effect's name, as `dealcycle status` shows it")
    _actor_arguments(retry, role=False)
    retry.set_defaults(func=cmd_effects_change)
    skip = effects.add_parser("skip", help="give up a failed effect on purpose, with a reason")
    skip.add_argument("workflow_id")
    skip.add_argument("effect")
    skip.add_argument("--reason", required=True)
    _actor_arguments(skip, role=False)
    skip.set_defaults(func=cmd_effects_change)


def _add_intake_commands(commands: Any) -> None:
    closed = commands.add_parser(
        "deal-closed", help="hand a Closed Won opportunity to its account's workflow (idempotent)"
    )
    closed.add_argument("opportunity_id", help="Salesforce Opportunity id")
    closed.set_defaults(func=cmd_deal_closed)
    intake = commands.add_parser(
        "intake", help="the Closed Won intake from Salesforce"
    ).add_subparsers(dest="intake_command", required=True, metavar="ACTION")
    schedule = intake.add_parser(
        "schedule", help="create or update the Temporal Schedule that polls"
    )
    schedule.add_argument("--every", type=_interval, default=None, help="e.g. 5m (1s to 1d)")
    schedule.set_defaults(func=cmd_intake_schedule)
    intake.add_parser("run", help="poll once now").set_defaults(func=cmd_intake_run)
    intake.add_parser(
        "status", help="the schedule, its next poll and what its last polls did (or why not)"
    ).set_defaults(func=cmd_intake_status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is reported as one line (``starter.errors``) and its exit
    code returned. Usage errors raise ``SystemExit`` as argparse does."""
    parser = build_parser()
    debug = debug_requested()
    try:
        args = parser.parse_args(argv)
        debug = debug or args.debug
        check_id_arguments(args)
        with acting_via(cli_via()):
            return int(args.func(args))
    except SystemExit as err:
        if isinstance(err.code, str):
            print(f"dealcycle: {err.code}", file=sys.stderr)
            return 1
        raise
    except BaseException as err:  # the one place every failure becomes a line
        return report(err, debug=debug)


def console_main() -> NoReturn:
    """The ``dealcycle`` console script.

    Every path, errors included, ends in ``os._exit``: the Temporal client's Rust threads can
    outlive the event loop and abort (exit 134) or crash (139) a finalizing interpreter
    (temporalio/sdk-python#300). An exception that escaped to the interpreter, as an
    unhandled ``RPCError`` for ``status ''`` once did, took that path.
    """
    try:
        code = main()
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 0 if err.code is None else 1
    except BaseException as err:  # main reports all; this is the last guard
        code = report(err, debug=debug_requested())
    try:
        sys.stdout.flush()
    except BrokenPipeError as err:
        code = report(err)
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
        logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    console_main()
