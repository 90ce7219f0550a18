"""The dealcycle worker: the one place where activity classes get their clients.

``build_activities`` builds every client once (Salesforce, Slack, database, license signer);
``build_worker`` registers them with the workflows; ``run_worker`` runs until SIGINT/SIGTERM
and then shuts down gracefully, letting running activities finish.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.accounts import AccountRecordActivities
from activities.digest import DailyDigestActivities
from activities.errors import FailureSizeGuard
from activities.handoff import AccountHandOffActivities
from activities.intake import IntakeWatermarkActivities
from activities.licensing import LicenseActivities
from activities.operations import OperationsActivities
from activities.records import TrialRecordActivities
from activities.red_accounts import RedAccountTrackerActivities
from activities.roster import RosterActivities
from activities.salesforce import SalesforceActivities, SalesforceConnector
from activities.slack import (
    SlackActivities,
    SlackSetupError,
    build_slack_client,
    check_slack_scopes,
)
from activities.usage_feed import UsageFeedActivities
from dealcycle.activation_order import apply_activation_jobs_together
from dealcycle.codec_readiness import refusal, unreadable_workflows
from dealcycle.connection import connect as connect  # re-exported (starter.devrun)
from dealcycle.db.engine import make_engine
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.migrate import upgrade_to_head
from dealcycle.db.preferences import ReminderPreferences
from dealcycle.licensing import LicenseSigner, ensure_signing_key
from dealcycle.logging import get_logger
from dealcycle.metrics import MetricsExport
from dealcycle.payloads import data_converter_for, with_data_converter
from dealcycle.production import require_production_credentials
from dealcycle.settings import SalesforceSettings, Settings, SettingsError, SlackSettings
from dealcycle.worker_interceptors import ActivityLogContext, QueryRefusals
from starter.todo import todo_for
from workflows.account import AccountWorkflow
from workflows.digest import DailyDigestWorkflow
from workflows.intake import ClosedWonIntakeWorkflow
from workflows.opportunity import OpportunityWorkflow
from workflows.opportunity_lookup import OpportunityLookupWorkflow
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow
from workflows.usage_feed import UsageFeedWorkflow

WORKFLOWS: tuple[type, ...] = (
    TrialWorkflow,
    OpportunityWorkflow,
    AccountWorkflow,
    SecurityReviewWorkflow,
    ClosedWonIntakeWorkflow,
    RedAccountWorkflow,
    DailyDigestWorkflow,
    UsageFeedWorkflow,
    OpportunityLookupWorkflow,
)
log = get_logger("dealcycle.worker")

# The sandbox re-imports a workflow's module for every workflow it runs; with our workflow and
# contract modules passed through, cached workflows share one copy of each (an account costs
# about 80 KB instead of 320 KB). What the sandbox no longer checks in them, the tests do: they
# run every workflow under the strict default sandbox (``build_worker(strict_sandbox=True)``).
SHARED_MODULES_SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows", "schemas")
)


@dataclass
class ActivityRegistry:
    """The built activity objects; ``functions`` is what the worker registers."""

    salesforce: SalesforceActivities
    slack: SlackActivities
    licenses: LicenseActivities
    records: TrialRecordActivities
    accounts: AccountRecordActivities
    watermarks: IntakeWatermarkActivities
    red_accounts: RedAccountTrackerActivities
    operations: OperationsActivities
    roster: RosterActivities

    @property
    def functions(self) -> list[Callable[..., Any]]:
        return [
            self.salesforce.update_salesforce_record,
            self.salesforce.create_salesforce_task,
            self.slack.post_slack_message,
            self.slack.update_slack_message,
            self.licenses.issue_license_key,
            self.records.record_trial_outcome,
            self.accounts.record_account_plan,
            self.accounts.record_feature_request,
            self.salesforce.poll_closed_won,
            self.watermarks.load_intake_watermark,
            self.watermarks.save_intake_watermark,
            self.red_accounts.open_red_account_case,
            self.red_accounts.update_red_account_case,
            self.red_accounts.close_red_account_case,
            self.operations.notify_failed_effect,
            self.roster.look_up_roster,
            self.salesforce.look_up_opportunity,
        ]


def _usable_database(database_url: str) -> Engine:
    """The engine on ``database_url``, migrated; else stop naming ``DATABASE_URL`` with the
    driver's reason (which never holds the URL, so never its password)."""
    try:
        upgrade_to_head(database_url)
        return make_engine(database_url)
    except (SQLAlchemyError, ValueError, ImportError) as err:
        cause = str(getattr(err, "orig", None) or err).splitlines()[0]
        raise SystemExit(f"the worker cannot start: DATABASE_URL: {cause}") from None


