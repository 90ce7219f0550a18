"""What every workflow with owned, reminded steps shares: the Slack prompts a step was posted
in, and the snooze of its next reminder."""

from __future__ import annotations

from dataclasses import dataclass

SNOOZE_STEP_UPDATE = "snooze_step"
"""The update every workflow with reminded steps takes a ``SnoozeStep`` by."""
MAX_PROMPTS_KEPT = 5
"""The latest posts of a step whose buttons are replaced once it is done; older ones keep
theirs (a click there is answered "already done")."""


@dataclass
class PostedPrompt:
    """A post of a step's prompt or reminder, as Slack answered it."""

    channel: str
    """Conversation id (``C…`` or ``D…``)."""
    ts: str
    closed: bool = False
    """Its buttons were replaced by who did the step (or the step closed with them kept,
    in a run recorded before that existed)."""


@dataclass(frozen=True)
class SnoozeStep:
    """Move a step's next reminder ``days`` (business) days later."""

    step: str
    by: str
    days: int = 1
    via: str = ""
    """Where it came from (``cli:<os user>``), beside ``by``."""
