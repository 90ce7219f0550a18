"""Settings of the Closed Won intake's hand-off (``DEALCYCLE_INTAKE_CONCURRENCY``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 256


@dataclass(frozen=True)
class IntakeSettings:
    concurrency: int = DEFAULT_CONCURRENCY
    """Deals of a page handed off at once (one signal-with-start each): enough to keep the
    hand-off off the critical path, few enough not to crowd the frontend or the worker."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IntakeSettings:
        from dealcycle.settings import SettingsError  # settings imports this module

        name = "DEALCYCLE_INTAKE_CONCURRENCY"
        raw = env.get(name) or ""
        if not raw:
            return cls()
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a whole number") from None
        if not 1 <= value <= MAX_CONCURRENCY:
            raise SettingsError(f"{name}={value} must be from 1 to {MAX_CONCURRENCY}")
        return cls(value)
