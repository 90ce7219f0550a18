"""``dealcycle server``, ``worker`` and ``run``: the long-running local processes.

``run`` is what ``make run`` calls: the Temporal dev server (Web UI, SQLite file under
``.dealcycle/``), the Salesforce and Slack sandbox when no credentials are set (with a page
that shows the Slack fake as Slack would, ``starter.devrun_slack``), the worker, the Slack app,
and a few demo trials; Ctrl-C stops them all, and the next ``run`` finds the same workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from dealcycle.devtools.devserver import running_dev_server
from dealcycle.fakes.slack_page import SlackPage
from dealcycle.logging import configure_logging, get_logger
from dealcycle.production import refuse_dev_run, refuse_sandbox, require_production_credentials
from dealcycle.settings import Settings
from schemas.common import Role, TechnicalWinStatus
from schemas.search_attributes import registrations
from schemas.trial import TRIAL_PLANNING_ITEMS, CompleteStep, SetTechnicalWin, StartTrialOverride
from starter.devrun_slack import running_slack_app, slack_page
from starter.trials import act, start_trial, trial_exists, trial_start_for

log = get_logger("dealcycle.run")

# `make run` shows a trial's life in minutes rather than months, unless the environment says
# otherwise: a "day" lasts a minute, planning items fall due after two, so the first reminders
# with a Done button reach the sandbox Slack page about three minutes after the start.
DEFAULT_UI_PORT = 8233

DEMO_TIMINGS = {
    "DEALCYCLE_DAY_LENGTH": "60s",
    "DEALCYCLE_PLANNING_ITEM_DUE": "2m",
    "DEALCYCLE_OVERDUE_REMINDER_DELAY": "1m",
    "DEALCYCLE_OVERDUE_REMINDER_REPEAT": "5m",
    "DEALCYCLE_CHECK_IN_DUE": "2m",
}

DEMO_CE, DEMO_AE = "U0DEMOCE1", "U0DEMOAE1"


def _banner(lines: list[str]) -> None:
    width = max(len(line) for line in lines) + 4
    print("\n" + "=" * width, file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    print("=" * width + "\n", file=sys.stderr, flush=True)


@contextlib.contextmanager
def sandbox_if_unconfigured(settings: Settings, wanted: bool | None) -> Iterator[Settings]:
    """Point the settings at the local fakes when asked, or when no credentials are set."""
    with sandbox_env_if_unconfigured(settings, wanted) as (effective, _):
        yield effective


@contextlib.contextmanager
def sandbox_env_if_unconfigured(
    settings: Settings, wanted: bool | None
) -> Iterator[tuple[Settings, dict[str, str] | None]]:
    """As ``sandbox_if_unconfigured``, with the sandbox's environment (``None`` without one)
    for the processes ``make run`` starts beside the worker."""
    from worker import with_sandbox

    use = (
        wanted
        if wanted is not None
        else not (settings.salesforce.configured and settings.slack.configured)
    )
    if not use:
        yield settings, None
        return
    refuse_sandbox(settings)
    from dealcycle.fakes import start_sandbox

    # The endpoints file lets CLI commands in other terminals (deal-closed) find the sandbox.
    sandbox = start_sandbox(
        settings.state_dir, write_endpoints_file=True, salesforce_auth=settings.salesforce.auth
    )
    try:
        env: Mapping[str, str] = sandbox.env
        _banner(
            [
                "SANDBOX MODE: no Salesforce/Slack credentials are configured.",
                "Nothing reaches a real Salesforce or Slack. Writes go to local fakes:",
                f"  Salesforce fake  {env['SALESFORCE_LOGIN_URL']}  (calls: /__fake__/calls)",
                f"  Slack fake       {env['SLACK_API_URL']}  (messages: /__fake__/messages)",
                "Set SALESFORCE_* and SLACK_BOT_TOKEN (see README) to use real services.",
                f"  Salesforce needs: {', '.join(settings.salesforce.missing()) or 'nothing'}",
            ]
        )
        # The Slack app beside the worker connects to the fake over Socket Mode, as the README
        # advises for a real workspace: nothing has to listen on a port for Slack.
        app_env = {"SLACK_APP_TOKEN": sandbox.endpoints.slack_app_token, **env}
        yield with_sandbox(settings, dict(env)), app_env
    finally:
        sandbox.stop()


@contextlib.asynccontextmanager
async def _until_interrupted() -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _ui_port_of(ui_url: str) -> int:
    """The Web UI's port: that of the links the CLI prints (``DEALCYCLE_TEMPORAL_UI_URL``), so
    a second ``make run`` can be given other ports; 8233 when the URL names none."""
    return urlsplit(ui_url).port or DEFAULT_UI_PORT


async def serve_dev_server(
    settings: Settings, *, port: int, ui_port: int, ui_codec_endpoint: str | None = None
) -> int:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    async with running_dev_server(
        state_dir=settings.state_dir,
        port=port,
        ui_port=ui_port,
        db_filename=settings.state_dir / "temporal.db",
        search_attributes=registrations(),
        log_file=settings.state_dir / "temporal-server.log",
        namespace=settings.temporal_namespace,
        ui_codec_endpoint=ui_codec_endpoint,
    ) as server:
        print(
            f"Temporal dev server on {server.target}; Web UI {server.ui_url}. Ctrl-C stops it.",
            flush=True,
        )
        async with _until_interrupted() as stop:
            await stop.wait()
    return 0


async def serve_worker(settings: Settings, *, sandbox: bool | None) -> int:
    from worker import run_worker

    require_production_credentials(settings)  # before any fallback to the fakes
    with sandbox_if_unconfigured(settings, sandbox) as effective:
        await run_worker(effective)
    return 0


def _with_demo_timings(environ: Mapping[str, str]) -> dict[str, str]:
    merged = dict(environ)
    for name, value in DEMO_TIMINGS.items():
        merged.setdefault(name, value)
    return merged


async def start_demo_trials(client: Any, settings: Settings) -> list[str]:
    """Three trials in three states; on a second run the existing ones are left as they are."""
    demos = [
        ("DEMO-006-ACME", "DEMO-001-ACME", "Acme Corp"),
        ("DEMO-006-GLOBEX", "DEMO-001-GLOBEX", "Globex"),
        ("DEMO-006-INITECH", "DEMO-001-INITECH", "Initech"),
    ]
    ids = []
    for index, (opportunity, account, name) in enumerate(demos):
        workflow_id = f"trial-{opportunity}"
        ids.append(workflow_id)
        if await trial_exists(client, workflow_id):
            continue
        start = trial_start_for(
            settings,
            opportunity_id=opportunity,
            account_id=account,
            account_name=name,
            ce_owner=DEMO_CE,
            ae_owner=DEMO_AE,
            seats=50,
        )
        await start_trial(client, settings, start, reuse_running=True)
        if index == 0:  # Acme: planning, half done
            for item in TRIAL_PLANNING_ITEMS[:4]:
                actor = DEMO_CE if item.lead is Role.CE else DEMO_AE
                await act(
                    client, workflow_id, "complete_step", CompleteStep(item.key, actor, item.lead)
                )
        elif index == 1:  # Globex: planned in full, running, technical win in progress
            for item in TRIAL_PLANNING_ITEMS:
                actor = DEMO_CE if item.lead is Role.CE else DEMO_AE
                await act(
                    client, workflow_id, "complete_step", CompleteStep(item.key, actor, item.lead)
                )
            await act(
                client,
                workflow_id,
                "set_technical_win",
                SetTechnicalWin(TechnicalWinStatus.IN_PROGRESS, DEMO_CE, "use cases agreed"),
            )
        else:  # Initech: started by override, at risk
            await act(
                client,
                workflow_id,
                "start_with_override",
                StartTrialOverride(
                    DEMO_AE, Role.AE, "customer's fiscal year ends; planning continues"
                ),
            )
            await act(
                client,
                workflow_id,
                "set_technical_win",
                SetTechnicalWin(TechnicalWinStatus.AT_RISK, DEMO_CE, "SSO integration blocked"),
            )
    return ids


async def start_demo_accounts(client: Any, settings: Settings) -> list[str]:
    """Two customers brought in at adoption: Hooli (Tier 1, green) and Umbrella (Tier 2, whose
    readings turn it red, so a red-account case opens)."""
    from schemas.account import LifecycleStage, account_workflow_id
    from schemas.health import HealthSignal
    from starter.accounts import start_account

    renewal = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    demos = [
        ("DEMO-001-HOOLI", "Hooli", 1, {"usage": 85.0, "adoption": 80.0, "sentiment": 75.0}),
        ("DEMO-001-UMBRELLA", "Umbrella", 2, {"usage": 20.0, "adoption": 25.0, "sentiment": 30.0}),
    ]
    ids = []
    for account_id, name, tier, readings in demos:
        workflow_id = account_workflow_id(account_id)
        ids.append(workflow_id)
        if await trial_exists(client, workflow_id):
            continue
        await start_account(
            client,
            settings,
            account_id=account_id,
            account_name=name,
            tier=tier,
            renewal_date=renewal + timedelta(days=200),
            seats=120,
            ae_owner=DEMO_AE,
            ce_owner=DEMO_CE,
            region="US West / APAC",
            stage=LifecycleStage.ADOPTION,
            cadence="weekly",
        )
        handle = client.get_workflow_handle(workflow_id)
        for reading, value in readings.items():
            await handle.signal("health_signal", HealthSignal(reading, value, "demo analytics"))
    return ids


def _slack_fake_url(sandbox_env: Mapping[str, str] | None) -> str | None:
    return sandbox_env["SLACK_API_URL"].removesuffix("api/") if sandbox_env else None


@contextlib.contextmanager
def _slack_page_if_sandbox(
    sandbox_env: Mapping[str, str] | None, environ: Mapping[str, str]
) -> Iterator[SlackPage | None]:
    fake_url = _slack_fake_url(sandbox_env)
    if fake_url is None:
        yield None
        return
    with slack_page(fake_url, environ) as page:
        yield page


def slack_app_env(
    environ: Mapping[str, str], sandbox_env: Mapping[str, str] | None, effective: Settings
) -> dict[str, str]:
    """The Slack app's environment: the worker's server, Web UI, sandbox and state. The state
    directory is given, not left to the child to work out: the app records red-account asks
    in the database the worker reads."""
    return {
        **environ,
        **(sandbox_env or {}),
        "DEALCYCLE_TEMPORAL_ADDRESS": effective.temporal_address,
        "DEALCYCLE_TEMPORAL_UI_URL": effective.temporal_ui_url,
        "DEALCYCLE_STATE_DIR": str(effective.state_dir),
    }


async def run_everything(*, demo: bool = True, environ: Mapping[str, str] | None = None) -> int:
    environ = _with_demo_timings(os.environ if environ is None else environ)
    settings = Settings.from_env(environ)
    refuse_dev_run(settings)
    configure_logging(settings.log_format, settings.log_level)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    from dealcycle.metrics import MetricsExport
    from worker import WORKFLOWS, build_activities, build_worker, connect

    async with running_dev_server(
        state_dir=settings.state_dir,
        port=_port_of(settings.temporal_address),
        ui_port=_ui_port_of(settings.temporal_ui_url),
        db_filename=settings.state_dir / "temporal.db",
        search_attributes=registrations(),
        log_file=settings.state_dir / "temporal-server.log",
        namespace=settings.temporal_namespace,
    ) as server:
        settings = replace(
            settings,
            temporal_address=server.target,
            temporal_ui_url=server.ui_url or settings.temporal_ui_url,
        )
        with (
            sandbox_env_if_unconfigured(settings, None) as (effective, sandbox_env),
            _slack_page_if_sandbox(sandbox_env, environ) as page,
        ):
            from starter.usage_feed import with_demo_usage_feed

            effective = with_demo_usage_feed(effective) if demo else effective
            # As `dealcycle worker` does: the metrics runtime before the first client.
            metrics = MetricsExport.start(effective.metrics)
            client = await connect(effective)
            activities = await asyncio.to_thread(build_activities, effective)
            app_env = slack_app_env(environ, sandbox_env, effective)
            async with (
                build_worker(client, effective, activities),
                metrics.levels(client, WORKFLOWS),
                running_slack_app(
                    app_env,
                    fake_url=_slack_fake_url(sandbox_env),
                    log_file=settings.state_dir / "slack-app.log",
                ) as slack_app,
                _until_interrupted() as stop,
            ):
                trials = await start_demo_trials(client, effective) if demo else []
                accounts = await start_demo_accounts(client, effective) if demo else []
                from starter.digest import ensure_digest_schedule
                from starter.intake import ensure_intake_schedule
                from starter.usage_feed import ensure_usage_feed_schedule

                schedule = await ensure_intake_schedule(
                    client, effective, timedelta(seconds=effective.intake_interval_seconds)
                )
                digest = await ensure_digest_schedule(client, effective)
                usage_feed = await ensure_usage_feed_schedule(client, effective)
                ui = f"{server.ui_url}/namespaces/{effective.temporal_namespace}/workflows"
                lines = [
                    "dealcycle is running.",
                    f"Temporal Web UI   {server.ui_url}",
                    f"Temporal server   {server.target}",
                    f"History kept in   {settings.state_dir / 'temporal.db'}",
                    f"Database          {effective.database_url}",
                    f"Intake            {schedule}",
                    f"Digest            {digest}",
                    f"Usage feed        {usage_feed}  (dealcycle usage-feed run-now)",
                ]
                if page is not None:
                    lines.append(f"Slack (sandbox)   {page.url}  (pick 'You are', then click)")
                    lines.append(
                        "                  planning reminders with Done arrive in the CE's and"
                        " AE's DMs a few minutes after a trial starts"
                    )
                if slack_app is not None:
                    lines.append(f"Slack app         {slack_app}")
                lines.append("")
                if trials:
                    lines += ["Demo trials:"] + [f"  {ui}/{workflow_id}" for workflow_id in trials]
                    lines += [
                        "",
                        "Try, in another terminal:",
                        f"  .venv/bin/dealcycle status {trials[0]}",
                        f"  .venv/bin/dealcycle step complete {trials[0]} user_survey"
                        f" --by {DEMO_AE} --role AE",
                        "  .venv/bin/dealcycle trial list",
                        f'  UI search:  OpportunityId = "{trials[0].removeprefix("trial-")}"',
                    ]
                if accounts:
                    lines += ["", "Demo accounts:"]
                    lines += [f"  {ui}/{workflow_id}" for workflow_id in accounts]
                    lines += [
                        "",
                        f"  .venv/bin/dealcycle account show {accounts[0]}",
                        f"  .venv/bin/dealcycle health {accounts[1]}",
                        "  .venv/bin/dealcycle red list",
                        '  UI search:  CustomerHealth = "red"',
                    ]
                lines += [
                    "",
                    "Ctrl-C stops everything; the next `make run` finds the same workflows.",
                ]
                _banner(lines)
                await stop.wait()
                log.info("stopping: worker, then sandbox, then the Temporal server")
    return 0
