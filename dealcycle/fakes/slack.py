"""A local fake of the Slack Web API methods dealcycle uses.

The real ``slack_sdk.WebClient`` talks to it (``WebClient(base_url=fake.api_url)``). It answers
like Slack: HTTP 200 with ``{"ok": false, "error": ...}`` for API errors, 429 with
``Retry-After`` when rate limited, ``msg_too_long`` over 40,000 characters. Every call and
every posted message is recorded.

Scopes are enforced as Slack does: the token has granted scopes (``scopes``, by default every
scope the methods here need, ``DEFAULT_SCOPES``); a method whose scope is missing answers
``{"ok": false, "error": "missing_scope", "needed": ..., "provided": ...}``, and every answer
carries the granted scopes in its ``x-oauth-scopes`` header (``auth.test`` included).

Control API (under ``/__fake__/``, e.g. through ``ControlClient`` or ``tests/support/fakes``;
the Python method of the in-process fake in brackets):

- ``GET messages`` (``messages``), ``GET channels``, ``POST channels {"name", "private"}``
  (``add_channel``);
- ``POST archive {"channel"}`` / ``POST unarchive {"channel"}`` (``archive_channel`` /
  ``unarchive_channel``): posting there answers ``is_archived`` until unarchived;
- ``GET scopes`` / ``POST scopes {"scopes": [...]}`` (``set_scopes``): the token's scopes;
- ``POST auth {"valid": false}`` (``set_token_valid``): every call answers ``invalid_auth``
  until ``{"valid": true}``;
- ``POST faults`` with the generic fields or a shortcut, each taking ``count`` and
  ``api_method``: ``{"kind": "rate_limit", "retry_after": s}`` (429 with ``Retry-After``),
  ``{"kind": "server_error", "status": 503}`` (an HTML 5xx page), ``{"kind": "error",
  "error": code}`` (e.g. ``channel_not_found``, ``invalid_auth``, ``msg_too_long``,
  ``is_archived``, ``missing_scope``); ``GET calls``, ``POST reset`` as in every fake;
- ``GET state`` (``state``): every channel with its messages (``blocks``, ``edited``,
  ``permalink``) and their ``replies``, DMs, ephemerals per user, open modals per user (a stack),
  published home views per user, and the app's delivery settings;
- ``POST users {"id", "name"}`` (``set_user_name``): the name ``users.info`` answers;
- ``POST app {"request_url"}``: where interactions and events are delivered in HTTP mode.

Besides posting, the fake answers ``chat.update``, ``chat.postEphemeral``, ``chat.getPermalink``,
``users.info`` and ``views.open``/``push``/``update``/``publish`` (``slack_chat``,
``slack_views``), and ``apps.connections.open`` for Socket Mode (``slack_socket``). It delivers
signed interactions and events to the app, over HTTP or Socket Mode (``slack_delivery``: the
``click``, ``submit``, ``close``, ``reply``, ``command``, ``home`` and ``redeliver`` control
endpoints, or ``fake.app.click(...)`` in-process), and serves the ``response_url`` it hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from dealcycle.fakes._http import (
    CONTROL_PREFIX,
    FakeServer,
    Fault,
    Request,
    Response,
    json_response,
)
from dealcycle.fakes.slack_chat import (
    Ephemeral,
    chat_update,
    find_message,
    get_permalink,
    post_ephemeral,
    state_snapshot,
    users_info,
)
from dealcycle.fakes.slack_delivery import DELIVERY_ENDPOINTS, AppDelivery
from dealcycle.fakes.slack_views import ViewStore, blocks_error
from dealcycle.settings import SlackSettings

DEFAULT_BOT_TOKEN = "xoxb-dealcycle-fake-bot-token"
DEFAULT_CHANNELS: tuple[str, ...] = (
    "dealcycle-trials",
    "red-accounts",
    "product-feedback",
    "customer-accounts",
    "account-reviews",
    "dealcycle-ops",
)
TEAM_ID = "T0DEALCYC1"
BOT_USER_ID = "U0DEALBOT1"
BOT_ID = "B0DEALBOT1"
APP_ID = "A0DEALAPP1"
DEFAULT_APP_TOKEN = "xapp-1-A0DEALAPP1-dealcycle-fake-app-token"
"""The app-level token Socket Mode needs (``apps.connections.open``)."""
DEFAULT_SIGNING_SECRET = "dealcycle-fake-signing-secret"
"""What the fake signs the requests it delivers to the app with (``SLACK_SIGNING_SECRET``)."""
MAX_TEXT = 40000

# The scope each method needs, as Slack documents it; history and list depend on the
# conversation type (see ``_history_scope`` and ``_list``).
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write",
    "users.info": "users:read",
}
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
HISTORY_SCOPES = {"public": "channels:history", "private": "groups:history", "im": "im:history"}
LIST_SCOPES = {
    "public_channel": "channels:read",
    "private_channel": "groups:read",
    "im": "im:read",
    "mpim": "mpim:read",
}
DEFAULT_SCOPES: tuple[str, ...] = (
    "chat:write",
    "im:write",
    "channels:history",
    "groups:history",
    "im:history",
    "channels:read",
    "groups:read",
    "users:read",
    "commands",
)
"""What a bot set up as the README says is granted (``commands`` for the slash command)."""

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_CONVERSATION_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
_CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")


@dataclass(frozen=True)
class SlackMessage:
    """A message as posted, in posting order."""

    channel: str
    """Conversation id (``C…`` or ``D…``)."""
    channel_name: str
    """Channel name without ``#``; for a direct message, the member id."""
    text: str
    ts: str
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    blocks: list[Any] | None = None
    user: str = BOT_USER_ID
    bot_id: str | None = BOT_ID
    """``None`` for a person's message (a thread reply delivered through ``/__fake__/reply``)."""
    edited: dict[str, str] | None = None
    """``{"user", "ts"}`` once ``chat.update`` changed the message."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Channel:
    id: str
    name: str
    is_im: bool = False
    user: str | None = None
    is_archived: bool = False
    is_member: bool = True
    is_private: bool = False

    @property
    def kind(self) -> str:
        return "im" if self.is_im else "private" if self.is_private else "public"

    def info(self) -> dict[str, Any]:
        if self.is_im:
            return {"id": self.id, "is_im": True, "user": self.user, "is_open": True}
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.is_member,
        }


def _stable_id(prefix: str, seed: str) -> str:
    # Ids derived from the name stay the same across restarts and resets of the fake.
    return prefix + hashlib.sha1(seed.encode()).hexdigest()[:10].upper()


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _ts_value(raw: Any) -> Decimal | None:
    try:
        return Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(cursor).encode()).decode()
        return max(0, int(text.removeprefix("offset:")))
    except (ValueError, UnicodeDecodeError):
        return 0


def _ok(**payload: Any) -> Response:
    return json_response(200, {"ok": True, **payload})


def _fail(error: str, **extra: Any) -> Response:
    return json_response(200, {"ok": False, "error": error, **extra})


def rate_limit_fault(count: int = 1, retry_after: int = 1, api_method: str | None = None) -> Fault:
    return Fault(
        "*",
        _method_pattern(api_method),
        429,
        {"ok": False, "error": "ratelimited"},
        count,
        {"Retry-After": str(retry_after)},
    )


def server_error_fault(count: int = 1, api_method: str | None = None, status: int = 500) -> Fault:
    # Slack's edge answers 5xx with an HTML page, not JSON: clients must cope with that.
    body = "<html><body><h1>500 Internal Server Error</h1>upstream failure (fake)</body></html>"
    return Fault("*", _method_pattern(api_method), status, body, count)


def error_fault(error: str, count: int = 1, api_method: str | None = None) -> Fault:
    return Fault("*", _method_pattern(api_method), 200, {"ok": False, "error": error}, count)


def _method_pattern(api_method: str | None) -> str:
    return rf"^/api/{re.escape(api_method)}$" if api_method else r"^/api/"


class SlackFake(FakeServer):
    """Plain-HTTP fake of the Slack Web API.

    ``auto_create_channels`` (sandbox mode) makes posting to an unknown channel create it.
    """

    name = "slack"
    scheme = "http"
    team_id = TEAM_ID
    bot_user_id = BOT_USER_ID
    bot_id = BOT_ID
    app_id = APP_ID

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str = DEFAULT_BOT_TOKEN,
        channels: Iterable[str] = (),
        auto_create_channels: bool = False,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        app_token: str = DEFAULT_APP_TOKEN,
        app_url: str | None = None,
    ) -> None:
        super().__init__(host, port)
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.app_token = app_token
        self._initial_app_url = app_url
        self.app_url: str | None = app_url
        """Where interactions and events are POSTed in HTTP mode (``POST /__fake__/app``)."""
        self._ephemerals: dict[str, list[Ephemeral]] = {}
        self._views = ViewStore(TEAM_ID, APP_ID, BOT_ID)
        self._user_names: dict[str, str] = {}
        self.app = AppDelivery(self)
        """Delivers interactions and events to the app (``click``, ``submit``, ``reply``...)."""
        self.auto_create_channels = auto_create_channels
        self._initial_scopes = tuple(scopes)
        self._scopes: tuple[str, ...] = self._initial_scopes
        self._token_valid = True
        self._initial_channels = [
            self._normalize_name(name) for name in (*DEFAULT_CHANNELS, *channels)
        ]
        self._channels: dict[str, _Channel] = {}
        self._messages: list[SlackMessage] = []
        self._last_ts_us = 0
        self._reset_state()

    # public helpers ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/`` for ``WebClient(base_url=...)``."""
        return f"{self.url}/api/"

    def settings(self) -> SlackSettings:
        return SlackSettings(
            bot_token=self.bot_token, api_url=self.api_url, signing_secret=self.signing_secret
        )

    @property
    def views(self) -> ViewStore:
        """Trigger ids, open modals per user and home tabs (``trigger_ttl`` is settable)."""
        return self._views

    def add_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> SlackMessage:
        """A person's message (no ``bot_id``), in ``thread_ts``'s thread if given."""
        if not _USER_ID.fullmatch(user):
            raise ValueError(f"{user!r} is not a Slack member id")
        with self._lock:
            found = self._require(channel)
            if thread_ts is not None:
                root = self._thread_root(found.id, thread_ts)
                if root is None:
                    raise KeyError(f"no message {thread_ts} in {channel}")
                thread_ts = root
            message = SlackMessage(
                channel=found.id,
                channel_name=found.name,
                text=text,
                ts=self._next_ts(),
                thread_ts=thread_ts,
                user=user,
                bot_id=None,
            )
            self._messages.append(message)
            return message

    def issue_trigger(self, user: str) -> str:
        """A trigger id as an interaction of ``user`` carries (each delivery issues one)."""
        with self._lock:
            return self._views.issue_trigger(user)

    def ephemerals_for(self, user: str) -> list[Ephemeral]:
        with self._lock:
            return list(self._ephemerals.get(user, []))

    def state(self) -> dict[str, Any]:
        """The workspace as ``GET /__fake__/state`` shows it."""
        with self._lock:
            return state_snapshot(self)

    def set_user_name(self, user: str, name: str) -> None:
        """The name ``users.info`` gives for ``user`` (by default the id in lower case)."""
        if not _USER_ID.fullmatch(user):
            raise ValueError(f"{user!r} is not a Slack member id")
        with self._lock:
            self._user_names[user] = name

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        """The message ``ts`` in ``channel`` (name, id, or member id for the DM) as it is now."""
        with self._lock:
            found = self._lookup(channel)
            return find_message(self, found.id, ts) if found else None

    @property
    def scopes(self) -> tuple[str, ...]:
        with self._lock:
            return self._scopes

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """The scopes the token is granted from now on (``reset`` restores the initial ones)."""
        with self._lock:
            self._scopes = tuple(scopes)

    def set_token_valid(self, valid: bool) -> None:
        """``False``: every call answers ``invalid_auth`` (a revoked token) until ``True``."""
        with self._lock:
            self._token_valid = valid

    @property
    def messages(self) -> list[SlackMessage]:
        with self._lock:
            return list(self._messages)

    def channel_id(self, channel: str) -> str | None:
        """The id of a channel given by name (``#x``/``x``), id, or member id (its DM)."""
        with self._lock:
            found = self._lookup(channel)
            return found.id if found else None

    def messages_in(self, channel: str, include_replies: bool = True) -> list[SlackMessage]:
        """Messages in a channel (by name, id, or member id for the DM), oldest first."""
        with self._lock:
            found = self._lookup(channel)
            if found is None:
                return []
            return [
                m
                for m in self._messages
                if m.channel == found.id and (include_replies or m.thread_ts is None)
            ]

    def replies_to(self, channel: str, ts: str) -> list[SlackMessage]:
        """Thread replies to the message ``ts`` (the parent itself excluded), oldest first."""
        return [m for m in self.messages_in(channel) if m.thread_ts == ts and m.ts != ts]

    def add_channel(self, name: str, private: bool = False) -> str:
        with self._lock:
            return self._create_channel(self._normalize_name(name), private).id

    def archive_channel(self, channel: str) -> None:
        """Posting there then fails with ``is_archived``."""
        with self._lock:
            self._require(channel).is_archived = True

    def unarchive_channel(self, channel: str) -> None:
        with self._lock:
            self._require(channel).is_archived = False

    def remove_bot_from(self, channel: str) -> None:
        """Posting there then fails with ``not_in_channel``."""
        with self._lock:
            self._require(channel).is_member = False

    def rate_limit_next(
        self, count: int = 1, retry_after: int = 1, api_method: str | None = None
    ) -> None:
        """HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``."""
        self._faults.add(rate_limit_fault(count, retry_after, api_method))

    def server_error_next(
        self, count: int = 1, api_method: str | None = None, status: int = 500
    ) -> None:
        """HTTP 5xx with a non-JSON (HTML) body."""
        self._faults.add(server_error_fault(count, api_method, status))

    def error_next(self, error: str, count: int = 1, api_method: str | None = None) -> None:
        """HTTP 200 with ``{"ok": false, "error": error}``."""
        self._faults.add(error_fault(error, count, api_method))

    # FakeServer hooks ----------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._channels.clear()
        self._messages.clear()
        for name in self._initial_channels:
            self._create_channel(name)
        self._scopes = self._initial_scopes
        self._token_valid = True
        self._ephemerals.clear()
        self._views.reset()
        self._user_names.clear()
        self.app_url = self._initial_app_url
        self.app.reset()

    def _known_user(self, user: str) -> bool:
        return bool(_USER_ID.fullmatch(user))

    def _app_state(self) -> dict[str, Any]:
        return self.app.state()

    def stop(self) -> None:
        super().stop()
        self.app.socket.stop()

    def _dispatch(self, request: Request) -> Response:
        parts = request.segments
        if (
            request.method == "POST"
            and len(parts) == 2
            and request.path.startswith(CONTROL_PREFIX)
            and parts[1] in DELIVERY_ENDPOINTS
        ):
            # Not under the lock: the app calls the fake back while it handles the delivery.
            return self.app.control(parts[1], request)
        return super()._dispatch(request)

    def _finalize(self, request: Request, response: Response) -> Response:
        if request.path.startswith("/api/"):
            response.headers["x-oauth-scopes"] = ",".join(self._scopes)
        return response

    def _record_body(self, request: Request) -> Any:
        try:
            params = self._params(request)
        except ValueError:
            return request.body.decode("utf-8", "replace")
        if "token" in params:
            params["token"] = "***"
        return params

    def _fault_from_spec(self, spec: Mapping[str, Any]) -> Fault:
        """Besides the generic fields: ``{"kind": "rate_limit", "retry_after": s}``,
        ``{"kind": "server_error"}``, ``{"kind": "error", "error": code}``; each takes
        ``count`` and ``api_method``."""
        kind = spec.get("kind")
        if kind is None:
            return super()._fault_from_spec(spec)
        count = int(spec.get("count", 1))
        api_method = spec.get("api_method")
        if kind == "rate_limit":
            return rate_limit_fault(count, int(spec.get("retry_after", 1)), api_method)
        if kind == "server_error":
            return server_error_fault(count, api_method, int(spec.get("status", 500)))
        if kind == "error":
            return error_fault(str(spec["error"]), count, api_method)
        raise ValueError(f"unknown fault kind {kind!r} (rate_limit, server_error, error)")

    def _control(self, request: Request, parts: list[str]) -> Response | None:
        if parts == ["messages"] and request.method == "GET":
            return json_response(200, [m.to_dict() for m in self._messages])
        if parts == ["channels"] and request.method == "GET":
            return json_response(200, [c.info() for c in self._channels.values()])
        if parts == ["scopes"] and request.method == "GET":
            return json_response(200, {"scopes": list(self._scopes)})
        if parts == ["state"] and request.method == "GET":
            return json_response(200, state_snapshot(self))
        if request.method != "POST" or len(parts) != 1:
            return None
        try:
            body = request.json_body() or {}
            if parts == ["channels"]:
                channel_id = self.add_channel(str(body["name"]), bool(body.get("private")))
                return json_response(200, {"ok": True, "id": channel_id})
            if parts == ["archive"]:
                self.archive_channel(str(body["channel"]))
            elif parts == ["unarchive"]:
                self.unarchive_channel(str(body["channel"]))
            elif parts == ["scopes"]:
                scopes = body["scopes"]
                if not isinstance(scopes, list):
                    raise TypeError("scopes must be a list")
                self.set_scopes(str(scope) for scope in scopes)
            elif parts == ["auth"]:
                self.set_token_valid(bool(body["valid"]))
            elif parts == ["users"]:
                self.set_user_name(str(body["id"]), str(body["name"]))
            elif parts == ["app"]:
                url = body.get("request_url")
                self.app_url = str(url) if url else None
            else:
                return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return json_response(400, {"ok": False, "error": str(exc)})
        return json_response(200, {"ok": True})

    # dispatch ------------------------------------------------------------------------------

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = request.json_body()
            if body is not None and not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body or {})
        elif request.content_type == "application/x-www-form-urlencoded":
            params.update(request.form_body())
        return params

    def _serve(self, request: Request) -> Response:
        segments = request.segments
        if len(segments) == 2 and segments[0] == "response" and request.method == "POST":
            return self.app.respond(segments[1], request)
        if len(segments) != 2 or segments[0] != "api":
            return json_response(404, {"ok": False, "error": "unknown_method"})
        try:
            params = self._params(request)
        except ValueError:
            return _fail("invalid_json")
        scheme, _, token = request.header("authorization").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else str(params.get("token") or "")
        if not token:
            return _fail("not_authed")
        is_app_token = hmac.compare_digest(token, self.app_token)
        if not (is_app_token or hmac.compare_digest(token, self.bot_token)):
            return _fail("invalid_auth")
        if not self._token_valid:
            return _fail("invalid_auth")
        # Socket Mode's connection needs the app-level token; every other method a bot token.
        if is_app_token != (segments[1] in APP_TOKEN_METHODS):
            return _fail("not_allowed_token_type")
        needed = METHOD_SCOPES.get(segments[1])
        if needed is not None and needed not in self._scopes:
            return self._missing_scope(needed)
        handler = self._api_methods().get(segments[1])
        if handler is None:
            return _fail("unknown_method", req_method=segments[1])
        return handler(params)

    def _api_methods(self) -> dict[str, Callable[[dict[str, Any]], Response]]:
        return {
            "auth.test": self._auth_test,
            "apps.connections.open": lambda p: _ok(url=self.app.socket.issue_url()),
            "chat.postMessage": self._post_message,
            "chat.update": lambda p: chat_update(self, p),
            "chat.postEphemeral": lambda p: post_ephemeral(self, p),
            "chat.getPermalink": lambda p: get_permalink(self, p),
            "users.info": lambda p: users_info(self, p),
            "views.open": self._views.open,
            "views.push": self._views.push,
            "views.update": self._views.update,
            "views.publish": lambda p: self._views.publish(
                p, self._known_user(str(p.get("user_id") or ""))
            ),
            "conversations.open": self._open,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.list": self._list,
        }

    # channels ------------------------------------------------------------------------------

    @staticmethod
    def _normalize_name(name: str) -> str:
        return name.strip().lstrip("#").lower()

    def _create_channel(self, name: str, private: bool = False) -> _Channel:
        existing = self._by_name(name)
        if existing is not None:
            return existing
        if not _CHANNEL_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid Slack channel name")
        channel = _Channel(id=_stable_id("G" if private else "C", name), name=name)
        channel.is_private = private
        self._channels[channel.id] = channel
        return channel

    def _by_name(self, name: str) -> _Channel | None:
        for channel in self._channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        return None

    def _dm(self, user: str) -> _Channel:
        channel_id = _stable_id("D", user)
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = _Channel(id=channel_id, name=user, is_im=True, user=user)
            self._channels[channel_id] = channel
        return channel

    def _lookup(self, raw: str) -> _Channel | None:
        value = raw.strip()
        if _USER_ID.fullmatch(value):
            return self._channels.get(_stable_id("D", value))
        if _CONVERSATION_ID.fullmatch(value):
            return self._channels.get(value)
        return self._by_name(self._normalize_name(value))

    def _require(self, raw: str) -> _Channel:
        found = self._lookup(raw)
        if found is None:
            raise KeyError(f"no channel {raw!r} in the Slack fake")
        return found

    def _resolve_for_post(self, raw: str) -> _Channel | None:
        value = raw.strip()
        if _USER_ID.fullmatch(value):
            return self._dm(value)
        if _CONVERSATION_ID.fullmatch(value):
            found = self._channels.get(value)
            if found is None and self.auto_create_channels and value[0] == "C":
                found = _Channel(id=value, name=value.lower())
                self._channels[value] = found
            return found
        name = self._normalize_name(value)
        found = self._by_name(name)
        if found is None and self.auto_create_channels and _CHANNEL_NAME.fullmatch(name):
            found = self._create_channel(name)
        return found

    def _conversation(self, params: Mapping[str, Any]) -> _Channel | None:
        # Like Slack, the read methods take conversation ids only (names do not resolve).
        value = str(params.get("channel") or "").strip()
        return self._channels.get(value) if _CONVERSATION_ID.fullmatch(value) else None

    # methods -------------------------------------------------------------------------------

    def _missing_scope(self, needed: str) -> Response:
        return _fail("missing_scope", needed=needed, provided=",".join(self._scopes))

    def _auth_test(self, params: Mapping[str, Any]) -> Response:
        return _ok(
            url="https://dealcycle-fake.slack.com/",
            team="dealcycle (fake)",
            user="dealcycle",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )

    def _next_ts(self) -> str:
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    @staticmethod
    def _json_param(value: Any) -> Any:
        # Form-encoded calls carry structured params (blocks, metadata) as JSON strings.
        if isinstance(value, str):
            return json.loads(value) if value.strip() else None
        return value

    def _post_message(self, params: Mapping[str, Any]) -> Response:
        channel = self._resolve_for_post(str(params.get("channel") or ""))
        if channel is None:
            return _fail("channel_not_found")
        if channel.is_archived:
            return _fail("is_archived")
        if not channel.is_member:
            return _fail("not_in_channel")
        text = str(params.get("text") or "")
        try:
            blocks = self._json_param(params.get("blocks"))
            metadata = self._json_param(params.get("metadata"))
        except ValueError:
            return _fail("invalid_arguments")
        if blocks_error(blocks):
            return _fail("invalid_blocks")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return _fail("invalid_metadata_format")
        if not text and not blocks:
            return _fail("no_text")
        if len(text) > MAX_TEXT:
            return _fail("msg_too_long")
        thread_ts = params.get("thread_ts")
        if thread_ts:
            thread_ts = self._thread_root(channel.id, str(thread_ts))
            if thread_ts is None:
                return _fail("thread_not_found")
        message = self._add_message(channel, text, thread_ts, blocks, metadata)
        return _ok(channel=channel.id, ts=message.ts, message=self._render(message, True))

    def _add_message(
        self,
        channel: _Channel,
        text: str,
        thread_ts: str | None,
        blocks: list[Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SlackMessage:
        """A message of the bot (thread_ts already checked)."""
        message = SlackMessage(
            channel=channel.id,
            channel_name=channel.name,
            text=text,
            ts=self._next_ts(),
            thread_ts=str(thread_ts) if thread_ts else None,
            metadata=metadata,
            blocks=blocks,
        )
        self._messages.append(message)
        return message

    def _thread_root(self, channel_id: str, ts: str) -> str | None:
        # A reply to a reply lands in the parent's thread, as in Slack.
        parent = find_message(self, channel_id, ts)
        return (parent.thread_ts or parent.ts) if parent else None

    def _render(self, message: SlackMessage, include_metadata: bool) -> dict[str, Any]:
        rendered: dict[str, Any] = {"type": "message", "user": message.user}
        if message.bot_id is not None:
            rendered.update(bot_id=message.bot_id, app_id=APP_ID)
        rendered.update(team=TEAM_ID, text=message.text, ts=message.ts)
        if message.edited:
            rendered["edited"] = dict(message.edited)
        if message.thread_ts:
            rendered["thread_ts"] = message.thread_ts
            parent = find_message(self, message.channel, message.thread_ts)
            rendered["parent_user_id"] = parent.user if parent else BOT_USER_ID
        else:
            replies = [m for m in self._messages if m.thread_ts == message.ts]
            if replies:
                rendered["thread_ts"] = message.ts
                rendered["reply_count"] = len(replies)
                rendered["latest_reply"] = replies[-1].ts
        if message.blocks:
            rendered["blocks"] = message.blocks
        if include_metadata and message.metadata:
            rendered["metadata"] = message.metadata
        return rendered

    def _open(self, params: Mapping[str, Any]) -> Response:
        if params.get("channel"):
            found = self._conversation(params)
            return _ok(channel={"id": found.id}) if found else _fail("channel_not_found")
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if len(users) != 1:
            # Group DMs are not needed by dealcycle, so the fake does not offer them.
            return _fail("invalid_arguments" if not users else "not_implemented")
        if not _USER_ID.fullmatch(users[0]):
            return _fail("user_not_found")
        channel = self._dm(users[0])
        return _ok(channel={"id": channel.id}, no_op=False, already_open=False)

    @staticmethod
    def _window(params: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None, bool]:
        oldest = _ts_value(params["oldest"]) if params.get("oldest") else None
        latest = _ts_value(params["latest"]) if params.get("latest") else None
        return oldest, latest, _truthy(params.get("inclusive", False))

    @staticmethod
    def _in_window(
        ts: str, oldest: Decimal | None, latest: Decimal | None, inclusive: bool
    ) -> bool:
        value = Decimal(ts)
        if oldest is not None and (value < oldest or (value == oldest and not inclusive)):
            return False
        return not (latest is not None and (value > latest or (value == latest and not inclusive)))

    @staticmethod
    def _page(items: list[Any], params: Mapping[str, Any], default: int) -> tuple[list[Any], str]:
        try:
            limit = max(1, min(999, int(params.get("limit") or default)))
        except ValueError:
            limit = default
        start = _decode_cursor(params.get("cursor"))
        page = items[start : start + limit]
        more = start + limit < len(items)
        return page, _encode_cursor(start + limit) if more else ""

    def _history(self, params: Mapping[str, Any]) -> Response:
        channel = self._conversation(params)
        if channel is None:
            return _fail("channel_not_found")
        if HISTORY_SCOPES[channel.kind] not in self._scopes:
            return self._missing_scope(HISTORY_SCOPES[channel.kind])
        oldest, latest, inclusive = self._window(params)
        include_metadata = _truthy(params.get("include_all_metadata", False))
        top_level = [
            m
            for m in reversed(self._messages)
            if m.channel == channel.id
            and m.thread_ts is None
            and self._in_window(m.ts, oldest, latest, inclusive)
        ]
        page, cursor = self._page(top_level, params, 100)
        return _ok(
            messages=[self._render(m, include_metadata) for m in page],
            has_more=bool(cursor),
            pin_count=0,
            response_metadata={"next_cursor": cursor},
        )

    def _replies(self, params: Mapping[str, Any]) -> Response:
        channel = self._conversation(params)
        if channel is None:
            return _fail("channel_not_found")
        if HISTORY_SCOPES[channel.kind] not in self._scopes:
            return self._missing_scope(HISTORY_SCOPES[channel.kind])
        ts = str(params.get("ts") or "")
        parent = next((m for m in self._messages if m.channel == channel.id and m.ts == ts), None)
        if parent is None:
            return _fail("thread_not_found")
        root = parent.thread_ts or parent.ts
        oldest, latest, inclusive = self._window(params)
        include_metadata = _truthy(params.get("include_all_metadata", False))
        thread = [
            m
            for m in self._messages
            if m.channel == channel.id
            and (m.ts == root or m.thread_ts == root)
            and (m.ts == root or self._in_window(m.ts, oldest, latest, inclusive))
        ]
        page, cursor = self._page(thread, params, 1000)
        return _ok(
            messages=[self._render(m, include_metadata) for m in page],
            has_more=bool(cursor),
            response_metadata={"next_cursor": cursor},
        )

    def _list(self, params: Mapping[str, Any]) -> Response:
        types = {t.strip() for t in str(params.get("types") or "public_channel").split(",")}
        missing = [
            LIST_SCOPES[t]
            for t in sorted(types)
            if t in LIST_SCOPES and LIST_SCOPES[t] not in self._scopes
        ]
        if missing:
            return self._missing_scope(",".join(missing))
        wanted = {"im": "im", "public_channel": "public", "private_channel": "private"}
        kinds = {wanted[t] for t in types if t in wanted}
        exclude_archived = _truthy(params.get("exclude_archived", False))
        channels = [
            c
            for c in self._channels.values()
            if c.kind in kinds and not (exclude_archived and c.is_archived)
        ]
        page, cursor = self._page(channels, params, 100)
        return _ok(channels=[c.info() for c in page], response_metadata={"next_cursor": cursor})
