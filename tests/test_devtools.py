"""The local tooling: finding the Temporal CLI and test server, the throwaway PostgreSQL,
and the dev server wrapper. Everything here runs the real programs that `make test`
installs; only the lookups use fake executables in temporary directories.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from google.protobuf.duration_pb2 import Duration
from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from dealcycle.devtools import temporal_cli, test_server
from dealcycle.devtools.devserver import (
    DevServerError,
    DevServerInfo,
    PortInUseError,
    free_port,
    port_is_free,
    running_dev_server,
)
from dealcycle.devtools.postgres import LocalPostgres, conninfo
from schemas.search_attributes import ALL_KEYS, registrations
from tests.support.dev_temporal import PORT_ATTEMPTS, on_free_ports

# -- finding the Temporal CLI ---------------------------------------------------------


def _fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repo root and environment in which no Temporal CLI or test server exists."""
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv("GOPATH", str(tmp_path / "gopath"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(temporal_cli.ENV_VAR, raising=False)
    monkeypatch.delenv(test_server.ENV_VAR, raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    yield repo


def test_find_temporal_cli_returns_none_when_there_is_none(bare_machine: Path) -> None:
    assert temporal_cli.find_temporal_cli(bare_machine) is None


def test_find_temporal_cli_search_order(
    bare_machine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_gopath = _fake_executable(tmp_path / "gopath" / "bin" / "temporal")
    assert temporal_cli.find_temporal_cli(bare_machine) == from_gopath

    from_repo = _fake_executable(bare_machine / ".dealcycle" / "bin" / "temporal")
    assert temporal_cli.find_temporal_cli(bare_machine) == from_repo

    on_path = _fake_executable(tmp_path / "empty-bin" / "temporal")
    assert temporal_cli.find_temporal_cli(bare_machine) == on_path

    configured = _fake_executable(tmp_path / "elsewhere" / "my-temporal")
    monkeypatch.setenv(temporal_cli.ENV_VAR, str(configured))
    assert temporal_cli.find_temporal_cli(bare_machine) == configured


def test_find_temporal_cli_rejects_a_wrong_env_var(
    bare_machine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A typo must not silently fall through to some other CLI.
    _fake_executable(bare_machine / ".dealcycle" / "bin" / "temporal")
    not_executable = tmp_path / "temporal.txt"
    not_executable.write_text("")
    for value in (str(tmp_path / "missing"), str(not_executable)):
        monkeypatch.setenv(temporal_cli.ENV_VAR, value)
        with pytest.raises(temporal_cli.TemporalCliConfigError, match=temporal_cli.ENV_VAR):
            temporal_cli.find_temporal_cli(bare_machine)


def test_find_test_server(
    bare_machine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert test_server.find_test_server(bare_machine) is None
    installed = _fake_executable(bare_machine / test_server.LAUNCHER_RELATIVE)
    assert test_server.find_test_server(bare_machine) == installed
    configured = _fake_executable(tmp_path / "other" / "launcher")
    monkeypatch.setenv(test_server.ENV_VAR, str(configured))
    assert test_server.find_test_server(bare_machine) == configured
    monkeypatch.setenv(test_server.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(test_server.TestServerConfigError):
        test_server.find_test_server(bare_machine)


# -- the time-skipping test server ----------------------------------------------------


@workflow.defn(sandboxed=False)
class SleepsThirtyDays:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(days=30))
        return "woke up"


async def test_installed_test_server_skips_time() -> None:
    """The launcher from scripts/install-test-server works with the SDK's time skipping.

    (With --enable-time-skipping in the launcher this would time out instead.)
    """
    assert test_server.find_test_server() is not None, "run scripts/install-test-server"
    env = await test_server.start_time_skipping_environment()
    async with env:
        async with Worker(
            env.client,
            task_queue="devtools-test",
            workflows=[SleepsThirtyDays],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            result = await asyncio.wait_for(
                env.client.execute_workflow(
                    SleepsThirtyDays.run, id="sleeps-thirty-days", task_queue="devtools-test"
                ),
                timeout=60,
            )
    assert result == "woke up"


def test_the_installed_test_server_starts_from_its_class_archive(tmp_path: Path) -> None:
    """scripts/install-test-server records the classes a test server loads, and its launcher
    maps them (``dealcycle.devtools.test_server_archive``); a JVM that could not would load
    them from the jars again, on twice the CPU per test module."""
    launcher = test_server.find_test_server()
    assert launcher is not None, "run scripts/install-test-server"
    assert (launcher.parent / "classes.jsa").is_file()
    loaded = tmp_path / "class-load.log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(launcher), str(port)],
        # -Xshare:on: an archive the JVM cannot map stops it instead of being passed over.
        env={**os.environ, "JAVA_TOOL_OPTIONS": f"-Xshare:on -Xlog:class+load:file={loaded}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    main_class = re.compile(r"io\.temporal\.testserver\.TestServer source: (.*)")
    try:
        line = None
        for _ in range(300):
            found = main_class.search(loaded.read_text()) if loaded.exists() else None
            if found or server.poll() is not None:
                line = found
                break
            time.sleep(0.1)
    finally:
        server.kill()
        server.wait()
    assert line is not None, "the test server did not start with its class archive"
    assert line.group(1) == "shared objects file (top)"


# -- PostgreSQL -----------------------------------------------------------------------


@pytest.mark.postgres
def test_local_postgres_lifecycle(tmp_path: Path) -> None:
    server = LocalPostgres(tmp_path / "pg")
    try:
        url = server.start()
        assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(sa.text("select 1")).scalar() == 1
        engine.dispose()

        # A second handle on the same directory adopts the running cluster and its port.
        again = LocalPostgres(tmp_path / "pg")
        assert again.start() == url

        db_url = server.create_database("devtools_probe")
        assert db_url.endswith("/devtools_probe")
        conn = psycopg.connect(conninfo(db_url), autocommit=True)
        try:
            assert conn.execute("select current_database()").fetchone() == ("devtools_probe",)
            server.drop_database("devtools_probe")  # even with a session open (FORCE)
        finally:
            conn.close()
        with psycopg.connect(conninfo(url)) as conn:
            row = conn.execute(
                "select count(*) from pg_database where datname = 'devtools_probe'"
            ).fetchone()
        assert row == (0,)

        server.stop()
        assert not server.is_running()
        # And it starts again from the same data directory.
        assert server.start().startswith("postgresql+psycopg://postgres@127.0.0.1:")
    finally:
        server.destroy()


_HOLD_A_LEASE = """
import sys
from pathlib import Path

from dealcycle.devtools.postgres import LocalPostgres

with LocalPostgres(Path(sys.argv[1])).shared() as url:
    print(url, flush=True)
    sys.stdin.readline()
"""


@pytest.mark.postgres
def test_shared_cluster_stops_with_its_last_user(tmp_path: Path) -> None:
    """Two test sessions on one checkout: the first to finish must not stop the other's."""
    data_dir = tmp_path / "pg"
    other = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_LEASE, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    server = LocalPostgres(data_dir)
    try:
        assert other.stdout is not None
        url = other.stdout.readline().strip()
        with server.shared() as mine:
            assert mine == url  # joined the running cluster
        assert server.is_running(), "stopped while another session still used it"
        other.communicate("\n", timeout=120)
        assert other.returncode == 0
        assert not server.is_running(), "the last user must stop it"
    finally:
        other.kill()
        other.wait()
        server.destroy()


def test_database_url_gives_an_empty_database(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            assert sa.inspect(connection).get_table_names() == []
            connection.execute(sa.text("create table probe (id integer primary key)"))
            connection.execute(sa.text("insert into probe values (1)"))
            assert connection.execute(sa.text("select count(*) from probe")).scalar() == 1
    finally:
        engine.dispose()


# -- the Temporal dev server ----------------------------------------------------------


async def _custom_search_attributes(target: str, namespace: str = "default") -> dict[str, int]:
    client = await Client.connect(target, namespace=namespace)
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(response.custom_attributes)


def _keyword() -> int:
    return int(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD)


@pytest.mark.e2e
async def test_dev_server_starts_registers_and_stops(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    wanted = registrations()
    async with running_dev_server(
        state_dir=tmp_path / "state",
        port=port,
        ui_port=ui_port,
        db_filename=tmp_path / "state" / "temporal.db",
        search_attributes=wanted,
    ) as info:
        assert info.target == f"127.0.0.1:{port}"
        assert info.pid is not None and info.cli_path is not None
        attributes = await _custom_search_attributes(info.target)
        assert {name: attributes.get(name) for name in wanted} == {
            key.name: int(key.indexed_value_type) for key in ALL_KEYS
        }
        assert not port_is_free("127.0.0.1", port)
        assert info.ui_url == f"http://127.0.0.1:{ui_port}"
        with urllib.request.urlopen(info.ui_url, timeout=10) as response:  # noqa: ASYNC210
            assert response.status == 200
        pid = info.pid
    assert port_is_free("127.0.0.1", port)
    assert port_is_free("127.0.0.1", ui_port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert (tmp_path / "state" / "temporal.db").exists()


@pytest.mark.e2e
async def test_dev_server_restarts_on_the_same_database(tmp_path: Path) -> None:
    """A second start on the same SQLite file keeps its state and adds new attributes.

    The CLI ignores --search-attribute for a namespace that already exists, so this is
    what catches an attribute added to the schema after the first `make run`.
    """
    state, db = tmp_path / "state", tmp_path / "state" / "temporal.db"
    port = free_port()
    first = {"OpportunityId": "Keyword"}
    async with running_dev_server(
        state_dir=state, port=port, ui_port=None, db_filename=db, search_attributes=first
    ) as info:
        client = await Client.connect(info.target)
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace="kept-across-restarts",
                workflow_execution_retention_period=Duration(seconds=86400),
            )
        )

    port = free_port()
    second = {"OpportunityId": "Keyword", "Region": "Keyword"}
    async with running_dev_server(
        state_dir=state,
        port=port,
        ui_port=None,
        db_filename=db,
        search_attributes=second,
        namespace="kept-across-restarts",
    ) as info:
        client = await Client.connect(info.target, namespace="kept-across-restarts")
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="kept-across-restarts")
        )
        assert described.namespace_info.name == "kept-across-restarts"
        attributes = await _custom_search_attributes(info.target, "kept-across-restarts")
        assert attributes.get("Region") == _keyword()
        # And the default namespace kept what the first run registered.
        assert (await _custom_search_attributes(info.target))["OpportunityId"] == _keyword()


@pytest.mark.e2e
async def test_dev_server_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(PortInUseError, match=re.escape(f"already listens on 127.0.0.1:{port}")):
            async with running_dev_server(
                state_dir=tmp_path, port=port, ui_port=None, search_attributes={}
            ):
                pass


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        yield blocker.getsockname()[1]


@pytest.mark.e2e
async def test_a_test_server_whose_port_was_taken_starts_on_another(
    tmp_path: Path, taken_port: int
) -> None:
    ports = iter([taken_port, free_port()])
    chosen: list[int] = []

    def start() -> contextlib.AbstractAsyncContextManager[DevServerInfo]:
        chosen.append(next(ports))
        return running_dev_server(
            state_dir=tmp_path, port=chosen[-1], ui_port=None, search_attributes={}
        )

    async with contextlib.AsyncExitStack() as stack:
        info = await on_free_ports(stack, start)
        assert chosen[0] == taken_port and len(chosen) == 2
        assert info.target == f"127.0.0.1:{chosen[1]}"
        await Client.connect(info.target)


@pytest.mark.e2e
async def test_a_test_server_gives_up_after_its_attempts(tmp_path: Path, taken_port: int) -> None:
    attempts = 0

    def start() -> contextlib.AbstractAsyncContextManager[DevServerInfo]:
        nonlocal attempts
        attempts += 1
        return running_dev_server(
            state_dir=tmp_path, port=taken_port, ui_port=None, search_attributes={}
        )

    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(PortInUseError):
            await on_free_ports(stack, start)
    assert attempts == PORT_ATTEMPTS


@pytest.mark.e2e
async def test_dev_server_failure_shows_the_log(tmp_path: Path) -> None:
    # Dynamic config values must be JSON; the real CLI rejects this one and exits.
    with pytest.raises(DevServerError, match="exited with code") as caught:
        async with running_dev_server(
            state_dir=tmp_path,
            port=free_port(),
            ui_port=None,
            search_attributes={},
            dynamic_config={"limit.maxIDLength": "not json"},
        ):
            pass
    assert "last lines of" in str(caught.value)


async def test_dev_server_without_cli_falls_back_to_the_sdk(bare_machine: Path) -> None:
    """No CLI: the SDK's download is tried; offline, the error says how to install one."""
    try:
        async with running_dev_server(
            state_dir=bare_machine / "state",
            port=free_port(),
            ui_port=None,
            search_attributes={"Region": "Keyword"},
            repo_root=bare_machine,
        ) as info:
            # With internet the SDK downloaded and started a CLI.
            assert info.cli_path is None
            assert (await _custom_search_attributes(info.target))["Region"] == _keyword()
    except DevServerError as error:
        assert "scripts/ensure-temporal-cli" in str(error)
