"""End to end: the real dev server, the worker as a subprocess, the CLI as a person uses it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from dealcycle.devtools.devserver import DevServerInfo, running_dev_server
from schemas.search_attributes import registrations
from tests.support.codec import TEST_CODEC_ENV, TEST_DATA_CONVERTER
from tests.support.dev_temporal import on_free_ports

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[1]
DEALCYCLE = [sys.executable, "-m", "starter.cli"]
CE, AE = "U0CE00009", "U0AE00009"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def e2e_env(tmp_path: Path, salesforce_settings: Any, slack_settings: Any) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEALCYCLE_", "SALESFORCE_", "SLACK_"))
    }
    env.update(
        {
            "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
            "DEALCYCLE_TASK_QUEUE": f"e2e-{uuid.uuid4()}",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
            "DEALCYCLE_LOG_FORMAT": "json",
            "SALESFORCE_LOGIN_URL": salesforce_settings.login_url,
            "SALESFORCE_CLIENT_ID": salesforce_settings.client_id,
            "SALESFORCE_CLIENT_SECRET": salesforce_settings.client_secret,
            "SALESFORCE_USERNAME": salesforce_settings.username,
            "SALESFORCE_PASSWORD": salesforce_settings.password,
            "SALESFORCE_CA_BUNDLE": salesforce_settings.ca_bundle,
            "SALESFORCE_AUTH": salesforce_settings.auth,
            "SLACK_BOT_TOKEN": slack_settings.bot_token,
            "SLACK_API_URL": slack_settings.api_url,
            # The worker process and the CLI encrypt payloads, as every client of the suite.
            **TEST_CODEC_ENV,
        }
    )
    return env


@asynccontextmanager
async def e2e_server(
    tmp_path: Path, env: dict[str, str], *, ui: bool = False
) -> AsyncIterator[DevServerInfo]:
    """The dev server of one test (its history under ``tmp_path``), its address in ``env``."""
    async with contextlib.AsyncExitStack() as stack:
        server = await on_free_ports(
            stack,
            lambda: running_dev_server(
                state_dir=tmp_path / "temporal",
                port=free_port(),
                ui_port=free_port() if ui else None,
                db_filename=tmp_path / "temporal" / "temporal.db",
                search_attributes=registrations(),
                log_file=tmp_path / "temporal.log",
            ),
        )
        env["DEALCYCLE_TEMPORAL_ADDRESS"] = server.target
        yield server


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEALCYCLE, *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def worker_process(e2e_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        log = (tmp_path / "worker.log").open("w")
        process = subprocess.Popen(
            [*DEALCYCLE, "worker", "--no-sandbox"],
            env=e2e_env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_cli_starts_a_trial_completes_steps_and_shows_status(
    tmp_path: Path,
    e2e_env: dict[str, str],
    worker_process: Any,
    salesforce_fake: Any,
    slack_fake: Any,
) -> None:
    salesforce_fake.add_record("Opportunity", {"Id": "006E2E", "Name": "Umbrella"})
    async with e2e_server(tmp_path, e2e_env, ui=True):
        worker = worker_process()

        started = cli(
            e2e_env, "trial", "start", "--opportunity", "006E2E", "--account", "001E2E",
            "--account-name", "Umbrella", "--ce", CE, "--ae", AE, "--seats", "30",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert "started trial-006E2E" in started.stdout

        again = cli(
            e2e_env, "trial", "start", "--opportunity", "006E2E", "--account", "001E2E",
            "--account-name", "Umbrella", "--ce", CE, "--ae", AE,
        )  # fmt: skip
        assert again.returncode == 1
        assert "trial-006E2E already exists" in again.stderr

        wrong_role = cli(
            e2e_env, "step", "complete", "trial-006E2E", "user_survey", "--by", CE, "--role", "CE"
        )
        assert wrong_role.returncode == 1
        assert "rejected: step 'user_survey' is led by the AE, not the CE" in wrong_role.stderr

        for key, lead in [
            ("technical_landscape", "CE"),
            ("use_cases_and_success_metrics", "CE"),
            ("business_value_assessment", "AE"),
            ("user_survey", "AE"),
        ]:
            done = cli(
                e2e_env,
                "step",
                "complete",
                "trial-006E2E",
                key,
                "--by",
                CE if lead == "CE" else AE,
                "--role",
                lead,
            )
            assert done.returncode == 0, done.stderr
            assert "done" in done.stdout

        twice = cli(
            e2e_env, "step", "complete", "trial-006E2E", "user_survey", "--by", AE, "--role", "AE"
        )
        assert twice.returncode == 1 and "already completed by U0AE00009" in twice.stderr

        status = cli(e2e_env, "status", "trial-006E2E")
        assert status.returncode == 0, status.stderr
        lines = status.stdout.splitlines()
        assert lines[0].split() == ["trial-006E2E", "TrialWorkflow", "RUNNING"]
        assert any(line.startswith("Phase") and line.split()[-1] == "planning" for line in lines)
        wanted = {"technical_landscape", "user_survey", "trial_rollout_plan", "mid_trial_check_in"}
        rows = {cells[0]: cells for line in lines if (cells := line.split()) and cells[0] in wanted}
        assert (
            rows["technical_landscape"][1:3] == ["CE", CE] and "done" in rows["technical_landscape"]
        )
        assert rows["user_survey"][1:3] == ["AE", AE] and AE in rows["user_survey"][5:]
        assert "pending" in rows["trial_rollout_plan"]
        assert "pending" in rows["mid_trial_check_in"]

        for key in (
            "deployment_support",
            "technical_configuration_review",
            "trial_rollout_plan",
            "communication_and_support",
        ):
            assert (
                cli(
                    e2e_env, "step", "complete", "trial-006E2E", key, "--by", CE, "--role", "CE"
                ).returncode
                == 0
            )
        running = cli(e2e_env, "status", "trial-006E2E")
        assert any(
            line.startswith("Phase") and line.split()[-1] == "running"
            for line in running.stdout.splitlines()
        )
        assert _wait(
            lambda: any(
                m.text.startswith("Trial started for Umbrella") for m in slack_fake.messages
            )
        )
        assert _wait(lambda: "License keys" in cli(e2e_env, "status", "trial-006E2E").stdout)

        bad_extension = cli(
            e2e_env, "trial", "extend", "trial-006E2E", "--days", "0", "--reason", "x",
            "--by", CE, "--role", "CE",
        )  # fmt: skip
        assert bad_extension.returncode == 1
        assert "rejected: days: a whole number from 1 to 365 (got 0)" in bad_extension.stderr
        won = cli(
            e2e_env, "trial", "tech-win", "trial-006E2E", "won", "--by", CE, "--note", "all green"
        )
        assert won.returncode == 0 and "not_started -> won" in won.stdout, won.stderr
        concluded = cli(
            e2e_env, "trial", "conclude", "trial-006E2E",
            "--by", AE, "--role", "AE", "--reason", "signed",
        )  # fmt: skip
        assert concluded.returncode == 0 and "technical_win" in concluded.stdout, concluded.stderr
        assert _wait(
            lambda: "COMPLETED" in cli(e2e_env, "status", "trial-006E2E").stdout.splitlines()[0]
        )
        late = cli(
            e2e_env,
            "step",
            "complete",
            "trial-006E2E",
            "mid_trial_check_in",
            "--by",
            CE,
            "--role",
            "CE",
        )
        assert late.returncode == 1
        assert "trial-006E2E is completed; it accepts no more actions" in late.stderr
        final = cli(e2e_env, "status", "trial-006E2E").stdout
        assert "Outcome      technical_win" in final
        opportunity = salesforce_fake.get_record("Opportunity", "006E2E")
        assert opportunity["Trial_Outcome__c"] == "technical_win"

        unknown = cli(e2e_env, "status", "trial-NOPE")
        assert unknown.returncode == 1 and "there is no workflow 'trial-NOPE'" in unknown.stderr

        # The worker stops cleanly on SIGTERM.
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        log = (tmp_path / "worker.log").read_text()
        assert "worker stopped" in log
        assert salesforce_settings_secret_not_in(log, e2e_env)


def salesforce_settings_secret_not_in(log: str, env: dict[str, str]) -> bool:
    secrets = [env["SALESFORCE_PASSWORD"], env["SALESFORCE_CLIENT_SECRET"], env["SLACK_BOT_TOKEN"]]
    return not any(secret and secret in log for secret in secrets)


def _wait(predicate: Any, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


async def test_cli_runs_an_opportunity_with_its_children_and_hands_it_off(
    tmp_path: Path, e2e_env: dict[str, str], worker_process: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record("Account", {"Id": "001CLI", "Name": "Initrode"})
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006CLI", "Name": "Initrode", "AccountId": "001CLI"}
    )
    async with e2e_server(tmp_path, e2e_env):
        worker_process()
        wf = "opportunity-006CLI"

        bad_region = cli(
            e2e_env, "opportunity", "start", "--opportunity", "006CLI", "--account", "001CLI",
            "--account-name", "Initrode", "--ae", AE, "--ce", CE, "--region", "Mars",
            "--deployment", "cloud", "--tier", "2",
        )  # fmt: skip
        assert bad_region.returncode == 2
        assert (
            "unknown region 'Mars'; the regions are 'US West / APAC' or 'US East / EMEA'"
            in bad_region.stderr
        )

        started = cli(
            e2e_env, "opportunity", "start", "--opportunity", "006CLI", "--account", "001CLI",
            "--account-name", "Initrode", "--ae", AE, "--ce", CE, "--region", "US West / APAC",
            "--deployment", "cloud", "--tier", "2", "--complex", "--stage", "2",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr

        def ok(*args: str) -> str:
            done = cli(e2e_env, *args)
            assert done.returncode == 0, (args, done.stderr)
            return done.stdout

        gated = cli(e2e_env, "opportunity", "advance", wf, "3", "--by", AE, "--role", "AE")
        assert gated.returncode == 1
        assert "needs a Technical Design Document linked" in gated.stderr
        backwards = cli(e2e_env, "opportunity", "advance", wf, "1", "--by", AE, "--role", "AE")
        assert "cannot move back from Stage 2 - Qualification" in backwards.stderr
        ok("opportunity", "tdd-link", wf, "https://docs/tdd/initrode", "--by", CE, "--role", "CE")
        early = cli(e2e_env, "opportunity", "trial", wf, "--by", CE, "--role", "CE")
        assert "record a technical deal review before the trial" in early.stderr
        ok("opportunity", "deal-review", wf, "--summary", "fits", "--by", CE, "--role", "CE")
        ok("opportunity", "trial", wf, "--by", CE, "--role", "CE")
        ok("opportunity", "questionnaire", wf, "--by", AE, "--role", "AE")
        assert _wait(lambda: "security-review-006CLI" in cli(e2e_env, "status", wf).stdout)
        assert _wait(
            lambda: "trial-006CLI  TrialWorkflow  RUNNING" in cli(e2e_env, "status", wf).stdout
        )
        status = cli(e2e_env, "status", wf).stdout
        assert "Stage        Stage 2 - Qualification  [open]" in status
        assert "security-review-006CLI  SecurityReviewWorkflow  RUNNING" in status
        assert "grant_access" in status and "technical_landscape" in status
        wrong_person = cli(
            e2e_env, "security", "step", "security-review-006CLI", "grant_access", "--by", CE
        )
        assert wrong_person.returncode == 1 and "rejected:" in wrong_person.stderr

        for part in ("trial_design", "production_design"):
            ok("opportunity", "tdd-complete", wf, part, "--by", CE, "--role", "CE")
        ok("opportunity", "close", wf, "won", "--by", AE, "--role", "AE")
        assert _wait(lambda: "COMPLETED" in cli(e2e_env, "status", wf).stdout.splitlines()[0])
        salesforce_fake.seed_record(
            "Opportunity", {"StageName": "Closed Won", "AccountId": "001CLI"}, "006CLI"
        )
        repeat = cli(e2e_env, "deal-closed", "006CLI")
        assert repeat.returncode == 0, repeat.stderr
        # No pre-read: the running account is signalled and keeps one hand-off per deal.
        assert "handed 006CLI to account-001CLI, already running" in repeat.stdout
        assert "a repeat changes nothing" in repeat.stdout

        # The real Temporal Schedule runs the intake: a deal won in Salesforce alone is handed off.
        salesforce_fake.add_record("Account", {"Id": "001SCHED", "Name": "Vandelay"})
        salesforce_fake.add_record(
            "Opportunity", {"Id": "006SCHED", "AccountId": "001SCHED", "StageName": "Closed Won"}
        )
        scheduled = cli(e2e_env, "intake", "schedule", "--every", "2s")
        assert (
            scheduled.returncode == 0 and "created schedule closed-won-intake" in scheduled.stdout
        )
        assert _wait(lambda: "006SCHED" in cli(e2e_env, "status", "account-001SCHED").stdout, 60)
        repeat = cli(e2e_env, "deal-closed", "006SCHED")
        assert "handed 006SCHED to account-001SCHED, already running" in repeat.stdout

        # Operations see what the scheduled polls did, and why one failed, from the CLI.
        def polls() -> str:
            done = cli(e2e_env, "intake", "status")
            assert done.returncode == 0, done.stderr
            return done.stdout

        status = polls()
        assert "schedule closed-won-intake: a Closed Won poll every 0:00:02; next poll" in status
        # The poll that handed 006SCHED off (and 006CLI, won before the schedule existed).
        assert re.search(r"UTC  handed off [1-9]\d*, skipped 0\n", status), status
        salesforce_fake.expire_sessions()
        salesforce_fake.invalid_grant_next(2)  # the next two polls cannot log in
        assert _wait(lambda: "poll(s) failed: fix the cause" in polls(), 60)
        failed = [line for line in polls().splitlines() if "FAILED" in line]
        assert failed and all("invalid_grant" in line for line in failed), failed
        # Once Salesforce takes the login again, a poll completes and no failure streak shows.
        assert _wait(lambda: "failed: fix the cause" not in polls(), 60)


# --- The CLI never prints a traceback ----------------------------------------------------------

DEALCYCLE_SCRIPT = str(Path(sys.executable).with_name("dealcycle"))
"""The console script a person runs: its exit path is the one that once crashed (exit 139)."""


def dealcycle(
    env: dict[str, str], *args: str, stdout: Any = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEALCYCLE_SCRIPT, *args],
        env=env,
        cwd=REPO_ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=90,
        check=False,
    )


def one_line_refusal(done: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (1,)) -> str:
    """The line a failed command printed, after checking it printed only that, and no traceback
    (the SDK's own warnings, such as an oversized payload's, may come before it)."""
    assert done.returncode in codes, (done.returncode, done.stderr)
    assert "Traceback" not in (done.stdout or "") + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("dealcycle")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def closed_stdout(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``dealcycle … | head`` with a reader that is already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return dealcycle(env, *args, stdout=write_end)
    finally:
        os.close(write_end)


def interrupted_while_waiting(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Ctrl-C once the command talks to the server (it has a socket: its imports are done)."""
    process = subprocess.Popen(
        [DEALCYCLE_SCRIPT, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    fds = Path(f"/proc/{process.pid}/fd")

    def has_socket() -> bool:
        try:
            return any(os.readlink(fd).startswith("socket:") for fd in fds.iterdir())
        except OSError:
            return False

    assert _wait(has_socket, 60)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


async def test_the_cli_answers_every_bad_input_in_one_line_and_shows_every_workflow_type(
    tmp_path: Path, e2e_env: dict[str, str], worker_process: Any, salesforce_fake: Any
) -> None:
    from temporalio.client import Client

    salesforce_fake.add_record("Account", {"Id": "001ROB", "Name": "Robust"})
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006ROB", "Name": "Robust", "AccountId": "001ROB"}
    )
    nowhere = f"127.0.0.1:{free_port()}"
    away = {**e2e_env, "DEALCYCLE_TEMPORAL_ADDRESS": nowhere}
    unreachable = one_line_refusal(dealcycle(away, "status", "trial-ROB"))
    assert f"cannot reach the Temporal server at {nowhere}" in unreachable

    async with e2e_server(tmp_path, e2e_env) as server:
        worker_process()
        client = await Client.connect(server.target, data_converter=TEST_DATA_CONVERTER)
        nobody = f"nobody-polls-{uuid.uuid4()}"
        await client.start_workflow(
            "TrialWorkflow", "not a TrialInput", id="trial-ROBSTUCK",
            task_queue=e2e_env["DEALCYCLE_TASK_QUEUE"],
        )  # fmt: skip
        await client.start_workflow("TrialWorkflow", "x", id="trial-ROBIDLE", task_queue=nobody)
        await client.start_workflow("PayrollWorkflow", id="payroll-ROB", task_queue=nobody)

        # `status ''` once ended in a segmentation fault; every run ends the same way.
        for _ in range(10):
            empty = one_line_refusal(dealcycle(e2e_env, "status", ""), (1, 2))
            assert empty == "dealcycle: WORKFLOW_ID is empty; give one, e.g. trial-006ACME"
        for _ in range(3):  # a refusal after connecting takes the same exit
            other = one_line_refusal(dealcycle(e2e_env, "status", "payroll-ROB"))
            assert (
                "payroll-ROB is a PayrollWorkflow, which `dealcycle status` does not show" in other
            )
        long_id = one_line_refusal(dealcycle(e2e_env, "status", "x" * 5000))
        assert (
            long_id == "dealcycle: WORKFLOW_ID is 5,000 bytes long; Temporal allows at most 1,000"
        )
        unknown = one_line_refusal(dealcycle(e2e_env, "status", "trial-ROBNOPE"))
        assert unknown == "dealcycle: there is no workflow 'trial-ROBNOPE'"

        async def task_attempts() -> int:
            description = await client.get_workflow_handle("trial-ROBSTUCK").describe()
            return description.raw_description.pending_workflow_task.attempt

        for _ in range(150):  # the worker has failed its task at least once
            if await task_attempts() >= 2:
                break
            await asyncio.sleep(0.2)
        stuck = one_line_refusal(dealcycle(e2e_env, "status", "trial-ROBSTUCK"))
        assert stuck.startswith("dealcycle: trial-ROBSTUCK is not answering: its workflow task has")
        # The failure's message, decrypted (the worker encrypts it): not "Encoded failure".
        assert "the failure: Failed decoding arguments" in stuck, stuck
        idle = one_line_refusal(dealcycle(e2e_env, "status", "trial-ROBIDLE"))
        assert f"trial-ROBIDLE is not answering: no worker polls its task queue {nobody!r}" in idle
        stopped = interrupted_while_waiting(e2e_env, "status", "trial-ROBIDLE")
        assert (stopped.returncode, stopped.stdout, stopped.stderr) == (130, "", "")

        # Every workflow type has its status.
        started = dealcycle(
            e2e_env, "opportunity", "start", "--opportunity", "006ROB", "--account", "001ROB",
            "--account-name", "Robust", "--ae", AE, "--ce", CE, "--region", "US East / EMEA",
            "--deployment", "cloud", "--tier", "2",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        asked = dealcycle(
            e2e_env,
            "opportunity",
            "questionnaire",
            "opportunity-006ROB",
            "--by",
            AE,
            "--role",
            "AE",
        )
        assert asked.returncode == 0, asked.stderr
        assert _wait(lambda: dealcycle(e2e_env, "status", "security-review-006ROB").returncode == 0)
        review = dealcycle(e2e_env, "status", "security-review-006ROB").stdout.splitlines()
        assert review[0] == "security-review-006ROB  SecurityReviewWorkflow  RUNNING"
        header = next(line for line in review if line.startswith("STEP"))
        assert header.split()[:3] == ["STEP", "ROLE", "OWNER"]
        assert any(line.split()[:3] == ["grant_access", "AE", AE] for line in review)

        account = dealcycle(
            e2e_env, "account", "start", "001ROB", "--name", "Robust", "--tier", "2",
            "--renewal-date", f"{time.gmtime().tm_year + 2}-01-31", "--seats", "10",
            "--ae", AE, "--ce", CE,
        )  # fmt: skip
        assert account.returncode == 0, account.stderr
        red = dealcycle(
            e2e_env, "health", "001ROB", "--set", "red", "--reason", "sponsor left",
            "--by", AE, "--role", "AE",
        )  # fmt: skip
        assert red.returncode == 0, red.stderr
        case = red.stdout.split("red-account case ")[1].split()[0]
        assert case.startswith("red-account-001ROB-1-")
        assert _wait(lambda: dealcycle(e2e_env, "status", case).returncode == 0)
        shown = dealcycle(e2e_env, "status", case).stdout
        assert shown.splitlines()[0] == f"{case}  RedAccountWorkflow  RUNNING"
        assert "Why red      sponsor left" in shown.splitlines()
        assert shown == dealcycle(e2e_env, "red", "show", "001ROB").stdout

        polled = dealcycle(e2e_env, "intake", "run")
        assert polled.returncode == 0, polled.stderr
        runs = [
            execution.id
            async for execution in client.list_workflows("WorkflowType = 'ClosedWonIntakeWorkflow'")
        ]
        intake = dealcycle(e2e_env, "status", runs[0]).stdout.splitlines()
        assert intake[0] == f"{runs[0]}  ClosedWonIntakeWorkflow  COMPLETED"

        # A payload over Temporal's limit, and a reader that has gone.
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"use_cases": ["u" * 3_000_000]}))
        too_big = dealcycle(
            e2e_env, "account", "plan", "001ROB", "--quarter", "2027-Q2", "--file", str(plan),
            "--by", AE, "--role", "AE",
        )  # fmt: skip
        assert "MB" in one_line_refusal(too_big, (1, 2))
        for args in (("status", "security-review-006ROB"), ("trial", "list"), ("--help",)):
            piped = closed_stdout(e2e_env, *args)
            assert piped.returncode in (0, 141) and piped.stderr == "", (args, piped.stderr)
