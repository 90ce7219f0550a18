"""Find and start the Java time-skipping test server that ``scripts/install-test-server`` sets up.

The Python SDK would download a native build of this server at first use; that download is
not available everywhere (not on CI machines without internet), while Maven Central is, so
the script fetches the Java build and writes a launcher the SDK can run instead.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from dealcycle.devtools.paths import STATE_DIRNAME, default_repo_root, is_executable_file

ENV_VAR = "DEALCYCLE_TEST_SERVER"
LAUNCHER_RELATIVE = Path(STATE_DIRNAME) / "test-server" / "temporal-test-server"

#: The SDK waits 5 s for the JVM to answer; on a loaded 2-core machine it has taken longer
#: twice in a row, so each attempt gets a minute and a failed start is tried again.
STARTUP_TIMEOUT = timedelta(seconds=60)
STARTUP_ATTEMPTS = 3

log = logging.getLogger(__name__)


class TestServerConfigError(RuntimeError):
    """``DEALCYCLE_TEST_SERVER`` names something that is not an executable file."""

    __test__ = False  # not a pytest test class, despite the name


def find_test_server(repo_root: Path | None = None) -> Path | None:
    """The test server launcher: ``$DEALCYCLE_TEST_SERVER`` or the installed one, else None."""
    configured = os.environ.get(ENV_VAR, "")
    if configured:
        path = Path(configured).expanduser()
        if not is_executable_file(path):
            raise TestServerConfigError(
                f"{ENV_VAR}={configured!r} is not an executable file; point it at a "
                "temporal-test-server launcher or unset it"
            )
        return path.absolute()
    root = repo_root if repo_root is not None else default_repo_root()
    launcher = root / LAUNCHER_RELATIVE
    return launcher.absolute() if is_executable_file(launcher) else None


async def start_time_skipping_environment(
    repo_root: Path | None = None, **kwargs: Any
) -> WorkflowEnvironment:
    """``WorkflowEnvironment.start_time_skipping`` on our installed test server.

    Without one, the SDK's own download is tried (it needs internet); when that fails the
    error says to run ``scripts/install-test-server``. ``kwargs`` go to the SDK. An
    installed server that does not come up in time is started again, up to
    ``STARTUP_ATTEMPTS`` times.
    """
    launcher = find_test_server(repo_root)
    kwargs.setdefault("test_server_startup_timeout", STARTUP_TIMEOUT)
    if launcher is not None:
        kwargs.setdefault("test_server_existing_path", str(launcher))
        for attempt in range(1, STARTUP_ATTEMPTS):
            try:
                return await WorkflowEnvironment.start_time_skipping(**kwargs)
            except Exception as error:  # the SDK reports a slow start as a plain error
                log.warning(
                    "the time-skipping test server did not start (attempt %d of %d): %s",
                    attempt,
                    STARTUP_ATTEMPTS,
                    error,
                )
        return await WorkflowEnvironment.start_time_skipping(**kwargs)
    try:
        return await WorkflowEnvironment.start_time_skipping(**kwargs)
    except Exception as error:
        raise RuntimeError(
            "No Temporal test server installed and the SDK could not download one "
            f"({error}); run scripts/install-test-server (needs Java and Maven) or "
            f"set {ENV_VAR}"
        ) from error
