"""Message methods of the Slack fake beyond posting: ``chat.update``, ``chat.postEphemeral``,
``chat.getPermalink``, ``users.info``, and the whole-workspace snapshot ``GET /__fake__/state``.

Each function takes the fake (whose lock the caller holds) and the call's parameters, and
answers as Slack does.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dealcycle.fakes._http import Response, json_response
from dealcycle.fakes.slack_views import blocks_error

if TYPE_CHECKING:
    from dealcycle.fakes.slack import SlackFake, SlackMessage

WORKSPACE_URL = "https://dealcycle-fake.slack.com"


def _ok(**payload: Any) -> Response:
    return json_response(200, {"ok": True, **payload})


def _fail(error: str, **extra: Any) -> Response:
    return json_response(200, {"ok": False, "error": error, **extra})


@dataclass(frozen=True)
class Ephemeral:
    """A message only ``user`` sees, once; never in a channel's history."""

    channel: str
    user: str
    text: str
    ts: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def permalink(channel: str, ts: str, thread_ts: str | None = None) -> str:
    link = f"{WORKSPACE_URL}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link


def _structured(raw: Any) -> tuple[Any, bool]:
    """(value, ok): form-encoded calls carry blocks as a JSON string."""
    if isinstance(raw, str):
        if not raw.strip():
            return None, True
        try:
            return json.loads(raw), True
        except ValueError:
            return None, False
    return raw, True


def find_message(fake: SlackFake, channel: str, ts: str) -> SlackMessage | None:
    return next((m for m in fake._messages if m.channel == channel and m.ts == ts), None)


def replace_message(fake: SlackFake, old: SlackMessage, new: SlackMessage) -> None:
    index = next(i for i, m in enumerate(fake._messages) if m is old)
    fake._messages[index] = new


def _addressed(
    fake: SlackFake, params: dict[str, Any], ts_param: str
) -> tuple[SlackMessage | None, Response | None]:
    """The message a call names by ``channel`` (an id) and ``ts_param``, or the error."""
    channel = fake._conversation(params)
    if channel is None:
        return None, _fail("channel_not_found")
    message = find_message(fake, channel.id, str(params.get(ts_param) or ""))
    if message is None:
        return None, _fail("message_not_found")
    return message, None


def chat_update(fake: SlackFake, params: dict[str, Any]) -> Response:
    message, failed = _addressed(fake, params, "ts")
    if message is None:
        return failed or _fail("message_not_found")
    channel = fake._channels[message.channel]
    if message.bot_id is None:
        # A bot may edit only its own messages.
        return _fail("cant_update_message")
    blocks, parsed = _structured(params.get("blocks"))
    if not parsed:
        return _fail("invalid_arguments")
    if blocks_error(blocks):
        return _fail("invalid_blocks")
    text = params.get("text")
    if text is not None and len(str(text)) > 40000:
        return _fail("msg_too_long")
    if channel.is_archived:
        return _fail("is_archived")
    updated = dataclasses.replace(
        message,
        text=str(text) if text is not None else message.text,
        # Absent blocks keep the old ones; an empty list removes them (as in Slack).
        blocks=blocks if params.get("blocks") is not None else message.blocks,
        edited={"user": message.user, "ts": fake._next_ts()},
    )
    replace_message(fake, message, updated)
    return _ok(
        channel=channel.id,
        ts=updated.ts,
        text=updated.text,
        message=fake._render(updated, False),
    )


def post_ephemeral(fake: SlackFake, params: dict[str, Any]) -> Response:
    user = str(params.get("user") or "").strip()
    if not user:
        return _fail("invalid_arguments")
    if not fake._known_user(user):
        return _fail("user_not_found")
    raw_channel = str(params.get("channel") or "")
    channel = fake._resolve_for_post(raw_channel)
    if channel is None:
        return _fail("channel_not_found")
    if channel.is_archived:
        return _fail("is_archived")
    blocks, parsed = _structured(params.get("blocks"))
    if not parsed:
        return _fail("invalid_arguments")
    if blocks_error(blocks):
        return _fail("invalid_blocks")
    text = str(params.get("text") or "")
    if not text and not blocks:
        return _fail("no_text")
    if len(text) > 40000:
        return _fail("msg_too_long")
    thread_ts = str(params.get("thread_ts") or "") or None
    ephemeral = Ephemeral(
        channel=channel.id,
        user=user,
        text=text,
        ts=fake._next_ts(),
        blocks=blocks,
        thread_ts=thread_ts,
    )
    fake._ephemerals.setdefault(user, []).append(ephemeral)
    return _ok(message_ts=ephemeral.ts)


def get_permalink(fake: SlackFake, params: dict[str, Any]) -> Response:
    message, failed = _addressed(fake, params, "message_ts")
    if message is None:
        return failed or _fail("message_not_found")
    link = permalink(message.channel, message.ts, message.thread_ts)
    return _ok(channel=message.channel, permalink=link)


def user_profile(fake: SlackFake, user: str) -> dict[str, Any]:
    name = fake._user_names.get(user) or user.lower()
    return {
        "id": user,
        "team_id": fake.team_id,
        "name": name,
        "real_name": name,
        "deleted": False,
        "is_bot": user == fake.bot_user_id,
        "tz": "UTC",
        "profile": {"real_name": name, "display_name": name, "team": fake.team_id},
    }


def users_info(fake: SlackFake, params: dict[str, Any]) -> Response:
    user = str(params.get("user") or "").strip()
    if not fake._known_user(user):
        return _fail("user_not_found")
    return _ok(user=user_profile(fake, user))


def _state_message(fake: SlackFake, message: SlackMessage) -> dict[str, Any]:
    rendered = fake._render(message, True)
    rendered["blocks"] = message.blocks
    rendered["edited"] = message.edited
    rendered["permalink"] = permalink(message.channel, message.ts, message.thread_ts)
    return rendered


def _threads(fake: SlackFake, channel_id: str) -> list[dict[str, Any]]:
    messages = [m for m in fake._messages if m.channel == channel_id]
    threads: list[dict[str, Any]] = []
    for message in messages:
        if message.thread_ts is not None and message.thread_ts != message.ts:
            continue
        item = _state_message(fake, message)
        item["replies"] = [
            _state_message(fake, reply)
            for reply in messages
            if reply.thread_ts == message.ts and reply.ts != message.ts
        ]
        threads.append(item)
    return threads


def state_snapshot(fake: SlackFake) -> dict[str, Any]:
    """Everything a person could see in the workspace: ``GET /__fake__/state``."""
    channels = [c for c in fake._channels.values() if not c.is_im]
    dms = [c for c in fake._channels.values() if c.is_im]
    views = fake._views.state()
    return {
        "team": {"id": fake.team_id, "domain": "dealcycle-fake", "url": WORKSPACE_URL + "/"},
        "bot": {"user_id": fake.bot_user_id, "bot_id": fake.bot_id, "app_id": fake.app_id},
        "channels": [
            {**c.info(), "messages": _threads(fake, c.id)}
            for c in sorted(channels, key=lambda c: c.name)
        ],
        "dms": [{**c.info(), "messages": _threads(fake, c.id)} for c in dms],
        "ephemerals": {u: [e.to_dict() for e in items] for u, items in fake._ephemerals.items()},
        "views": views["views"],
        "home": views["home"],
        "users": {u: user_profile(fake, u) for u in sorted(fake._user_names)},
        "app": fake._app_state(),
    }
