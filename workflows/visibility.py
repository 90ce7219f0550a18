"""What every dealcycle workflow does the same way: keep its search attributes current, sleep
until something changes or its next deadline, and know when its history is long enough to
continue as new."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from schemas import search_attributes as sa

_KEYS = {key.name: key for key in sa.KEYWORD_KEYS}


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


def history_is_long(event_limit: int) -> bool:
    info = workflow.info()
    return info.is_continue_as_new_suggested() or info.get_current_history_length() >= event_limit


async def wait_for_change(changed: Callable[[], bool], wake_at: datetime | None) -> None:
    """Return when ``changed()`` holds or ``wake_at`` has come (never, if None); at once if
    it already has, without a timer."""
    timeout = None if wake_at is None else wake_at - workflow.now()
    if timeout is not None and timeout.total_seconds() <= 0:
        return
    try:
        await workflow.wait_condition(changed, timeout=timeout)
    except TimeoutError:
        pass
