"""Delivering interactions and events from the Slack fake to the app, as Slack does.

HTTP mode POSTs to the app's request URL (``SlackFake.app_url``), signed with the fake's signing
secret (``X-Slack-Signature: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``,
``X-Slack-Request-Timestamp``): interactions form-encoded as ``payload=<json>``, events as JSON,
slash commands form-encoded. Socket Mode sends the same payloads as envelopes to a connected app.
The app's answer (HTTP body or the ack's payload) is applied as Slack would: a view submission's
``response_action``, a slash command's reply.

Control endpoints (``POST /__fake__/<name>``, JSON in, JSON ``DeliveryResult`` out):

- ``click {user, channel, ts, action_id, block_id?, value?}`` (or ``view_id`` instead of
  channel+ts for a button in a modal or the home tab): a ``block_actions``;
- ``submit {user, view_id, values: {block_id: {action_id: value}}}``: a ``view_submission``;
- ``close {user, view_id}``: the person cancels the modal; a ``view_closed`` is delivered only
  when the view asked for it (``notify_on_close``), else the answer is ``{"delivered": false}``;
- ``reply {user, channel, thread_ts, text, bot?}``: stores the reply and delivers its
  ``message`` event;
- ``command {user, command, text, channel?}``: a slash command;
- ``home {user}``: ``app_home_opened``;
- ``redeliver {delivery_id}``: the same raw request again.

Each takes the delivery options ``via`` (``http``/``socket``; default: Socket Mode if an app is
connected, else HTTP), ``repeat`` (send the same signed request N times; ``replay: true`` is 2),
``forge_signature`` and ``timestamp_offset`` (seconds, e.g. ``-360`` for a stale request).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

from dealcycle.fakes._http import RecordedCall, Request, Response, json_response
from dealcycle.fakes.slack_chat import Ephemeral, find_message, replace_message, user_profile
from dealcycle.fakes.slack_payloads import (
    TEAM_DOMAIN,
    VERIFICATION_TOKEN,
    PayloadError,
    action,
    event_callback,
    find_action,
    interaction_base,
    user_ref,
    view_state,
)
from dealcycle.fakes.slack_socket import AckTimeout, NoSocketApp, SocketModeServer

if TYPE_CHECKING:
    from dealcycle.fakes.slack import SlackFake, SlackMessage

DELIVERY_ENDPOINTS = frozenset(
    {"click", "submit", "close", "reply", "command", "home", "redeliver"}
)
HTTP_TIMEOUT_SECONDS = 10.0
RESPONSE_URL_USES = 5
KEPT_DELIVERIES = 1000
RESPONSE_URL_TTL_SECONDS = 30 * 60
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"


class NoApp(RuntimeError):
    """Neither an app URL is set nor an app connected over Socket Mode."""


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """Slack's request signature: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_request(
    secret: str,
    body: bytes | str,
    *,
    content_type: str = _JSON,
    timestamp: int | None = None,
    forge: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a request as Slack signs it; ``forge`` signs with a wrong secret and
    ``timestamp`` (Unix seconds) may be a stale one. For tests of the app's verification."""
    raw = body.encode() if isinstance(body, str) else body
    stamp = int(time.time()) if timestamp is None else timestamp
    key = secret + "-forged" if forge else secret
    return raw, {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature(key, stamp, raw),
    }


@dataclass(frozen=True)
class DeliveryOptions:
    via: str | None = None
    """``http`` or ``socket``; ``None`` picks Socket Mode when an app is connected."""
    repeat: int = 1
    forge_signature: bool = False
    timestamp_offset: int = 0

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> DeliveryOptions:
        via = body.get("via")
        if via not in (None, "http", "socket"):
            raise ValueError("via must be http or socket")
        repeat = int(body.get("repeat") or (2 if body.get("replay") else 1))
        if not 1 <= repeat <= 1000:
            raise ValueError("repeat must be 1..1000")
        return cls(
            via=via,
            repeat=repeat,
            forge_signature=bool(body.get("forge_signature")),
            timestamp_offset=int(body.get("timestamp_offset") or 0),
        )


