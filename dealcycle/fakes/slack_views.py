"""Modals and the App Home of the Slack fake: trigger ids, ``views.*`` and the open views.

Slack lets an app open a modal only in answer to a user's interaction: the interaction carries a
``trigger_id`` that ``views.open``/``views.push`` must use within 3 seconds, once. The fake
issues trigger ids with every interaction it delivers and accepts each once, within
``trigger_ttl`` seconds (30: a test machine is slower than Slack's 3 s budget assumes).

Views are kept per user as a stack (``views.push`` adds one, at most 3 as in Slack); the home tab
is one view per user (``views.publish``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dealcycle.fakes._http import Response, json_response

TRIGGER_TTL_SECONDS = 30.0
MAX_VIEW_STACK = 3
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_BLOCKS = 50
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_TITLE = 24


def _ok(**payload: Any) -> Response:
    return json_response(200, {"ok": True, **payload})


def _fail(error: str, **extra: Any) -> Response:
    return json_response(200, {"ok": False, "error": error, **extra})


def blocks_error(blocks: Any, limit: int = MAX_MESSAGE_BLOCKS) -> str | None:
    """Why Slack would refuse these blocks (``None`` when they pass the light check)."""
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > limit:
        return "invalid_blocks"
    if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
        return "invalid_blocks"
    return None


@dataclass
class OpenView:
    """A view as Slack returns it, plus who it belongs to."""

    id: str
    user: str
    view: dict[str, Any]
    """The app's view JSON, with ``state`` and the ids Slack adds."""
    hash: str
    root_view_id: str
    previous_view_id: str | None = None

    def payload(self) -> dict[str, Any]:
        return copy.deepcopy(self.view)


@dataclass
class _Trigger:
    user: str
    issued_at: float
    used: bool = False


