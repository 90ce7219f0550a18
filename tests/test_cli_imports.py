"""A CLI command imports what it uses: one that only talks to Temporal (``status``, an action
on a workflow, ``effects``, ``deal-closed``) starts without the worker's libraries (the
database, Alembic, Slack, Bolt, aiohttp, the Salesforce client, the SDK's worker), so a
person's ``dealcycle`` answers sooner and the end-to-end tests' hundred calls cost less."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_LIBRARIES = (
    "sqlalchemy",
    "alembic",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "simple_salesforce",
    "requests",
    "temporalio.worker",
    "activities",
    "worker",
)
PROGRAM = """\
import json, sys
from starter.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""


def imported_by(tmp_path: Path, *command: str) -> set[str]:
    """The modules loaded once ``dealcycle COMMAND`` has run, against a server that is not
    there (the command gets as far as connecting)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{sock.getsockname()[1]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEALCYCLE_", "SALESFORCE_", "SLACK_", "DATABASE_URL"))
    }
    env |= {
        "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dealcycle.db'}",
        "DEALCYCLE_TEMPORAL_ADDRESS": nowhere,
    }
    modules = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROGRAM, str(modules), *command],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return set(json.loads(modules.read_text()))


def worker_libraries_in(modules: set[str]) -> list[str]:
    return [name for name in WORKER_LIBRARIES if name in modules]


@pytest.mark.parametrize(
    "command",
    [
        ("status", "trial-006ACME"),
        ("step", "complete", "trial-006ACME", "user_survey", "--by", "U0AE00001", "--role", "AE"),
        ("effects", "list"),
        ("deal-closed", "006ACME"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_command_that_talks_to_temporal_imports_none_of_the_workers_libraries(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    modules = imported_by(tmp_path, *command)

    assert "temporalio.client" in modules  # it did get as far as connecting
    assert worker_libraries_in(modules) == []


def test_a_command_that_uses_the_database_imports_it(tmp_path: Path) -> None:
    """The check above sees a library a command does use."""
    modules = imported_by(tmp_path, "digest", "show")

    assert worker_libraries_in(modules) == ["sqlalchemy", "alembic"]
