"""Socket Mode for the Slack fake: ``apps.connections.open`` and the WebSocket it hands out.

As in Slack, the app calls ``apps.connections.open`` with its ``xapp-`` token and gets a URL with
a one-time ticket; on connecting it is sent ``hello``, then envelopes
``{envelope_id, type, payload, accepts_response_payload}``, each of which it acks with
``{envelope_id, payload?}``. The ack's payload is the app's answer (a view submission's
``response_action``, a slash command's reply), as the body of an HTTP response would be.

The WebSocket server is aiohttp on its own port and event loop, in a thread: the HTTP fake is
threaded and synchronous, and a delivery waits here for the ack without holding the fake's lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

logger = logging.getLogger("dealcycle.fakes")

ACK_TIMEOUT_SECONDS = 10.0
"""Slack waits 3 s for an ack; a loaded test machine gets more."""


class NoSocketApp(RuntimeError):
    """No app is connected over Socket Mode."""


class AckTimeout(RuntimeError):
    """The connected app did not ack the envelope in time."""


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: Any
    """The ack's ``payload`` (``None`` when the app acked without one)."""


class SocketModeServer:
    """The WebSocket end of Socket Mode (one per Slack fake, started with it)."""

    def __init__(self, host: str, app_id: str) -> None:
        self._host = host
        self._app_id = app_id
        self._tickets: set[str] = set()
        self._connections: list[web.WebSocketResponse] = []
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._guard = threading.Lock()

    # lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start(), which raises it
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="slack-socket-mode", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            self._thread = None
            raise failure[0]

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        listening = socket.create_server((self._host, 0))
        self._port = int(listening.getsockname()[1])
        await web.SockSite(self._runner, listening).start()

    async def _shutdown(self) -> None:
        for connection in list(self._connections):
            await connection.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._loop = self._thread = None

    # tickets -----------------------------------------------------------------------------------

    def issue_url(self) -> str:
        """A one-time WebSocket URL, as ``apps.connections.open`` answers."""
        if self._thread is None:
            self.start()
        ticket = secrets.token_hex(16)
        with self._guard:
            self._tickets.add(ticket)
        return f"ws://{self._host}:{self._port}/link/?ticket={ticket}&app_id={self._app_id}"

    @property
    def connected(self) -> int:
        """How many app connections are open."""
        with self._guard:
            return sum(1 for c in self._connections if not c.closed)

    # the WebSocket -----------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._guard:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            # Slack refuses a used or unknown ticket before the upgrade.
            return web.Response(status=401, text="invalid ticket")
        connection = web.WebSocketResponse(autoping=True)
        await connection.prepare(request)
        with self._guard:
            self._connections.append(connection)
        await connection.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": self.connected,
                    "debug_info": {"host": "dealcycle-fake", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": self._app_id},
                }
            )
        )
        try:
            async for message in connection:
                if message.type == WSMsgType.TEXT:
                    self._take_ack(message.data)
        finally:
            with self._guard:
                self._connections.remove(connection)
        return connection

    def _take_ack(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            logger.warning("socket mode: the app sent something that is not JSON")
            return
        envelope_id = ack.get("envelope_id") if isinstance(ack, dict) else None
        future = self._pending.pop(str(envelope_id), None)
        if future is not None and not future.done():
            future.set_result(Ack(str(envelope_id), ack.get("payload")))

    # delivery ----------------------------------------------------------------------------------

    def deliver(
        self,
        envelope_type: str,
        payload: Mapping[str, Any],
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        timeout: float = ACK_TIMEOUT_SECONDS,
    ) -> Ack:
        """Send one envelope to the newest connection and wait for its ack.

        Raises ``NoSocketApp`` when no app is connected, ``AckTimeout`` without an ack."""
        loop = self._loop
        if loop is None:
            raise NoSocketApp("no app is connected over Socket Mode")
        envelope = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "type": envelope_type,
            "payload": dict(payload),
            "accepts_response_payload": envelope_type != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        future = asyncio.run_coroutine_threadsafe(self._send(envelope, timeout), loop)
        return future.result(timeout + 5)

    async def _send(self, envelope: dict[str, Any], ack_within: float) -> Ack:
        with self._guard:
            open_connections = [c for c in self._connections if not c.closed]
        if not open_connections:
            raise NoSocketApp("no app is connected over Socket Mode")
        envelope_id = str(envelope["envelope_id"])
        waiting: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = waiting
        await open_connections[-1].send_str(json.dumps(envelope))
        try:
            return await asyncio.wait_for(waiting, ack_within)
        except TimeoutError:
            raise AckTimeout(f"no ack for envelope {envelope_id} within {ack_within} s") from None
        finally:
            self._pending.pop(envelope_id, None)
