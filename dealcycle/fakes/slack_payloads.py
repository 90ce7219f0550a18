"""What Slack sends an app, built from the fake's workspace: ``block_actions`` and
``view_submission`` payloads, Events API ``event_callback`` bodies and slash command forms.

Shapes follow api.slack.com (interaction payloads, Events API, slash commands); each builder takes
plain values and returns the JSON-ready dict.
"""

from __future__ import annotations

import copy
import hashlib
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

VERIFICATION_TOKEN = "dealcycle-fake-verification-token"
"""The deprecated ``token`` field Slack still puts in payloads (never to be trusted)."""
TEAM_DOMAIN = "dealcycle-fake"


class PayloadError(ValueError):
    """The control request names something the workspace does not have."""


def user_ref(user: str, team_id: str, name: str) -> dict[str, Any]:
    return {"id": user, "username": name, "name": name, "team_id": team_id}


def _block_id(block: Mapping[str, Any], index: int) -> str:
    # Slack fills in a block_id the app left out; it stays the same for the same message.
    explicit = block.get("block_id")
    if explicit:
        return str(explicit)
    return hashlib.sha1(f"{index}:{block.get('type')}".encode()).hexdigest()[:5]


def _interactive_elements(block: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    kind = block.get("type")
    if kind == "actions":
        yield from (e for e in block.get("elements") or [] if isinstance(e, dict))
    elif kind == "section" and isinstance(block.get("accessory"), dict):
        yield block["accessory"]
    elif kind == "input" and isinstance(block.get("element"), dict):
        yield block["element"]


def find_action(
    blocks: list[Any] | None, action_id: str, block_id: str | None
) -> tuple[str, Mapping[str, Any]]:
    """(block_id, element) of the interactive element ``action_id`` in ``blocks``."""
    for index, block in enumerate(blocks or []):
        if not isinstance(block, dict):
            continue
        bid = _block_id(block, index)
        if block_id is not None and bid != block_id:
            continue
        for element in _interactive_elements(block):
            if element.get("action_id") == action_id:
                return bid, element
    where = f" in block {block_id!r}" if block_id else ""
    raise PayloadError(f"no element with action_id {action_id!r}{where}")


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return [o for o in options if isinstance(o, dict)]


def _option(element: Mapping[str, Any], value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return value
    options = _options(element)
    if not options:  # external selects: the option is whatever the person picked
        return {"text": {"type": "plain_text", "text": str(value)}, "value": str(value)}
    found = next((o for o in options if o.get("value") == str(value)), None)
    if found is None:
        known = ", ".join(str(o.get("value")) for o in options)
        raise PayloadError(
            f"{value!r} is not an option of {element.get('action_id')!r} (options: {known})"
        )
    return copy.deepcopy(dict(found))


_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons", "overflow"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
_SELECTED_FIELD = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
}


def element_state(element: Mapping[str, Any], given: Any, has_value: bool) -> dict[str, Any]:
    """The ``{type, value | selected_option | ...}`` Slack reports for an input element.

    Without a value given, the element's ``initial_*`` stands, as when the person left it."""
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind in _SINGLE_OPTION:
        state["selected_option"] = (
            _option(element, given) if has_value else element.get("initial_option")
        )
    elif kind in _MULTI_OPTION:
        if has_value:
            values = given if isinstance(given, list) else [given]
            state["selected_options"] = [_option(element, v) for v in values]
        else:
            state["selected_options"] = list(element.get("initial_options") or [])
    elif kind in _SELECTED_FIELD:
        field, initial = _SELECTED_FIELD[kind]
        state[field] = given if has_value else element.get(initial)
    else:
        value = given if has_value else element.get("initial_value")
        state["value"] = None if value is None else str(value)
    return state


def view_state(
    view: Mapping[str, Any], values: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``view.state.values`` for a submission: every input block, filled from ``values``."""
    state: dict[str, dict[str, Any]] = {}
    known: set[tuple[str, str]] = set()
    for index, block in enumerate(view.get("blocks") or []):
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        element = block.get("element")
        if not isinstance(element, dict):
            continue
        bid, aid = _block_id(block, index), str(element.get("action_id") or "")
        known.add((bid, aid))
        given = values.get(bid, {})
        state.setdefault(bid, {})[aid] = element_state(element, given.get(aid), aid in given)
    for bid, fields in values.items():
        for aid in fields:
            if (bid, aid) not in known:
                raise PayloadError(f"the view has no input {bid!r}/{aid!r}")
    return state


def action(
    block_id: str, element: Mapping[str, Any], value: Any, has_value: bool, action_ts: str
) -> dict[str, Any]:
    """One entry of ``actions`` in a ``block_actions`` payload."""
    kind = str(element.get("type"))
    entry: dict[str, Any] = {
        "action_id": element.get("action_id"),
        "block_id": block_id,
        "type": kind,
        "action_ts": action_ts,
    }
    if kind == "button":
        entry["text"] = copy.deepcopy(element.get("text"))
        for key in ("value", "url", "style"):
            if element.get(key) is not None:
                entry[key] = element[key]
        if has_value:
            entry["value"] = str(value)
        return entry
    entry.update(element_state(element, value, has_value))
    if "placeholder" in element:
        entry["placeholder"] = copy.deepcopy(element["placeholder"])
    return entry


def interaction_base(
    kind: str, user: Mapping[str, Any], team_id: str, app_id: str, trigger_id: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "user": dict(user),
        "api_app_id": app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def event_callback(
    event: Mapping[str, Any], team_id: str, app_id: str, bot_user_id: str
) -> dict[str, Any]:
    """The Events API body around ``event``."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
    }
