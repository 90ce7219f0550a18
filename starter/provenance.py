"""Where an action came from, recorded beside who says they did it (``--by``).

``--by`` is typed by whoever runs the command; ``via`` is what the machine knows: the CLI and
the operating-system user running it. The CLI's ``main`` declares it for the command it runs
(``acting_via``); every request sent through ``act``, the account updates and the effect
commands is stamped with it (``stamped``), and the workflows keep it beside the actor in their
audit entries, completed steps and red-case entries (``U0CE00001 via cli:alice``). Requests
sent by the Slack app are stamped ``slack`` (``from_slack``); tests carry their own or none.
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from schemas import limits

CLI_PREFIX = "cli:"
SLACK_VIA = "slack"
T = TypeVar("T")
_VIA: ContextVar[str] = ContextVar("dealcycle_via", default="")


def by_via(actor: str, via: str) -> str:
    """``U0CE00001 via cli:alice``, or the actor alone when nothing says where."""
    return f"{actor} via {via}" if via else actor


def cli_via() -> str:
    """``cli:<os user>`` (``cli:unknown`` when the OS cannot say), within its limit."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no such uid in the passwd file, no login name
        user = "unknown"
    return f"{CLI_PREFIX}{user}"[: limits.VIA.max_chars]


@contextmanager
def acting_via(via: str) -> Iterator[None]:
    """Within the block, requests come from ``via`` (the CLI's ``main``: ``cli_via()``)."""
    token = _VIA.set(via)
    try:
        yield
    finally:
        _VIA.reset(token)


def stamped(request: T) -> T:
    """``request`` with ``via`` filled in from ``acting_via``, when it has one to fill."""
    via = _VIA.get()
    current: object = getattr(request, "via", None)
    if not via or not isinstance(current, str) or current:
        return request
    changed: Any = dataclasses.replace(request, via=via)  # type: ignore[type-var]
    return changed  # type: ignore[no-any-return]


def from_slack(request: T) -> T:
    """``request`` stamped as sent by the Slack app (its ``via``, when it has one to fill)."""
    with acting_via(SLACK_VIA):
        return stamped(request)
