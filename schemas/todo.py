"""The to-do list of one person: every open step they own, across every running workflow.

Built by ``starter.todo.todo_for`` from one visibility query (the ``StepOwners`` search
attribute) and a ``state`` query of only the workflows it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class TodoKind(StrEnum):
    """The kind of workflow a step belongs to (the Slack buttons' ``kind``)."""

    TRIAL = "trial"
    ACCOUNT = "account"
    SECURITY_REVIEW = "security_review"
    RED_ACCOUNT = "red_account"


@dataclass(frozen=True)
class OpenStep:
    key: str
    title: str
    owner: str
    role: str
    due_at: datetime | None


@dataclass(frozen=True)
class OpenSteps:
    """What a workflow's ``open_steps`` query answers: every open step, whoever owns it (the
    same steps its ``StepOwners``, ``NextDueAt`` and ``OverdueSteps`` are kept from)."""

    kind: TodoKind
    name: str
    """The account's name (and the opportunity's id, for a trial or a security review)."""
    steps: list[OpenStep] = field(default_factory=list)


@dataclass(frozen=True)
class TodoItem:
    workflow_id: str
    kind: TodoKind
    name: str
    """The account's name (and the opportunity's id, for a trial or a security review)."""
    step: str
    """The step's key, as ``dealcycle step complete`` and the Done button take it."""
    title: str
    due_at: datetime | None
    overdue: bool
    owner: str
    role: str = ""


@dataclass(frozen=True)
class TodoList:
    user: str
    as_of: datetime
    items: list[TodoItem] = field(default_factory=list)
    """Soonest due first; steps without a due date last."""
    workflows_named: int = 0
    """Running workflows the visibility query named (each asked for its state once)."""
    not_answering: list[str] = field(default_factory=list)
    """Named workflows whose ``state`` query failed: their steps are missing from the list."""
    not_asked: int = 0
    """Named workflows not asked for their steps: due later than every workflow asked (the
    list's limit); ``dealcycle todo --all`` asks them all."""

    @property
    def overdue(self) -> list[TodoItem]:
        return [item for item in self.items if item.overdue]
