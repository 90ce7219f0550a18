"""SIGTERM ends a developer tool's run the way Ctrl-C does.

``make bench`` and ``make chaos`` start dev servers, PostgreSQL and workers of their own, and
stop them on the way out of ``asyncio.run``. Ctrl-C takes that way (asyncio cancels the main
task, every ``finally`` runs); SIGTERM, which ``kill`` and CI timeouts send, ended the process at
once and left the servers running, holding their ports.
"""

from __future__ import annotations

import signal
from types import FrameType


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    signal.raise_signal(signal.SIGINT)


def treat_sigterm_as_interrupt() -> None:
    """From now on a SIGTERM to this process is a SIGINT (call before ``asyncio.run``)."""
    signal.signal(signal.SIGTERM, _as_interrupt)
