"""``dealcycle opportunity …``: an opportunity's workflow (pre-sales), from its start through
its stages, TDD, deal review, trial and security questionnaire to its close."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from dealcycle.settings import Settings
from schemas.common import DeploymentType, Region, Role
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
from starter.cli_common import (
    actor_arguments,
    client,
    cmd_status,
    parse_name,
    parse_region,
    run,
    update_command,
)
from starter.opportunities import (
    opportunity_start_for,
    start_opportunity,
    start_opportunity_trial,
)


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
        connected = await client(settings)
        workflow_id = await start_opportunity(connected, settings, start)
        print(f"started {workflow_id}")
        print(f"  status: dealcycle status {workflow_id}")
        return 0

    return run(go)(args)


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
        connected = await client(settings)
        print(await start_opportunity_trial(connected, args.workflow_id, request))
        return 0

    return run(go)(args)


def add_opportunity_commands(commands: Any) -> None:
    opportunity = commands.add_parser(
        "opportunity", help="opportunities (pre-sales)"
    ).add_subparsers(dest="opportunity_command", required=True, metavar="ACTION")
    expected = (OPPORTUNITY_WORKFLOW_TYPE,)
    start = opportunity.add_parser("start", help="start the workflow of an opportunity")
    start.add_argument("--opportunity", required=True, help="Salesforce Opportunity id")
    start.add_argument("--account", required=True, help="Salesforce Account id")
    start.add_argument("--account-name", required=True, type=parse_name)
    start.add_argument("--ae", required=True, help="the AE's Slack member id")
    start.add_argument("--ce", required=True, help="the CE's Slack member id")
    start.add_argument(
        "--region", required=True, type=parse_region, help=" or ".join(r.value for r in Region)
    )
    start.add_argument("--deployment", required=True, choices=[d.value for d in DeploymentType])
    start.add_argument("--tier", type=int, required=True, choices=[1, 2, 3])
    start.add_argument("--kind", default="new", choices=[k.value for k in OpportunityKind])
    start.add_argument(
        "--complex", action="store_true", help="a complex engagement (needs a deal review)"
    )
    start.add_argument(
        "--seats",
        type=int,
        default=25,
        help="seats the deal sells: the account's, and its license's, once won (default 25)",
    )
    start.add_argument(
        "--stage",
        type=_stage,
        default=Stage.DISCOVERY.value,
        help='the stage the deal is in today (`3` or "Stage 3 - Solution"; default Stage 1)',
    )
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
        actor_arguments(parser)
        parser.set_defaults(func=update_command(update, build, expected))
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
    actor_arguments(trial)
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