@dataclass(frozen=True)
class Delivery:
    """One thing Slack tells the app, kept so it can be delivered again unchanged."""

    id: str
    kind: str
    """``block_actions``, ``view_submission``, ``message``, ``app_home_opened`` or
    ``slash_command``."""
    envelope_type: str
    """Socket Mode's ``interactive``, ``events_api`` or ``slash_commands``."""
    payload: dict[str, Any]
    user: str
    view_id: str | None = None
    channel: str | None = None

    def http_body(self) -> tuple[bytes, str]:
        if self.envelope_type == "interactive":
            return urlencode({"payload": json.dumps(self.payload)}).encode(), _FORM
        if self.envelope_type == "slash_commands":
            return urlencode(self.payload).encode(), _FORM
        return json.dumps(self.payload).encode(), _JSON


@dataclass(frozen=True)
class Attempt:
    status: int
    """The app's HTTP status; in Socket Mode 200 once acked; 0 when nothing answered."""
    body: Any
    """The answer: decoded JSON, else text (HTTP), or the ack's payload (Socket Mode)."""


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: str
    kind: str
    via: str
    status: int
    body: Any
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _ResponseUrl:
    user: str
    channel: str
    message_ts: str | None
    thread_ts: str | None
    issued_at: float
    uses: int = 0