@dataclass
class ViewStore:
    """Trigger ids, modal stacks and home tabs of the Slack fake (guarded by the fake's lock)."""

    team_id: str
    app_id: str
    bot_id: str
    trigger_ttl: float = TRIGGER_TTL_SECONDS
    _triggers: dict[str, _Trigger] = field(default_factory=dict)
    _stacks: dict[str, list[OpenView]] = field(default_factory=dict)
    _homes: dict[str, OpenView] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self._triggers.clear()
        self._stacks.clear()
        self._homes.clear()

    # trigger ids -----------------------------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        """A fresh trigger id for an interaction of ``user`` (Slack's shape: ``n.n.hex``)."""
        n = next(self._counter)
        digest = hashlib.sha1(f"{user}:{n}:{time.time()}".encode()).hexdigest()[:24]
        trigger_id = f"{int(time.time())}{n:04d}.{int(digest[:8], 16)}.{digest}"
        now = time.monotonic()
        # Expired ones can only answer expired_trigger_id: keep them a while, not for ever.
        stale = [t for t, v in self._triggers.items() if now - v.issued_at > 10 * self.trigger_ttl]
        for old in stale:
            del self._triggers[old]
        self._triggers[trigger_id] = _Trigger(user=user, issued_at=now)
        return trigger_id

    def _take_trigger(self, trigger_id: str) -> tuple[str | None, str | None]:
        """(user, None) for a valid trigger id, used up by this call; else (None, error)."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return None, "invalid_trigger_id"
        if trigger.used:
            return None, "exchanged_trigger_id"
        if time.monotonic() - trigger.issued_at > self.trigger_ttl:
            return None, "expired_trigger_id"
        trigger.used = True
        return trigger.user, None

    # lookups ----------------------------------------------------------------------------------

    def find(self, view_id: str) -> OpenView | None:
        for stack in self._stacks.values():
            for view in stack:
                if view.id == view_id:
                    return view
        for home in self._homes.values():
            if home.id == view_id:
                return home
        return None

    def stack(self, user: str) -> list[OpenView]:
        return list(self._stacks.get(user, []))

    def home(self, user: str) -> OpenView | None:
        return self._homes.get(user)

    def close(self, view_id: str) -> None:
        """The user closed or submitted the view: it and the views pushed above it go."""
        for user, stack in self._stacks.items():
            for index, view in enumerate(stack):
                if view.id == view_id:
                    del stack[index:]
                    if not stack:
                        del self._stacks[user]
                    return

    def clear(self, user: str) -> None:
        self._stacks.pop(user, None)

    def state(self) -> dict[str, Any]:
        return {
            "views": {u: [v.payload() for v in s] for u, s in self._stacks.items()},
            "home": {u: v.payload() for u, v in self._homes.items()},
        }

    # building views ---------------------------------------------------------------------------

    def _new_id(self) -> str:
        return (
            "V"
            + hashlib.sha1(f"view:{next(self._counter)}:{time.time()}".encode())
            .hexdigest()[:10]
            .upper()
        )

    @staticmethod
    def _parse(raw: Any) -> dict[str, Any] | None:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                return None
        return raw if isinstance(raw, dict) else None

    @staticmethod
    def _invalid(view: Mapping[str, Any], kinds: tuple[str, ...]) -> list[str]:
        problems: list[str] = []
        if view.get("type") not in kinds:
            problems.append(f"[ERROR] must be one of {', '.join(kinds)} [json-pointer:/view/type]")
        title = view.get("title")
        if view.get("type") == "modal":
            if not (isinstance(title, dict) and isinstance(title.get("text"), str)):
                problems.append("[ERROR] missing required field: title [json-pointer:/view]")
            elif len(title["text"]) > MAX_TITLE:
                problems.append(
                    f"[ERROR] must be less than {MAX_TITLE + 1} characters "
                    "[json-pointer:/view/title/text]"
                )
        if blocks_error(view.get("blocks"), MAX_VIEW_BLOCKS) or "blocks" not in view:
            problems.append("[ERROR] invalid blocks [json-pointer:/view/blocks]")
        if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
            problems.append("[ERROR] too long [json-pointer:/view/private_metadata]")
        if len(str(view.get("callback_id") or "")) > MAX_CALLBACK_ID:
            problems.append("[ERROR] too long [json-pointer:/view/callback_id]")
        return problems

    def _make(
        self,
        user: str,
        view: Mapping[str, Any],
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
        view_id: str | None = None,
    ) -> OpenView:
        vid = view_id or self._new_id()
        digest = hashlib.sha1(f"{vid}:{json.dumps(view, sort_keys=True)}:{time.time_ns()}".encode())
        view_hash = f"{int(time.time())}.{digest.hexdigest()[:8]}"
        full: dict[str, Any] = {
            "id": vid,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": copy.deepcopy(view.get("blocks") or []),
            "private_metadata": str(view.get("private_metadata") or ""),
            "callback_id": str(view.get("callback_id") or ""),
            "external_id": str(view.get("external_id") or ""),
            "state": {"values": {}},
            "hash": view_hash,
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root_view_id or vid,
            "previous_view_id": previous_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        for key in ("title", "submit", "close"):
            if view.get(key) is not None:
                full[key] = copy.deepcopy(view[key])
        return OpenView(
            id=vid,
            user=user,
            view=full,
            hash=view_hash,
            root_view_id=root_view_id or vid,
            previous_view_id=previous_view_id,
        )

    def _view_param(
        self, params: Mapping[str, Any], kinds: tuple[str, ...]
    ) -> tuple[dict[str, Any] | None, Response | None]:
        view = self._parse(params.get("view"))
        if view is None:
            return None, _fail("invalid_arguments", response_metadata={"messages": ["view"]})
        problems = self._invalid(view, kinds)
        if problems:
            return None, _fail("invalid_arguments", response_metadata={"messages": problems})
        return view, None

    # views.* methods --------------------------------------------------------------------------

    def _modal_for_trigger(
        self, params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str] | Response:
        """(view, user) of a ``views.open``/``views.push`` call, or the error it gets."""
        view, failed = self._view_param(params, ("modal",))
        if view is None:
            return failed or _fail("invalid_arguments")
        user, error = self._take_trigger(str(params.get("trigger_id") or ""))
        if user is None:
            return _fail(error or "invalid_trigger_id")
        return view, user

    def open(self, params: Mapping[str, Any]) -> Response:
        checked = self._modal_for_trigger(params)
        if isinstance(checked, Response):
            return checked
        view, user = checked
        opened = self._make(user, view)
        # A new modal replaces whatever modal the user had open.
        self._stacks[user] = [opened]
        return _ok(view=opened.payload())

    def push(self, params: Mapping[str, Any]) -> Response:
        checked = self._modal_for_trigger(params)
        if isinstance(checked, Response):
            return checked
        view, user = checked
        stack = self._stacks.get(user)
        if not stack:
            return _fail("not_found")
        if len(stack) >= MAX_VIEW_STACK:
            return _fail("push_limit_reached")
        pushed = self._make(user, view, root_view_id=stack[0].id, previous_view_id=stack[-1].id)
        stack.append(pushed)
        return _ok(view=pushed.payload())

    def update(self, params: Mapping[str, Any]) -> Response:
        view, failed = self._view_param(params, ("modal", "home"))
        if view is None:
            return failed or _fail("invalid_arguments")
        current = self._target(params)
        if current is None:
            return _fail("not_found")
        expected = params.get("hash")
        if expected and str(expected) != current.hash:
            return _fail("hash_conflict")
        return _ok(view=self.replace(current, view).payload())

    def replace(self, current: OpenView, view: Mapping[str, Any]) -> OpenView:
        """``current`` now shows ``view`` (same id, new hash), where it stands."""
        replaced = self._make(
            current.user,
            view,
            root_view_id=current.root_view_id,
            previous_view_id=current.previous_view_id,
            view_id=current.id,
        )
        if self._homes.get(current.user) is current:
            self._homes[current.user] = replaced
        stack = self._stacks.get(current.user, [])
        for index, view_in_stack in enumerate(stack):
            if view_in_stack is current:
                stack[index] = replaced
        return replaced

    def push_from_response(self, current: OpenView, view: Mapping[str, Any]) -> OpenView:
        """``response_action: push`` in a view_submission's ack."""
        stack = self._stacks.setdefault(current.user, [])
        pushed = self._make(current.user, view, current.root_view_id, current.id)
        stack.append(pushed)
        return pushed

    def _target(self, params: Mapping[str, Any]) -> OpenView | None:
        view_id = str(params.get("view_id") or "")
        external_id = str(params.get("external_id") or "")
        if view_id:
            return self.find(view_id)
        if external_id:
            candidates = [*(v for s in self._stacks.values() for v in s), *self._homes.values()]
            return next((v for v in candidates if v.view.get("external_id") == external_id), None)
        return None

    def publish(self, params: Mapping[str, Any], valid_user: bool) -> Response:
        view, failed = self._view_param(params, ("home",))
        if view is None:
            return failed or _fail("invalid_arguments")
        user = str(params.get("user_id") or "")
        if not valid_user:
            return _fail("user_not_found")
        current = self._homes.get(user)
        expected = params.get("hash")
        if current is not None and expected and str(expected) != current.hash:
            return _fail("hash_conflict")
        published = self._make(user, view, view_id=current.id if current else None)
        self._homes[user] = published
        return _ok(view=published.payload())
