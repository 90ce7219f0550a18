"""A web page that shows the Slack fake as Slack would, for people trying dealcycle locally.

``make run`` starts it on ``http://localhost:8234`` (``DEALCYCLE_SLACK_PAGE_PORT``). It serves
three static files (``slack_page/index.html``, ``.js``, ``.css``: plain JavaScript, no build
step) and passes ``/__fake__/*`` through to the Slack fake's control API, so the page talks to
one origin: it polls ``GET /__fake__/state`` and sends clicks, submissions, thread replies,
slash commands and App Home visits as ``POST /__fake__/click|submit|reply|command|home``, which
the fake delivers to the Slack app as signed Slack requests.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from types import TracebackType
from typing import Self

from dealcycle.fakes._http import CONTROL_PREFIX

logger = logging.getLogger("dealcycle.fakes.slack_page")

DEFAULT_PORT = 8234
PORT_ENV = "DEALCYCLE_SLACK_PAGE_PORT"

STATIC_FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/slack_page.js": ("slack_page.js", "text/javascript; charset=utf-8"),
    "/slack_page.css": ("slack_page.css", "text/css; charset=utf-8"),
}
# A click waits for the app's answer, and the app may call the fake back before answering.
PROXY_TIMEOUT_SECONDS = 30
MAX_BODY_BYTES = 1_000_000


def _static(name: str) -> bytes:
    return resources.files("dealcycle.fakes").joinpath("slack_page", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _PageServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(CONTROL_PREFIX):
            self._proxy(b"")
            return
        static = STATIC_FILES.get(path)
        if static is None:
            self._send(404, b"not found", "text/plain")
            return
        name, content_type = static
        self._send(200, _static(name), content_type)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, b"request too large", "text/plain")
            return
        body = self.rfile.read(length) if length else b""
        if not self.path.startswith(CONTROL_PREFIX):
            self._send(404, b"not found", "text/plain")
            return
        self._proxy(body)

    def _proxy(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.server.fake_url + self.path,
            data=body if self.command == "POST" else None,
            method=self.command,
            headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
        )
        try:
            with urllib.request.urlopen(request, timeout=PROXY_TIMEOUT_SECONDS) as answer:
                status, data = answer.status, answer.read()
                content_type = answer.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read()
            content_type = error.headers.get("Content-Type", "application/json")
        except (urllib.error.URLError, TimeoutError) as error:
            logger.warning("slack page: the Slack fake did not answer %s: %s", self.path, error)
            self._send(502, b'{"ok": false, "error": "slack fake unreachable"}', "application/json")
            return
        self._send(status, data, content_type)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("slack page: " + format, *args)


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake_url: str) -> None:
        self.fake_url = fake_url.rstrip("/")
        super().__init__(address, _Handler)


class SlackPage:
    """The page server; ``fake_url`` is the Slack fake's base URL (``SlackFake.url``)."""

    def __init__(self, fake_url: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        self._fake_url = fake_url
        self._host = host
        self._requested_port = port
        self._server: _PageServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is None:
            self._server = _PageServer((self._host, self._requested_port), self._fake_url)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="slack-page",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Slack page is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        # "localhost" rather than 127.0.0.1: it is what people type and what the banner shows.
        host = "localhost" if self._host in ("127.0.0.1", "localhost") else self._host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def page_port(environ: Mapping[str, str] | None = None) -> int:
    """``DEALCYCLE_SLACK_PAGE_PORT``, else 8234; a bad value is an error, not a silent default."""
    raw = (os.environ if environ is None else environ).get(PORT_ENV, "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ValueError(f"{PORT_ENV} must be a port number (0-65535), not {raw!r}")
    return int(raw)
