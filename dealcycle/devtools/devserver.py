"""Run the Temporal dev server (``temporal server start-dev``) for ``dealcycle run`` and tests.

The CLI's dev server is a whole Temporal cluster in one process, with the Web UI and, given
``--db-filename``, SQLite persistence, so workflows survive a restart of ``make run``.

Two behaviours of the CLI shape this module:

* ``--search-attribute`` only takes effect when the namespace is created, i.e. on a fresh
  database. On a second start with the same SQLite file, attributes added since are ignored
  silently. So after the server is up we list the namespace's attributes and add the
  missing ones through the operator service, and refuse to go on when one exists with
  another type (the server accepts such an add and ignores it).
* The process is started in its own session, so a Ctrl-C in the terminal reaches only the
  Python process, which then stops the worker first and the server last.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from dealcycle.devtools.temporal_cli import candidate_paths, find_temporal_cli

#: ``--search-attribute NAME=TYPE`` type names, as the CLI spells them.
CLI_TYPES: Mapping[str, IndexedValueType.ValueType] = {
    "Text": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}
_TYPE_NAMES = {value: name for name, value in CLI_TYPES.items()}

DEFAULT_STARTUP_TIMEOUT = 60.0
_STOP_GRACE_SECONDS = 15.0
_LOG_TAIL_LINES = 40


class DevServerError(RuntimeError):
    """The dev server could not be started or set up; the message says why and what to do."""


class PortInUseError(DevServerError):
    """Something already listens on a port the dev server needs."""


@dataclass(frozen=True)
class DevServerInfo:
    """Where the running dev server is."""

    target: str
    """``host:port`` for ``Client.connect``."""
    namespace: str
    ui_url: str | None
    """``None`` when started headless."""
    pid: int | None
    """The CLI's process id; ``None`` when the SDK started (and owns) the process."""
    log_file: Path | None
    db_filename: Path | None
    """``None`` means in-memory: everything is lost when the server stops."""
    cli_path: Path | None
    """The binary that runs; ``None`` when the SDK downloaded one."""


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now.

    SO_REUSEADDR matches what the CLI (Go) does, so a port whose last connections are still
    in TIME_WAIT after a previous server stopped counts as free, as it is for the CLI.
    The connect attempt first catches a server on the wildcard address, which BSD/macOS
    would let us bind beside.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests that start their own servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_port_free(host: str, port: int, *, what: str, hint: str) -> None:
    """Raise :class:`PortInUseError` with advice when ``host:port`` is taken."""
    if not port_is_free(host, port):
        raise PortInUseError(
            f"something already listens on {host}:{port} ({what}) — another dealcycle server? "
            f"Stop it, or {hint}"
        )


def _port_taken(log_file: Path) -> bool:
    """A port free when chosen was taken before the server bound it (the server's log says)."""
    return "address already in use" in log_file.read_text(errors="replace")


def _tail(path: Path | None, lines: int = _LOG_TAIL_LINES) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(log is empty)"