def _decode(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text


class AppDelivery:
    """The app side of the Slack fake: what it delivers, the response URLs it serves, and the
    Socket Mode server. The builders run under the fake's lock; sending does not, because the
    app calls the fake back (``chat.update``, ``views.open``) while it handles a delivery."""

    def __init__(self, fake: SlackFake) -> None:
        self._fake = fake
        self._deliveries: dict[str, Delivery] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self.socket = SocketModeServer(fake.host, fake.app_id)
        self.http_timeout = HTTP_TIMEOUT_SECONDS

    def reset(self) -> None:
        self._deliveries.clear()
        self._response_urls.clear()

    def state(self) -> dict[str, Any]:
        return {"request_url": self._fake.app_url, "socket_connections": self.socket.connected}

    # public API --------------------------------------------------------------------------------

    def click(
        self,
        user: str,
        action_id: str,
        *,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
        block_id: str | None = None,
        value: Any = None,
        options: DeliveryOptions = DeliveryOptions(),
    ) -> DeliveryResult:
        """``user`` clicks (or picks ``value`` in) the element ``action_id`` of the message
        ``ts`` in ``channel``, or of the open view ``view_id``."""
        with self._fake._lock:
            delivery = self._block_actions(user, action_id, channel, ts, view_id, block_id, value)
        return self._deliver(delivery, options)

    def submit(
        self,
        user: str,
        view_id: str,
        values: Mapping[str, Mapping[str, Any]],
        options: DeliveryOptions = DeliveryOptions(),
    ) -> DeliveryResult:
        """``user`` submits the open modal ``view_id`` with ``values``."""
        with self._fake._lock:
            delivery = self._view_submission(user, view_id, values)
        return self._deliver(delivery, options)

    def reply(
        self,
        user: str,
        channel: str,
        thread_ts: str,
        text: str,
        *,
        bot: bool = False,
        options: DeliveryOptions = DeliveryOptions(),
    ) -> DeliveryResult:
        """``user`` (or the bot itself, with ``bot``) replies in the thread of ``thread_ts``."""
        with self._fake._lock:
            delivery = self._message_event(user, channel, thread_ts, text, bot)
        return self._deliver(delivery, options)

    def command(
        self,
        user: str,
        command: str,
        text: str,
        channel: str | None = None,
        options: DeliveryOptions = DeliveryOptions(),
    ) -> DeliveryResult:
        """``user`` types ``command text`` (in ``channel``, by default their DM with the app)."""
        with self._fake._lock:
            delivery = self._slash_command(user, command, text, channel)
        return self._deliver(delivery, options)

    def close(
        self, user: str, view_id: str, options: DeliveryOptions = DeliveryOptions()
    ) -> DeliveryResult | None:
        """``user`` cancels the modal ``view_id`` (and any pushed above it); ``None`` when the
        view did not ask to be told (``notify_on_close``)."""
        fake = self._fake
        with fake._lock:
            view = fake._views.find(view_id)
            if view is None or view.user != user or view.view.get("type") != "modal":
                raise PayloadError(f"{user} has no open modal {view_id!r}")
            fake._views.close(view.id)
            if not view.view.get("notify_on_close"):
                return None
            payload = {
                **interaction_base("view_closed", self._user(user), fake.team_id, fake.app_id, ""),
                "view": view.payload(),
                "is_cleared": False,
            }
            del payload["trigger_id"]  # Slack gives none: nothing can be opened on a close
            delivery = self._keep(
                Delivery(_delivery_id(), "view_closed", "interactive", payload, user, view.id)
            )
        return self._deliver(delivery, options)

    def home(self, user: str, options: DeliveryOptions = DeliveryOptions()) -> DeliveryResult:
        """``user`` opens the app's Home tab."""
        with self._fake._lock:
            delivery = self._app_home_opened(user)
        return self._deliver(delivery, options)

    def redeliver(
        self, delivery_id: str, options: DeliveryOptions = DeliveryOptions()
    ) -> DeliveryResult:
        """The earlier delivery again, byte for byte (a replay unless ``options`` tamper)."""
        with self._fake._lock:
            delivery = self._deliveries.get(delivery_id)
        if delivery is None:
            raise KeyError(f"no delivery {delivery_id!r}")
        return self._deliver(delivery, options)

    # control endpoints -------------------------------------------------------------------------

    def control(self, name: str, request: Request) -> Response:
        try:
            body = request.json_body() or {}
            if not isinstance(body, dict):
                raise TypeError("the body must be a JSON object")
            options = DeliveryOptions.from_body(body)
            if name == "close":
                closed = self.close(str(body.get("user") or ""), str(body["view_id"]), options)
                if closed is None:
                    return json_response(200, {"ok": True, "delivered": False})
                result = closed
            else:
                result = self._control(name, body, options)
        except NoApp as exc:
            return json_response(409, {"ok": False, "error": str(exc)})
        except (PayloadError, ValueError, KeyError, TypeError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            return json_response(400, {"ok": False, "error": str(message)})
        return json_response(200, {"ok": True, "delivered": True, **result.to_dict()})

    def _control(
        self, name: str, body: Mapping[str, Any], options: DeliveryOptions
    ) -> DeliveryResult:
        user = str(body.get("user") or "")
        if name == "click":
            return self.click(
                user,
                str(body["action_id"]),
                channel=body.get("channel"),
                ts=body.get("ts"),
                view_id=body.get("view_id"),
                block_id=body.get("block_id"),
                value=body.get("value"),
                options=options,
            )
        if name == "submit":
            return self.submit(user, str(body["view_id"]), body.get("values") or {}, options)
        if name == "reply":
            return self.reply(
                user,
                str(body["channel"]),
                str(body["thread_ts"]),
                str(body["text"]),
                bot=bool(body.get("bot")),
                options=options,
            )
        if name == "command":
            channel = body.get("channel")
            return self.command(
                user, str(body["command"]), str(body.get("text") or ""), channel, options
            )
        if name == "home":
            return self.home(user, options)
        return self.redeliver(str(body["delivery_id"]), options)

    # building (under the fake's lock) ----------------------------------------------------------

    def _user(self, user: str) -> dict[str, Any]:
        if not self._fake._known_user(user):
            raise PayloadError(f"{user!r} is not a Slack member id (U…)")
        return user_ref(user, self._fake.team_id, user_profile(self._fake, user)["name"])

    def _keep(self, delivery: Delivery) -> Delivery:
        self._deliveries[delivery.id] = delivery
        # A sandbox runs for days: only recent deliveries can be redelivered.
        while len(self._deliveries) > KEPT_DELIVERIES:
            del self._deliveries[next(iter(self._deliveries))]
        return delivery

    def _new_response_url(
        self, user: str, channel: str, message_ts: str | None, thread_ts: str | None
    ) -> str:
        now = time.monotonic()
        expired = [
            t
            for t, hook in self._response_urls.items()
            if now - hook.issued_at > RESPONSE_URL_TTL_SECONDS
        ]
        for old in expired:
            del self._response_urls[old]
        token = secrets.token_urlsafe(18)
        self._response_urls[token] = _ResponseUrl(user, channel, message_ts, thread_ts, now)
        return f"{self._fake.url}/response/{token}"

    def _block_actions(
        self,
        user: str,
        action_id: str,
        channel: str | None,
        ts: str | None,
        view_id: str | None,
        block_id: str | None,
        value: Any,
    ) -> Delivery:
        fake = self._fake
        trigger_id = fake._views.issue_trigger(user)
        base = interaction_base(
            "block_actions", self._user(user), fake.team_id, fake.app_id, trigger_id
        )

        def clicked(blocks: list[Any] | None) -> list[dict[str, Any]]:
            found_block, element = find_action(blocks, action_id, block_id)
            return [action(found_block, element, value, value is not None, fake._next_ts())]

        if view_id:
            view = fake._views.find(str(view_id))
            if view is None or view.user != user:
                raise PayloadError(f"{user} has no open view {view_id!r}")
            payload = {
                **base,
                "container": {"type": "view", "view_id": view.id},
                "view": view.payload(),
                "actions": clicked(view.view.get("blocks")),
            }
            return self._keep(
                Delivery(_delivery_id(), "block_actions", "interactive", payload, user, view.id)
            )
        message = self._message(channel, ts)
        actions = clicked(message.blocks)
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        rendered = fake._render(message, False)
        rendered["blocks"] = message.blocks
        payload = {
            **base,
            "container": container,
            "channel": {"id": message.channel, "name": message.channel_name},
            "message": rendered,
            "state": {"values": {}},
            "response_url": self._new_response_url(
                user, message.channel, message.ts, message.thread_ts
            ),
            "actions": actions,
        }
        return self._keep(
            Delivery(
                _delivery_id(), "block_actions", "interactive", payload, user, None, message.channel
            )
        )

    def _message(self, channel: str | None, ts: str | None) -> SlackMessage:
        found = self._fake._lookup(str(channel or ""))
        if found is None:
            raise PayloadError(f"no channel {channel!r}")
        message = find_message(self._fake, found.id, str(ts or ""))
        if message is None:
            raise PayloadError(f"no message {ts!r} in {channel!r}")
        return message

    def _view_submission(
        self, user: str, view_id: str, values: Mapping[str, Mapping[str, Any]]
    ) -> Delivery:
        fake = self._fake
        view = fake._views.find(view_id)
        if view is None or view.user != user or view.view.get("type") != "modal":
            raise PayloadError(f"{user} has no open modal {view_id!r}")
        if not all(isinstance(v, dict) for v in values.values()):
            raise PayloadError("values must be {block_id: {action_id: value}}")
        submitted = view.payload()
        submitted["state"] = {"values": view_state(submitted, values)}
        payload = {
            **interaction_base(
                "view_submission",
                self._user(user),
                fake.team_id,
                fake.app_id,
                fake._views.issue_trigger(user),
            ),
            "view": submitted,
            "response_urls": [],
        }
        return self._keep(
            Delivery(_delivery_id(), "view_submission", "interactive", payload, user, view.id)
        )

    def _message_event(
        self, user: str, channel: str, thread_ts: str, text: str, bot: bool
    ) -> Delivery:
        fake = self._fake
        found = fake._lookup(channel)
        if found is None:
            raise PayloadError(f"no channel {channel!r}")
        if bot:
            message = fake._add_message(found, text, thread_ts)
        else:
            self._user(user)
            message = fake.add_user_message(found.id, user, text, thread_ts)
        event: dict[str, Any] = {
            "type": "message",
            "channel": found.id,
            "user": message.user,
            "text": message.text,
            "ts": message.ts,
            "thread_ts": message.thread_ts,
            "event_ts": message.ts,
            "channel_type": {"public": "channel", "private": "group"}.get(found.kind, "im"),
            "team": fake.team_id,
        }
        parent = find_message(fake, found.id, str(message.thread_ts))
        if parent is not None:
            event["parent_user_id"] = parent.user
        if message.bot_id:
            event.update(bot_id=message.bot_id, app_id=fake.app_id)
        else:
            event["client_msg_id"] = str(uuid.uuid4())
        payload = event_callback(event, fake.team_id, fake.app_id, fake.bot_user_id)
        return self._keep(
            Delivery(_delivery_id(), "message", "events_api", payload, message.user, None, found.id)
        )

    def _slash_command(self, user: str, command: str, text: str, channel: str | None) -> Delivery:
        fake = self._fake
        who = self._user(user)
        if not command.startswith("/"):
            raise PayloadError("a slash command starts with /")
        found = fake._lookup(channel) if channel else fake._dm(user)
        if found is None:
            raise PayloadError(f"no channel {channel!r}")
        payload = {
            "token": VERIFICATION_TOKEN,
            "team_id": fake.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": found.id,
            "channel_name": "directmessage" if found.is_im else found.name,
            "user_id": user,
            "user_name": who["name"],
            "command": command,
            "text": text,
            "api_app_id": fake.app_id,
            "is_enterprise_install": "false",
            "response_url": self._new_response_url(user, found.id, None, None),
            "trigger_id": fake._views.issue_trigger(user),
        }
        delivery = Delivery(
            _delivery_id(), "slash_command", "slash_commands", payload, user, None, found.id
        )
        return self._keep(delivery)

    def _app_home_opened(self, user: str) -> Delivery:
        fake = self._fake
        self._user(user)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": fake._dm(user).id,
            "tab": "home",
            "event_ts": fake._next_ts(),
        }
        home = fake._views.home(user)
        if home is not None:
            event["view"] = home.payload()
        payload = event_callback(event, fake.team_id, fake.app_id, fake.bot_user_id)
        return self._keep(Delivery(_delivery_id(), "app_home_opened", "events_api", payload, user))

    # sending (without the lock) ----------------------------------------------------------------

    def _deliver(self, delivery: Delivery, options: DeliveryOptions) -> DeliveryResult:
        via = options.via or ("socket" if self.socket.connected else "http")
        if via == "http" and not self._fake.app_url:
            raise NoApp(
                "no app to deliver to: connect one over Socket Mode or set its request URL "
                "(POST /__fake__/app {request_url})"
            )
        if via == "http":
            attempts = self._over_http(delivery, options)
        else:
            attempts = self._over_socket(delivery, options)
        first = attempts[0]
        result = DeliveryResult(
            delivery.id, delivery.kind, via, first.status, first.body, delivery.payload, attempts
        )
        with self._fake._lock:
            self._apply_answer(delivery, first)
            for attempt in attempts:
                self._record(delivery, via, options, attempt)
        return result

    def _over_http(self, delivery: Delivery, options: DeliveryOptions) -> list[Attempt]:
        url = str(self._fake.app_url)
        body, content_type = delivery.http_body()
        raw, headers = signed_request(
            self._fake.signing_secret,
            body,
            content_type=content_type,
            timestamp=int(time.time()) + options.timestamp_offset,
            forge=options.forge_signature,
        )
        headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
        attempts: list[Attempt] = []
        with requests.Session() as session:
            session.trust_env = False  # the app is local: no proxy from the environment
            for _ in range(options.repeat):
                try:
                    answer = session.post(url, data=raw, headers=headers, timeout=self.http_timeout)
                except requests.RequestException as exc:
                    attempts.append(Attempt(0, f"the app did not answer: {exc}"))
                    continue
                attempts.append(Attempt(answer.status_code, _decode(answer.text)))
        return attempts

    def _over_socket(self, delivery: Delivery, options: DeliveryOptions) -> list[Attempt]:
        attempts: list[Attempt] = []
        for retry in range(options.repeat):
            try:
                ack = self.socket.deliver(
                    delivery.envelope_type,
                    delivery.payload,
                    envelope_id=delivery.id,
                    retry_attempt=retry,
                )
            except NoSocketApp as exc:
                raise NoApp(str(exc)) from None
            except AckTimeout as exc:
                attempts.append(Attempt(0, str(exc)))
                continue
            attempts.append(Attempt(200, ack.payload))
        return attempts

    def _record(
        self, delivery: Delivery, via: str, options: DeliveryOptions, attempt: Attempt
    ) -> None:
        self._fake._calls.append(
            RecordedCall(
                method="DELIVER",
                path=f"/__app__/{delivery.kind}",
                query={"via": via, "delivery_id": delivery.id},
                json={
                    "payload": delivery.payload,
                    "answer": attempt.body,
                    "options": asdict(options),
                },
                status=attempt.status,
                time=time.time(),
            )
        )

    # the app's answer (under the lock) ---------------------------------------------------------

    def _apply_answer(self, delivery: Delivery, attempt: Attempt) -> None:
        if attempt.status != 200:
            return  # Slack shows the person an error and changes nothing
        answer = attempt.body if isinstance(attempt.body, dict) else None
        if delivery.kind == "view_submission" and delivery.view_id:
            self._apply_view_answer(delivery, answer)
        elif delivery.kind == "slash_command" and delivery.channel:
            if isinstance(attempt.body, str) and attempt.body.strip():
                answer = {"text": attempt.body}
            if answer and (answer.get("text") or answer.get("blocks")):
                self._answer_in_channel(delivery.user, delivery.channel, None, answer)

    def _apply_view_answer(self, delivery: Delivery, answer: Mapping[str, Any] | None) -> None:
        views = self._fake._views
        current = views.find(str(delivery.view_id))
        if current is None:
            return
        response_action = (answer or {}).get("response_action")
        view = (answer or {}).get("view")
        if response_action == "errors":
            return  # the modal stays open showing the errors
        if response_action == "update" and isinstance(view, dict):
            views.replace(current, view)
        elif response_action == "push" and isinstance(view, dict):
            views.push_from_response(current, view)
        elif response_action == "clear":
            views.clear(current.user)
        else:
            views.close(current.id)

    def _answer_in_channel(
        self, user: str, channel: str, thread_ts: str | None, answer: Mapping[str, Any]
    ) -> None:
        fake = self._fake
        text = str(answer.get("text") or "")
        blocks = answer.get("blocks") if isinstance(answer.get("blocks"), list) else None
        if answer.get("response_type") == "in_channel":
            fake._add_message(fake._channels[channel], text, thread_ts, blocks)
            return
        ephemeral = Ephemeral(channel, user, text, fake._next_ts(), blocks, thread_ts)
        fake._ephemerals.setdefault(user, []).append(ephemeral)

    # response_url (under the lock, from the fake's HTTP dispatch) ------------------------------

    def respond(self, token: str, request: Request) -> Response:
        hook = self._response_urls.get(token)
        if hook is None or time.monotonic() - hook.issued_at > RESPONSE_URL_TTL_SECONDS:
            return json_response(404, {"ok": False, "error": "expired_url"})
        if hook.uses >= RESPONSE_URL_USES:
            return json_response(404, {"ok": False, "error": "used_url"})
        try:
            answer = request.json_body()
        except ValueError:
            return json_response(400, {"ok": False, "error": "invalid_payload"})
        if not isinstance(answer, dict):
            return json_response(400, {"ok": False, "error": "invalid_payload"})
        hook.uses += 1
        fake = self._fake
        original = find_message(fake, hook.channel, hook.message_ts) if hook.message_ts else None
        if answer.get("delete_original") and original is not None:
            fake._messages.remove(original)
        elif _truthy(answer.get("replace_original")) and original is not None:
            blocks = answer.get("blocks")
            replaced = dataclasses.replace(
                original,
                text=str(answer.get("text") or original.text),
                blocks=blocks if isinstance(blocks, list) else original.blocks,
            )
            replace_message(fake, original, replaced)
        else:
            thread_ts = answer.get("thread_ts") or hook.thread_ts
            self._answer_in_channel(hook.user, hook.channel, thread_ts, answer)
        return json_response(200, {"ok": True})


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _delivery_id() -> str:
    return uuid.uuid4().hex
