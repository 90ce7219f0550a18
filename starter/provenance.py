"""Where an action came from, recorded beside who says they did it (``--by``).

``--by`` is typed by whoever runs the command; ``via`` is what the machine knows: the CLI and
the operating-system user running it, so an audit entry shows both (``by U0CE00001 via
cli:alice``).
"""

from __future__ import annotations

import getpass

from schemas import limits

CLI_PREFIX = "cli:"


def cli_via() -> str:
    """``cli:<os user>`` (``cli:unknown`` when the OS cannot say), within its limit."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no such uid in the passwd file, no login name
        user = "unknown"
    text = f"{CLI_PREFIX}{user}"
    limit = limits.VIA
    return text[: limit.max_chars]
