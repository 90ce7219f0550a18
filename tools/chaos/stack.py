"""The processes the chaos suite runs and breaks: PostgreSQL, the Temporal dev server (with
its SQLite file, so a restart keeps every workflow), the fakes and the worker subprocess.

The fakes run in this process on fixed ports, so the Slack fake can be stopped (clients then
get refused connections) and started again where clients expect it, its recordings kept.
PostgreSQL is a cluster of its own under the run's directory: stopping it cannot reach the
cluster a test session shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from temporalio.client import Client

from dealcycle.devtools.devserver import free_port, running_dev_server
from dealcycle.devtools.postgres import LocalPostgres
from dealcycle.fakes import Sandbox, start_sandbox
from schemas.search_attributes import registrations

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_COMMAND = (sys.executable, "-m", "starter.cli", "worker", "--no-sandbox")
DATABASE = "dealcycle_chaos"


class Stack:
    """Start with ``await stack.start()``, stop with ``await stack.stop()``."""

    def __init__(self, run_dir: Path, timings: Mapping[str, str]) -> None:
        self.run_dir = run_dir.absolute()
        self.timings = dict(timings)
        self.task_queue = "dealcycle-chaos"
        self.postgres = LocalPostgres(self.run_dir / "postgres")
        self.sandbox: Sandbox | None = None
        self.server_port = free_port()
        self.database_url = ""
        self.worker_kills = 0
        self.worker_starts = 0
        self.server_restarts = 0
        self._server_stack: contextlib.AsyncExitStack | None = None
        self._worker: subprocess.Popen[bytes] | None = None
        self._worker_log: IO[bytes] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    # -- whole stack --------------------------------------------------------------------

    async def start(self) -> Client:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.postgres.start)
        await asyncio.to_thread(self.postgres.drop_database, DATABASE)
        self.database_url = await asyncio.to_thread(self.postgres.create_database, DATABASE)
        self.sandbox = start_sandbox(
            self.run_dir / "fakes", salesforce_port=free_port(), slack_port=free_port()
        )
        await self.start_server()
        self._worker_log = (self.run_dir / "worker.log").open("ab")
        self._supervisor = asyncio.create_task(self._supervise())
        return await self.connect()

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self._end_worker(signal.SIGTERM)
        if self._worker_log is not None:
            self._worker_log.close()
        await self.stop_server()
        if self.sandbox is not None:
            self.sandbox.stop()
        await asyncio.to_thread(self.postgres.stop)

    async def connect(self) -> Client:
        return await Client.connect(f"127.0.0.1:{self.server_port}")

    @property
    def fakes(self) -> Sandbox:
        if self.sandbox is None:
            raise RuntimeError("the stack is not started")
        return self.sandbox

    def worker_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DEALCYCLE_", "SALESFORCE_", "SLACK_", "DATABASE_URL"))
        }
        env.update(self.fakes.env)
        env.update(self.timings)
        env.update(
            {
                "DEALCYCLE_STATE_DIR": str(self.run_dir / "state"),
                "DEALCYCLE_TEMPORAL_ADDRESS": f"127.0.0.1:{self.server_port}",
                "DEALCYCLE_TASK_QUEUE": self.task_queue,
                "DATABASE_URL": self.database_url,
                "DEALCYCLE_LOG_FORMAT": "json",
            }
        )
        return env

    # -- the dev server -----------------------------------------------------------------

    async def start_server(self) -> None:
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(
            running_dev_server(
                state_dir=self.run_dir / "temporal",
                port=self.server_port,
                ui_port=None,
                db_filename=self.run_dir / "temporal" / "temporal.db",
                search_attributes=registrations(),
                log_file=self.run_dir / f"temporal-{self.server_restarts}.log",
            )
        )
        self._server_stack = stack

    async def stop_server(self) -> None:
        if self._server_stack is not None:
            await self._server_stack.aclose()
            self._server_stack = None

    async def restart_server(self) -> None:
        await self.stop_server()
        self.server_restarts += 1
        await self.start_server()

    # -- the worker ---------------------------------------------------------------------

    def kill_worker(self) -> bool:
        """SIGKILL the worker if it runs; the supervisor starts another."""
        if self._worker is None or self._worker.poll() is not None:
            return False
        self._worker.kill()
        self._worker.wait()
        self.worker_kills += 1
        return True

    def _end_worker(self, how: signal.Signals) -> None:
        if self._worker is not None and self._worker.poll() is None:
            self._worker.send_signal(how)
            try:
                self._worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._worker.kill()
                self._worker.wait()

    async def _supervise(self) -> None:
        """Keep one worker running: it is killed on purpose, and it may also exit on its own
        when it starts while PostgreSQL or the dev server is down."""
        while True:
            if self._worker is None or self._worker.poll() is not None:
                self._spawn_worker()
            await asyncio.sleep(1.0)

    def _spawn_worker(self) -> None:
        self._worker = subprocess.Popen(
            WORKER_COMMAND,
            env=self.worker_env(),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._worker_log,
            stderr=subprocess.STDOUT,
        )
        self.worker_starts += 1
