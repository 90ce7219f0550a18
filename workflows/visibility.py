"""What every dealcycle workflow does the same way: keep its search attributes current and
know when its history is long enough to continue as new (its sleep is ``wake_up.WakeUpTimer``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from schemas import search_attributes as sa
    from schemas.metrics import STEPS_WENT_OVERDUE
    from schemas.todo import OpenSteps
    from workflows.metrics import count
    from workflows.summaries import current_details

_KEYS = {key.name: key for key in sa.KEYWORD_KEYS}
TODO_ATTRIBUTES_PATCH = "todo-search-attributes"
"""Runs from before the to-do list's attributes upserted none: such an upsert where history
has another command does not replay (tests/test_replay_histories.py shows it)."""


def publish_search_attributes(published: dict[str, str], wanted: dict[str, str]) -> None:
    """Upsert the attributes in ``wanted`` that differ from ``published`` (and record them),
    so an unchanged value costs no history event."""
    changed = {name: value for name, value in wanted.items() if published.get(name) != value}
    if not changed:
        return
    updates: list[SearchAttributeUpdate[str]] = [
        _KEYS[name].value_set(value) for name, value in changed.items()
    ]
    workflow.upsert_search_attributes(updates)
    published.update(changed)


def publish_open_steps(view: OpenSteps) -> None:
    """Keep the to-do list's attributes current from the workflow's open steps:
    ``StepOwners``, ``NextDueAt`` and ``OverdueSteps``, each upserted only when it differs
    from the workflow's current value (inherited across continue-as-new), so an unchanged
    list costs no history event.

    Guarded by ``TODO_ATTRIBUTES_PATCH``: histories recorded before it upserted none."""
    if not workflow.patched(TODO_ATTRIBUTES_PATCH):
        return
    now = workflow.now()
    steps = [step for step in view.steps if step.owner]
    due_dates = [step.due_at for step in steps if step.due_at is not None]
    owners = sorted({step.owner for step in steps})
    next_due_at = min(due_dates, default=None)
    overdue = sum(1 for due_at in due_dates if due_at < now)
    current = workflow.info().typed_search_attributes
    updates: list[SearchAttributeUpdate[Any]] = []
    # Emptied, never removed: the Java test server keeps a removed attribute as a null of its
    # type, which no client can decode (describe fails). An empty list matches no one; a
    # NextDueAt with nothing open keeps its last value (filter on StepOwners or OverdueSteps).
    if sorted(current.get(sa.STEP_OWNERS) or []) != owners:
        updates.append(sa.STEP_OWNERS.value_set(owners))
    if next_due_at is not None and current.get(sa.NEXT_DUE_AT) != next_due_at:
        updates.append(sa.NEXT_DUE_AT.value_set(next_due_at))
    if (current.get(sa.OVERDUE_STEPS) or 0) != overdue:
        updates.append(sa.OVERDUE_STEPS.value_set(overdue))
        count(STEPS_WENT_OVERDUE, overdue - (current.get(sa.OVERDUE_STEPS) or 0))
    if updates:
        workflow.upsert_search_attributes(updates)


def history_is_long(event_limit: int) -> bool:
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() >= event_limit


def publish_current_details(
    headline: str, phase: str, view: OpenSteps | None, notes: Iterable[str] = ()
) -> None:
    """The Web UI's current details: the headline, the phase and the open steps. Not a
    command (the UI reads it with a query), so it is set whenever anything may have changed."""
    steps = view.steps if view is not None else None
    workflow.set_current_details(current_details(headline, phase, steps, workflow.now(), notes))
