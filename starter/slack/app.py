"""The Slack app: a slack-bolt ``AsyncApp`` served over Socket Mode or HTTP.

Socket Mode when ``SLACK_APP_TOKEN`` is an app-level token (``xapp-…``): the app dials Slack,
so no public URL is needed. Otherwise HTTP on ``DEALCYCLE_SLACK_PORT`` (3000), path
``/slack/events``, where every request is verified (signature, five-minute timestamp, no
replay) before bolt sees it; a refusal answers 401 and is logged without the body.

The app only sends Temporal Updates, Signals and Queries: every rule stays in the workflows.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from dealcycle.logging import SLACK_BOLT_LOGGER
from dealcycle.settings import Settings
from starter.errors import CommandError
from starter.slack.deps import SlackAppDeps
from starter.slack.verification import RequestGuard

EVENTS_PATH = "/slack/events"
DEFAULT_PORT = 3000
RATE_LIMIT_WAIT = 2
"""The longest ``Retry-After`` (seconds) the app's Slack client waits out before trying again
one of ``SHORT_WAIT_METHODS``."""
SHORT_WAIT_METHODS = frozenset({"chat.postEphemeral", "views.open"})
"""Calls answering a click now or never: an ephemeral answer (which has the click's
``response_url`` besides), a form (whose ``trigger_id`` lives 3 seconds)."""
EVENTS_REMEMBERED = 10_000
"""Event ids kept to recognise Slack's retries (it retries three times within minutes)."""
FEATURE_MODULES = (
    "starter.slack.actions",
    "starter.slack.threads",
    "starter.slack.modals",
    "starter.slack.commands",
    "starter.slack.home",
)
"""Each has ``register(app, deps)``. One not (yet) in this checkout is skipped with a log line,
so the app runs with whatever features are installed."""

log = structlog.stdlib.get_logger("dealcycle.slack")


@dataclass(frozen=True)
class SlackAppConfig:
    """How the app is reached: Socket Mode with ``app_token``, else HTTP on ``port``."""

    app_token: str = ""
    port: int = DEFAULT_PORT

    @property
    def socket_mode(self) -> bool:
        return self.app_token.startswith("xapp-")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackAppConfig:
        env = os.environ if env is None else env
        raw_port = env.get("DEALCYCLE_SLACK_PORT") or str(DEFAULT_PORT)
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise CommandError(f"DEALCYCLE_SLACK_PORT={raw_port!r} is not a port (1 to 65535)")
        return cls(app_token=env.get("SLACK_APP_TOKEN") or "", port=int(raw_port))


def require_slack(settings: Settings) -> None:
    """Refuse, before connecting anywhere, to run without the bot token or signing secret."""
    if not settings.slack.bot_token:
        raise CommandError("SLACK_BOT_TOKEN is empty: the Slack app needs the bot's token")
    if not settings.slack.signing_secret:
        raise CommandError("SLACK_SIGNING_SECRET is empty: the app cannot verify Slack's requests")


def build_app(deps: SlackAppDeps) -> AsyncApp:
    """The bolt app with every installed feature registered; its client calls
    ``SLACK_API_URL`` (the fake in development and tests)."""
    require_slack(deps.settings)
    slack = deps.settings.slack
    # Slack answers 429 with Retry-After; slack-sdk retries only connection errors unless told:
    # without this a rate-limited views.open or ephemeral answer was a click that did nothing.
    retries = [*async_default_handlers(), ShortRateLimitRetry(max_retry_count=1)]
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url, retry_handlers=retries)
    app = AsyncApp(
        client=client,
        signing_secret=slack.signing_secret,
        logger=logging.getLogger(SLACK_BOLT_LOGGER),
    )
    app.middleware(_once_per_event(RecentIds()))
    for name in FEATURE_MODULES:
        module = _feature(name)
        if module is not None:
            module.register(app, deps)
    return app


class ShortRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 once; for ``SHORT_WAIT_METHODS`` only when its ``Retry-After`` is at most
    ``RATE_LIMIT_WAIT`` seconds. A longer wait (30 s) left a clicker without an answer for that
    long, and outlives a ``trigger_id`` (3 s): the 429 is then the caller's to handle (a click's
    answer goes through its ``response_url``; a form says it did not open). The rest (the App
    Home tab, a form's late answer) have no other way and stay where they are: they wait.
    """

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        if request.url.rsplit("/", 1)[-1] not in SHORT_WAIT_METHODS:
            return True
        waits = [v for k, vs in response.headers.items() if k.lower() == "retry-after" for v in vs]
        try:
            return all(float(wait) <= RATE_LIMIT_WAIT for wait in waits)
        except ValueError:
            return False


class RecentIds:
    """The last ``size`` ids seen, to tell a repeat from a new one."""

    def __init__(self, size: int = EVENTS_REMEMBERED) -> None:
        self._size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def _once_per_event(seen: RecentIds) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Slack delivers an event again (``X-Slack-Retry-Num`` over HTTP, ``retry_attempt`` over
    Socket Mode) when its acknowledgement came late or not at all: the same ``event_id``,
    acknowledged and not handled a second time (a stranger's thread reply was answered twice).
    """

    async def once(
        body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and event_id and not seen.first_time(event_id):
            log.info("slack event delivered again: not handled twice", event_id=event_id)
            return BoltResponse(status=200, body="")
        await next()
        return None

    return once


def _feature(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise  # the module exists but something it imports is missing: a real bug
        log.info("slack feature not installed", module=name)
        return None


def http_application(app: AsyncApp, guard: RequestGuard) -> web.Application:
    """An aiohttp application serving ``POST /slack/events``: verified requests go to bolt,
    others get 401 and a log line that names why (never the body)."""

    async def events(request: web.Request) -> web.StreamResponse:
        # Not ``request.text()``: bytes that are not UTF-8 (anyone can post them) raised before
        # the signature was checked; read leniently, they fail the signature instead.
        body = (await request.read()).decode("utf-8", errors="replace")
        refusal = guard.refusal(body, request.headers)
        if refusal is not None:
            log.warning(
                "slack request refused",
                reason=refusal,
                path=request.path,
                remote=request.remote,
                content_length=len(body),
            )
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    return web_app


async def serve_http(app: AsyncApp, deps: SlackAppDeps, port: int, host: str = "0.0.0.0") -> None:
    runner = web.AppRunner(http_application(app, RequestGuard(deps.settings.slack.signing_secret)))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("slack app listening", mode="http", port=port, path=EVENTS_PATH)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def serve_socket_mode(app: AsyncApp, app_token: str) -> None:
    handler = AsyncSocketModeHandler(app, app_token)
    log.info("slack app connecting", mode="socket")
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def run(deps: SlackAppDeps, config: SlackAppConfig) -> None:
    """Serve until cancelled."""
    app = build_app(deps)
    if config.socket_mode:
        await serve_socket_mode(app, config.app_token)
    else:
        await serve_http(app, deps, config.port)