def build_activities(settings: Settings) -> ActivityRegistry:
    engine = _usable_database(settings.database_url)
    ledger = IdempotencyLedger(engine)
    ensure_signing_key(settings.license_private_key_file, settings.license_public_key_file)
    signer = LicenseSigner.from_file(settings.license_private_key_file)
    slack_client = build_slack_client(settings.slack)
    try:
        check_slack_scopes(slack_client)
    except SlackSetupError as err:
        raise SystemExit(f"the worker cannot start: {err}") from None
    slack = SlackActivities(slack_client, ledger, preferences=ReminderPreferences(engine))
    return ActivityRegistry(
        salesforce=SalesforceActivities(SalesforceConnector(settings.salesforce), ledger),
        slack=slack,
        licenses=LicenseActivities(signer, engine, ledger),
        records=TrialRecordActivities(engine, ledger),
        accounts=AccountRecordActivities(engine, ledger),
        watermarks=IntakeWatermarkActivities(engine),
        red_accounts=RedAccountTrackerActivities(engine, ledger),
        operations=OperationsActivities(
            slack, settings.ops_channel, settings.temporal_ui_url, settings.temporal_namespace
        ),
        roster=RosterActivities(engine, settings.roster()),
    )


def build_worker(
    client: Client,
    settings: Settings,
    activities: ActivityRegistry,
    *,
    task_queue: str | None = None,
    workflows: Sequence[type] = WORKFLOWS,
    max_cached_workflows: int | None = None,
    strict_sandbox: bool = False,
) -> Worker:
    queue = task_queue or settings.task_queue
    # Inputs reach the checks as they came (JSON true is not one day), and payloads are
    # encrypted when the codec is on: see dealcycle.payloads.
    client = with_data_converter(client, data_converter_for(settings))
    # The hand-off starts workflows, so it needs the client the worker runs on.
    hand_offs = AccountHandOffActivities(
        client, queue, settings.account_config(), settings.intake.concurrency
    )
    # The digest reads to-do lists through the client too (one visibility query a person).
    preferences = activities.slack.preferences or ReminderPreferences(
        make_engine(settings.database_url)
    )
    digests = DailyDigestActivities(client, preferences, todo_for)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=list(workflows),
        activities=[
            *activities.functions,
            hand_offs.hand_off_closed_deal,
            hand_offs.hand_off_closed_deals,
            digests.gather_daily_digests,
            *UsageFeedActivities.on(client, settings.database_url, settings.usage_feed).functions,
        ],
        graceful_shutdown_timeout=timedelta(seconds=20),
        max_cached_workflows=(
            settings.max_cached_workflows if max_cached_workflows is None else max_cached_workflows
        ),
        workflow_runner=SandboxedWorkflowRunner() if strict_sandbox else SHARED_MODULES_SANDBOX,
        interceptors=[ActivityLogContext(), FailureSizeGuard(), QueryRefusals()],
    )
    apply_activation_jobs_together(worker)
    return worker


def with_sandbox(settings: Settings, env: dict[str, str]) -> Settings:
    """Settings pointed at the local Salesforce and Slack fakes (``env`` from the sandbox)."""
    return replace(
        settings,
        salesforce=SalesforceSettings.from_env(
            {**env, "SALESFORCE_API_VERSION": settings.salesforce.api_version}
        ),
        slack=SlackSettings(
            bot_token=env["SLACK_BOT_TOKEN"],
            api_url=env["SLACK_API_URL"],
            signing_secret=env.get("SLACK_SIGNING_SECRET") or settings.slack.signing_secret,
            trial_channel=settings.slack.trial_channel,
        ),
    )


async def require_readable_workflows(client: Client, settings: Settings) -> None:
    """Refuse to start with codec keys that cannot read the workflows running on the queue."""
    key_ids = frozenset(key.key_id for key in settings.codec.keys())
    try:
        unreadable = await unreadable_workflows(client, settings.task_queue, key_ids)
    except RPCError as err:  # a visibility store that cannot list: the check is a courtesy
        log.warning("codec keys not checked against running workflows", error=str(err))
        return
    if unreadable:
        raise SettingsError(refusal(unreadable, key_ids))


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the worker until ``stop`` is set or the process gets SIGINT/SIGTERM."""
    require_production_credentials(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        # Before the first client: the metrics runtime becomes the one every client uses.
        metrics = MetricsExport.start(settings.metrics)
        client = await connect(settings)
        await require_readable_workflows(client, settings)
        activities = await asyncio.to_thread(build_activities, settings)
        worker = build_worker(client, settings, activities)
        log.info(
            "worker started", task_queue=settings.task_queue, address=settings.temporal_address
        )
        async with worker, metrics.levels(client, WORKFLOWS):
            await stop.wait()
            log.info("worker stopping: waiting for running activities to finish")
        log.info("worker stopped")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
