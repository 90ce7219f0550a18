"""A throwaway PostgreSQL cluster in a directory of ours, for tests and local runs.

It uses the machine's server binaries (``scripts/ensure-postgres`` installs them) and never
the system's own cluster: its own data directory, a non-default port, TCP on 127.0.0.1
only, its unix socket inside the data directory, and trust authentication (nothing but
this machine can reach it). Durability settings are off: the data is disposable.

PostgreSQL refuses to run as root. As root (CI, containers) the server therefore runs as
the ``postgres`` system user, which owns the data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from dealcycle.devtools.paths import is_executable_file

BIN_ENV_VAR = "DEALCYCLE_POSTGRES_BIN"
SUPERUSER = "postgres"
_OS_USER_WHEN_ROOT = "postgres"
_REQUIRED = ("initdb", "pg_ctl", "postgres")
# AF_UNIX paths are limited to 108 bytes (104 on macOS); the socket is ".s.PGSQL.<port>".
_MAX_SOCKET_DIR_LEN = 90
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CONFIG_MARKER = "# --- dealcycle LocalPostgres ---"

_INSTALL_HINT = (
    "run scripts/ensure-postgres (installs the Debian package 'postgresql' with apt), "
    "install PostgreSQL yourself and put its bin directory on PATH or in "
    f"{BIN_ENV_VAR}, or point DEALCYCLE_TEST_POSTGRES_URL at a server you run"
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says what to do."""


def _version_key(path: Path) -> tuple[int, ...]:
    digits = re.findall(r"\d+", path.parent.name)
    return tuple(int(d) for d in digits)


def find_postgres_bin_dir() -> Path | None:
    """A directory holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first.

    Debian keeps them out of PATH in ``/usr/lib/postgresql/<major>/bin``; Homebrew and
    Postgres.app put them on PATH or in the places listed here.
    """
    candidates: list[Path] = []
    configured = os.environ.get(BIN_ENV_VAR, "")
    if configured:
        candidates.append(Path(configured).expanduser())
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for prefix in ("/opt/homebrew/opt", "/usr/local/opt"):
        candidates += sorted(Path(prefix).glob("postgresql*/bin"), reverse=True)
    candidates.append(Path("/Applications/Postgres.app/Contents/Versions/latest/bin"))
    candidates.append(Path("/usr/local/pgsql/bin"))
    for directory in candidates:
        if all(is_executable_file(directory / name) for name in _REQUIRED):
            return directory
    if configured:
        raise PostgresUnavailable(
            f"{BIN_ENV_VAR}={configured!r} does not hold initdb, pg_ctl and postgres"
        )
    return None


def conninfo(url: str) -> str:
    """A libpq connection string for a SQLAlchemy or libpq URL (drops ``+psycopg``)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def url_for_database(url: str, name: str) -> str:
    """``url`` with its database replaced by ``name``, in SQLAlchemy's psycopg form."""
    parsed = make_url(url).set(drivername="postgresql+psycopg", database=name)
    return parsed.render_as_string(hide_password=False)


def _check_name(name: str) -> None:
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"{name!r} is not a plain database name (letters, digits, _; ≤63)")


