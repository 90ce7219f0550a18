"""What every dealcycle workflow does the same way: keep its search attributes current and
know when its history is long enough to continue as new."""

from __future__ import annotations

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