def _cli_args(
    cli: Path,
    *,
    ip: str,
    port: int,
    ui_port: int | None,
    db_filename: Path | None,
    namespace: str,
    search_attributes: Mapping[str, str],
    dynamic_config: Mapping[str, str],
    log_level: str,
    ui_codec_endpoint: str | None = None,
) -> list[str]:
    args = [
        str(cli),
        "server",
        "start-dev",
        *_shared_args(search_attributes, dynamic_config, ui_codec_endpoint),
    ]
    args += ["--ip", ip, "--port", str(port), "--log-level", log_level]
    # "default" is always created; naming it again is harmless but noisy in the log.
    if namespace != "default":
        args += ["--namespace", namespace]
    args += ["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]
    if db_filename is not None:
        args += ["--db-filename", str(db_filename)]
    return args


def _shared_args(
    search_attributes: Mapping[str, str],
    dynamic_config: Mapping[str, str],
    ui_codec_endpoint: str | None = None,
) -> list[str]:
    """Flags passed the same way to our own process and to the SDK's fallback start."""
    # The Web UI decodes payloads through this endpoint (`dealcycle codec-server`).
    args: list[str] = ["--ui-codec-endpoint", ui_codec_endpoint] if ui_codec_endpoint else []
    for name, type_name in search_attributes.items():
        args += ["--search-attribute", f"{name}={type_name}"]
    for key, value in dynamic_config.items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    return args


def _validate_search_attributes(search_attributes: Mapping[str, str]) -> None:
    for name, type_name in search_attributes.items():
        if type_name not in CLI_TYPES:
            raise DevServerError(
                f"search attribute {name}={type_name}: the type must be one of "
                + ", ".join(CLI_TYPES)
            )


async def ensure_search_attributes(
    client: Client, namespace: str, search_attributes: Mapping[str, str]
) -> None:
    """Register the missing custom search attributes; fail on a type clash.

    Needed because ``start-dev --search-attribute`` is ignored for a namespace that already
    exists in the SQLite file (a second ``make run`` after a new attribute was added).
    """
    wanted = {name: CLI_TYPES[type_name] for name, type_name in search_attributes.items()}
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    existing = dict(listed.custom_attributes)
    missing = {name: kind for name, kind in wanted.items() if name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = dict(listed.custom_attributes)
    problems = []
    for name, kind in wanted.items():
        have = existing.get(name)
        if have is None:
            problems.append(f"{name} is still not registered after adding it")
        elif have != kind:
            problems.append(
                f"{name} is registered as {_TYPE_NAMES.get(have, have)}, "
                f"we need {_TYPE_NAMES[kind]}"
            )
    if problems:
        raise DevServerError(
            f"custom search attributes in namespace {namespace!r}: "
            + "; ".join(problems)
            + ". A type cannot be changed in place: delete the dev server's database file "
            "(its workflows are lost) or rename the attribute."
        )


async def _connect_when_ready(
    target: str,
    namespace: str,
    *,
    process: asyncio.subprocess.Process,
    deadline: float,
    log_file: Path,
) -> Client:
    """Poll until a client connects and the namespace answers, or fail with the log tail."""
    last_error: BaseException | None = None
    while True:
        if process.returncode is not None:
            raise (PortInUseError if _port_taken(log_file) else DevServerError)(
                f"the Temporal dev server exited with code {process.returncode} while "
                f"starting; last lines of {log_file}:\n{_tail(log_file)}"
            )
        if time.monotonic() > deadline:
            raise DevServerError(
                f"the Temporal dev server did not answer on {target} in time "
                f"(last error: {last_error}); last lines of {log_file}:\n{_tail(log_file)}"
            )
        try:
            client = await asyncio.wait_for(Client.connect(target, namespace=namespace), 5)
            # The frontend answers before the namespace registry has loaded a namespace
            # created at launch; describe it so the caller's first call does not race that.
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            return client
        except Exception as error:  # any failure here means "not ready yet"
            last_error = error
            await asyncio.sleep(0.25)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGINT (the CLI's clean shutdown), then SIGKILL if it does not go."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), _STOP_GRACE_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def _prepare_paths(
    state_dir: Path, db_filename: Path | None, log_file: Path | None
) -> tuple[Path | None, Path]:
    """Create the directories; absolute paths, since the CLI's working directory may differ."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if db_filename is not None:
        db_filename = db_filename.absolute()
        db_filename.parent.mkdir(parents=True, exist_ok=True)
    log_path = (log_file or state_dir / "temporal-dev-server.log").absolute()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return db_filename, log_path


@contextlib.asynccontextmanager
async def running_dev_server(
    *,
    state_dir: Path,
    port: int = 7233,
    ui_port: int | None = 8233,
    db_filename: Path | None = None,
    search_attributes: Mapping[str, str],
    dynamic_config: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    namespace: str = "default",
    ip: str = "127.0.0.1",
    log_level: str = "warn",
    cli_path: Path | None = None,
    repo_root: Path | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    port_hint: str = "choose other ports (DEALCYCLE_TEMPORAL_ADDRESS / DEALCYCLE_TEMPORAL_UI_URL)",
    ui_codec_endpoint: str | None = None,
) -> AsyncIterator[DevServerInfo]:
    """Start ``temporal server start-dev``, wait until it serves, stop it on exit.

    ``search_attributes`` maps names to CLI type names (``{"Region": "Keyword"}``, see
    ``schemas.search_attributes.registrations()``); they are registered in ``namespace``
    even when the database already existed. ``dynamic_config`` values are JSON text, as the
    CLI takes them (``{"limit.maxIDLength": "1000", "some.flag": "true"}``).
    ``ui_port=None`` starts without the Web UI. ``db_filename=None`` keeps state in memory.
    ``ui_codec_endpoint`` (``http://127.0.0.1:8081``, a ``dealcycle codec-server``) is where the
    Web UI sends encrypted payloads to be decoded.

    The CLI's output goes to ``log_file`` (default ``state_dir/temporal-dev-server.log``).
    Without a CLI on this machine (see :func:`find_temporal_cli`), the SDK's
    ``WorkflowEnvironment.start_local`` is tried; it downloads the CLI, which needs internet.
    """
    _validate_search_attributes(search_attributes)
    dynamic_config = dict(dynamic_config or {})
    db_filename, log_path = _prepare_paths(state_dir, db_filename, log_file)
    stale = stale_server_pid(state_dir)
    if stale is not None:
        port_hint += (
            f"; a dev server from an earlier run may still be running as pid {stale}"
            f" (stop it with: kill -INT {stale})"
        )
    ensure_port_free(ip, port, what="Temporal gRPC port", hint=port_hint)
    if ui_port is not None:
        ensure_port_free(ip, ui_port, what="Temporal Web UI port", hint=port_hint)

    cli = cli_path if cli_path is not None else find_temporal_cli(repo_root)
    if cli is None:
        async with _sdk_dev_server(
            state_dir=state_dir,
            ip=ip,
            port=port,
            ui_port=ui_port,
            db_filename=db_filename,
            namespace=namespace,
            search_attributes=search_attributes,
            dynamic_config=dynamic_config,
            log_level=log_level,
            repo_root=repo_root,
            startup_timeout=startup_timeout,
            ui_codec_endpoint=ui_codec_endpoint,
        ) as info:
            yield info
        return

    pid_file = state_dir / "temporal-dev-server.pid"
    args = _cli_args(
        cli,
        ip=ip,
        port=port,
        ui_port=ui_port,
        db_filename=db_filename,
        namespace=namespace,
        search_attributes=search_attributes,
        dynamic_config=dynamic_config,
        log_level=log_level,
        ui_codec_endpoint=ui_codec_endpoint,
    )
    target = f"{ip}:{port}"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        # Lets a person find a server left behind by a killed parent (SIGKILL skips finally).
        pid_file.write_text(f"{process.pid}\n")
        try:
            client = await _connect_when_ready(
                target,
                namespace,
                process=process,
                deadline=time.monotonic() + startup_timeout,
                log_file=log_path,
            )
            await ensure_search_attributes(client, namespace, search_attributes)
            yield DevServerInfo(
                target=target,
                namespace=namespace,
                ui_url=f"http://{ip}:{ui_port}" if ui_port is not None else None,
                pid=process.pid,
                log_file=log_path,
                db_filename=db_filename,
                cli_path=cli,
            )
        finally:
            await _stop(process)
            pid_file.unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def _sdk_dev_server(
    *,
    state_dir: Path,
    ip: str,
    port: int,
    ui_port: int | None,
    db_filename: Path | None,
    namespace: str,
    search_attributes: Mapping[str, str],
    dynamic_config: Mapping[str, str],
    log_level: str,
    repo_root: Path | None,
    startup_timeout: float,
    ui_codec_endpoint: str | None = None,
) -> AsyncIterator[DevServerInfo]:
    """The last resort: let the SDK download the CLI and run it (works with internet)."""
    from datetime import timedelta

    extra_args: Sequence[str] = _shared_args(search_attributes, dynamic_config, ui_codec_endpoint)
    if namespace != "default":
        extra_args = [*extra_args, "--namespace", namespace]
    try:
        env = await WorkflowEnvironment.start_local(
            namespace=namespace,
            ip=ip,
            port=port,
            ui=ui_port is not None,
            ui_port=ui_port,
            dev_server_database_filename=str(db_filename) if db_filename else None,
            dev_server_log_level=log_level,
            dev_server_extra_args=extra_args,
            download_dest_dir=str(state_dir / "temporal-cli-download"),
            dev_server_startup_timeout=timedelta(seconds=startup_timeout),
        )
    except Exception as error:
        looked = ", ".join(str(path) for path in candidate_paths(repo_root))
        raise DevServerError(
            "No Temporal CLI on this machine (looked at $DEALCYCLE_TEMPORAL_CLI, `temporal` "
            f"on PATH, {looked}) and the SDK could not download one: {error}. "
            "Run scripts/ensure-temporal-cli (it builds the CLI with Go; install Go first if "
            "it says so), or install the Temporal CLI and set DEALCYCLE_TEMPORAL_CLI."
        ) from error
    try:
        await ensure_search_attributes(env.client, namespace, search_attributes)
        yield DevServerInfo(
            target=f"{ip}:{port}",
            namespace=namespace,
            ui_url=f"http://{ip}:{ui_port}" if ui_port is not None else None,
            pid=None,
            log_file=None,
            db_filename=db_filename,
            cli_path=None,
        )
    finally:
        await env.shutdown()


def stale_server_pid(state_dir: Path) -> int | None:
    """The pid of a dev server a killed ``dealcycle run`` left running, if any."""
    pid_file = state_dir / "temporal-dev-server.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid
