"""Find the Temporal CLI (``temporal``), whose ``server start-dev`` is our local server.

The search order is the one ``scripts/ensure-temporal-cli`` uses, so what the script
reports is what ``dealcycle run`` and the tests start. Nothing here installs anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dealcycle.devtools.paths import STATE_DIRNAME, default_repo_root, is_executable_file

ENV_VAR = "DEALCYCLE_TEMPORAL_CLI"

#: The release ``scripts/ensure-temporal-cli`` builds. Later tags carry a ``replace``
#: directive in go.mod, which ``go install pkg@version`` refuses.
PINNED_VERSION = "v1.5.1"
GO_PACKAGE = "github.com/temporalio/cli/cmd/temporal"


class TemporalCliConfigError(RuntimeError):
    """``DEALCYCLE_TEMPORAL_CLI`` names something that is not an executable file."""


def _gopath_bin() -> Path:
    """``$(go env GOPATH)/bin``, where a plain ``go install`` puts binaries."""
    gopath = os.environ.get("GOPATH", "")
    if not gopath and shutil.which("go"):
        try:
            gopath = subprocess.run(
                ["go", "env", "GOPATH"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            gopath = ""
    if not gopath:
        # Go's own default when GOPATH is unset.
        return Path.home() / "go" / "bin"
    # GOPATH may be a list; go install writes into the first entry.
    return Path(gopath.split(os.pathsep)[0]) / "bin"


def candidate_paths(repo_root: Path | None = None) -> list[Path]:
    """Where we look, in order (after ``$DEALCYCLE_TEMPORAL_CLI``); for error messages."""
    root = repo_root if repo_root is not None else default_repo_root()
    found = shutil.which("temporal")
    paths = [Path(found)] if found else []
    paths.append(root / STATE_DIRNAME / "bin" / "temporal")
    paths.append(_gopath_bin() / "temporal")
    return paths


def find_temporal_cli(repo_root: Path | None = None) -> Path | None:
    """The Temporal CLI to run, or ``None`` when there is none on this machine.

    Order: ``$DEALCYCLE_TEMPORAL_CLI``; ``temporal`` on ``PATH``;
    ``<repo>/.dealcycle/bin/temporal``; ``$(go env GOPATH)/bin/temporal``.

    Raises :class:`TemporalCliConfigError` when the environment variable is set but does
    not name an executable: falling through to another CLI would hide the typo.
    """
    configured = os.environ.get(ENV_VAR, "")
    if configured:
        path = Path(configured).expanduser()
        if not is_executable_file(path):
            raise TemporalCliConfigError(
                f"{ENV_VAR}={configured!r} is not an executable file; point it at the "
                "Temporal CLI binary or unset it to use scripts/ensure-temporal-cli's install"
            )
        return path.absolute()
    for path in candidate_paths(repo_root):
        if is_executable_file(path):
            return path.absolute()
    return None
