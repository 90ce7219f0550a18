"""What every feature module of the Slack app is handed by ``register(app, deps)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from temporalio.client import Client

from dealcycle.settings import Settings


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlackAppDeps:
    """The Temporal client, the settings and a logger; the app only sends Updates, Signals and
    Queries through ``client``, every rule stays in the workflows."""

    client: Client
    settings: Settings
    log: structlog.stdlib.BoundLogger = field(
        default_factory=lambda: structlog.stdlib.get_logger("dealcycle.slack")
    )
    now: Callable[[], datetime] = _utc_now
    """The wall clock, replaceable in tests (the app, not a workflow, so real time is fine)."""