def create_database(admin_url: str, name: str) -> str:
    """Create an empty database ``name`` on the server of ``admin_url``; return its URL."""
    _check_name(name)
    with psycopg.connect(conninfo(admin_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url_for_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop ``name`` if it exists, disconnecting its sessions (PostgreSQL 13 or later)."""
    _check_name(name)
    with psycopg.connect(conninfo(admin_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _lease_pids(leases: Path) -> list[int]:
    pids = []
    for path in leases.glob("*"):
        try:
            pids.append(int(path.name))
        except ValueError:
            continue
        if not _pid_alive(pids[-1]):
            path.unlink(missing_ok=True)  # a session that was killed
            pids.pop()
    return pids


class LocalPostgres:
    """A PostgreSQL cluster in ``data_dir``, listening on ``127.0.0.1:port``.

    ``start()`` creates the cluster on first use and reuses one already running in that
    directory (on whatever port it has). ``port=None`` picks a free port at start.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        bin_dir: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.requested_data_dir = data_dir.absolute()
        self.data_dir = self.requested_data_dir
        self.port = port
        self.host = host
        self._bin_dir = bin_dir

    # -- public API ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The superuser's URL for the ``postgres`` database (after :meth:`start`)."""
        if self.port is None:
            raise RuntimeError("LocalPostgres.url is known only after start()")
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/postgres"

    def start(self) -> str:
        """Start (or reuse) the cluster; return the admin URL (see :attr:`url`)."""
        self._pick_data_dir()
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb()
        running_port = self._running_port()
        if running_port is not None:
            self.port = running_port
        else:
            if self.port is None:
                self.port = _free_port()
            self._pg_ctl_start()
        self._wait_until_accepting(timeout=30)
        return self.url

    def stop(self) -> None:
        """Stop the cluster if it runs (fast shutdown: open sessions are disconnected)."""
        self._pick_data_dir()
        if not (self.data_dir / "PG_VERSION").is_file() or self._running_port() is None:
            return
        result = self._run_as_owner(
            [self._bin("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60"]
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl stop failed:\n{result.stdout}{result.stderr}")

    @contextlib.contextmanager
    def shared(self) -> Iterator[str]:
        """Start or join the cluster; stop it when the last user leaves. Yields the URL.

        Several test sessions may share one checkout's cluster (two terminals, or an editor
        running tests beside ``make test``). Each holds a lease, a file named by its pid,
        and only the one that leaves last stops the server; leases of dead processes do
        not count. A file lock makes start/join and leave/stop atomic.
        """
        leases = self.requested_data_dir.parent / f"{self.requested_data_dir.name}.leases"
        lease = leases / str(os.getpid())
        with self._locked():
            leases.mkdir(parents=True, exist_ok=True)
            lease.write_text(f"{os.getpid()}\n")
            try:
                url = self.start()
            except BaseException:
                lease.unlink(missing_ok=True)
                raise
        try:
            yield url
        finally:
            with self._locked():
                lease.unlink(missing_ok=True)
                if not any(_pid_alive(other) for other in _lease_pids(leases)):
                    self.stop()

    def create_database(self, name: str) -> str:
        """Create an empty database; return its URL."""
        return create_database(self.url, name)

    def drop_database(self, name: str) -> None:
        drop_database(self.url, name)

    def is_running(self) -> bool:
        self._pick_data_dir()
        return self._running_port() is not None

    def destroy(self) -> None:
        """Stop the cluster and delete its data directory (``make clean``)."""
        self.stop()
        if (self.data_dir / "PG_VERSION").is_file() or self.data_dir.exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- internals -------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.requested_data_dir.parent / f"{self.requested_data_dir.name}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _bin(self, name: str) -> str:
        if self._bin_dir is None:
            self._bin_dir = find_postgres_bin_dir()
            if self._bin_dir is None:
                raise PostgresUnavailable(
                    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found: "
                    + _INSTALL_HINT
                )
        return str(self._bin_dir / name)

    @staticmethod
    def _as_root() -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def _owner_command(self, command: list[str]) -> list[str]:
        """``command`` as the ``postgres`` OS user when we are root, else as ourselves."""
        if not self._as_root():
            return command
        if shutil.which("runuser"):
            return ["runuser", "-u", _OS_USER_WHEN_ROOT, "--", *command]
        return ["su", _OS_USER_WHEN_ROOT, "-s", "/bin/sh", "-c", shlex.join(command)]

    def _run_as_owner(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._owner_command(command),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=180,
            check=False,
        )

    def _pick_data_dir(self) -> None:
        """As root, make sure the ``postgres`` user can reach the data directory.

        A checkout under a private home (``/root`` is mode 700) cannot be entered by that
        user; the cluster then lives in the temp directory under a name derived from the
        requested path, so the same checkout finds the same cluster again.
        """
        if not self._as_root():
            return
        try:
            pwd.getpwnam(_OS_USER_WHEN_ROOT)
        except KeyError:
            raise PostgresUnavailable(
                "running as root, and PostgreSQL refuses to run as root, but there is no "
                f"'{_OS_USER_WHEN_ROOT}' user to run it as: " + _INSTALL_HINT
            ) from None
        parent = self.requested_data_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        probe = self._run_as_owner(["test", "-x", str(parent)])
        if probe.returncode == 0:
            self.data_dir = self.requested_data_dir
        else:
            digest = hashlib.sha256(str(self.requested_data_dir).encode()).hexdigest()[:12]
            self.data_dir = Path(tempfile.gettempdir()) / f"dealcycle-postgres-{digest}"

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if any(self.data_dir.iterdir()):
            raise PostgresUnavailable(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster; remove it"
            )
        os.chmod(self.data_dir, 0o700)
        if self._as_root():
            owner = pwd.getpwnam(_OS_USER_WHEN_ROOT)
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        result = self._run_as_owner(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                # "C" exists everywhere (C.UTF-8 does not on older macOS) and sorts fastest.
                "--locale=C",
            ]
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"initdb failed in {self.data_dir}:\n{result.stdout}{result.stderr}"
            )
        socket_dir = str(self.data_dir)
        if len(socket_dir) > _MAX_SOCKET_DIR_LEN:
            socket_dir = ""  # no unix socket at all; we connect over TCP only
        settings = f"""
{_CONFIG_MARKER}
listen_addresses = '{self.host}'
unix_socket_directories = '{socket_dir}'
# Disposable test data: durability costs time and buys nothing here.
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
"""
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(settings)

    def _running_port(self) -> int | None:
        """The port of the server running on this data directory, if one runs."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        if not _pid_alive(pid):
            return None  # stale file of a crashed server; pg_ctl start copes with it
        return port

    def _pg_ctl_start(self) -> None:
        log_file = self.data_dir / "server.log"
        result = self._run_as_owner(
            [
                self._bin("pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port}",
            ]
        )
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
            raise PostgresUnavailable(
                f"pg_ctl start failed for {self.data_dir} on port {self.port}:\n"
                f"{result.stdout}{result.stderr}\nlast lines of {log_file}:\n{tail}"
            )

    def _wait_until_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(conninfo(self.url), connect_timeout=5) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        f"PostgreSQL in {self.data_dir} does not accept connections on "
                        f"{self.host}:{self.port}: {error}"
                    ) from error
                time.sleep(0.2)
