"""Plumbing shared by the fakes: a threaded HTTP(S) server, call recording and scripted faults.

The fakes are spoken to by the *real* client libraries, so they are real HTTP servers on
127.0.0.1. Each request is handled under one lock: the fakes are for tests and demos, and a
strict order of calls keeps what tests observe deterministic.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

logger = logging.getLogger("dealcycle.fakes")

CONTROL_PREFIX = "/__fake__/"
JSON_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class RecordedCall:
    """One request as the fake saw it (control requests are never recorded)."""

    method: str
    path: str
    """URL path, percent-decoded."""
    query: dict[str, str]
    json: Any
    """The decoded body: JSON, or form fields as a dict; secrets are replaced by ``***``."""
    status: int
    time: float
    faulted: bool = False
    """True when a scripted fault answered this call (the fake's state did not change)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordedCall:
        return cls(
            method=data["method"],
            path=data["path"],
            query=dict(data.get("query") or {}),
            json=data.get("json"),
            status=int(data["status"]),
            time=float(data["time"]),
            faulted=bool(data.get("faulted", False)),
        )


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """Percent-decoded path."""
    raw_path: str
    """Path as sent, so segments holding ``/`` (escaped as ``%2F``) can be split correctly."""
    query: dict[str, str]
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def segments(self) -> list[str]:
        """Decoded path segments (empty ones dropped)."""
        return [unquote(part) for part in self.raw_path.split("/") if part]

    def json_body(self) -> Any:
        """The body decoded as JSON; raises ``ValueError`` when it is not JSON."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def form_body(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    merged = {"Content-Type": JSON_TYPE, **(headers or {})}
    return Response(status, json.dumps(payload).encode("utf-8"), merged)


def raw_response(
    status: int, body: bytes | str, content_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Response(status, data, {"Content-Type": content_type, **(headers or {})})


@dataclass
class Fault:
    """A scripted answer for the next ``remaining`` calls matching method and path."""

    method: str
    """HTTP method, or ``*`` for any."""
    path_pattern: str
    """Regular expression searched in the decoded path."""
    status: int
    body: Any
    """``bytes``/``str`` are sent as they are (e.g. an HTML error page); anything else as JSON."""
    remaining: int = 1
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return re.search(self.path_pattern, path) is not None

    def response(self) -> Response:
        if isinstance(self.body, bytes | str):
            content_type = self.headers.get("Content-Type", "text/html; charset=utf-8")
            return raw_response(self.status, self.body, content_type, self.headers)
        return json_response(self.status, self.body, self.headers)

    def to_dict(self) -> dict[str, Any]:
        body = self.body.decode("utf-8", "replace") if isinstance(self.body, bytes) else self.body
        return {
            "method": self.method,
            "path": self.path_pattern,
            "status": self.status,
            "body": body,
            "count": self.remaining,
            "headers": dict(self.headers),
        }


class FaultQueue:
    """First-in first-out: two faults queued for the same calls answer one after the other."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("a fault needs count >= 1")
        re.compile(fault.path_pattern)  # fail at scripting time, not at request time
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps the connection open, so requests.Session does not reconnect per call.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms for
    # the client's delayed ACK on every call.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(split.path),
            raw_path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.fake._dispatch(request)
        except Exception:  # a bug in the fake must show up as a 500, not a hung client
            logger.exception(
                "fake %s failed on %s %s", self.server.fake.name, self.command, split.path
            )
            response = raw_response(500, "fake server error", "text/plain")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, self.server.fake.name, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], fake: FakeServer, tls: ssl.SSLContext | None
    ) -> None:
        self.fake = fake
        self._tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        conn: socket.socket = request
        if self._tls is not None:
            # The TLS handshake runs here, in the connection's own thread, so a slow or
            # distrustful client cannot stall the accept loop.
            conn.settimeout(10)
            conn = self._tls.wrap_socket(conn, server_side=True)
            conn.settimeout(None)
        with self._connections_lock:
            self._connections.add(conn)
        try:
            super().finish_request(conn, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(conn)
            if conn is not request:
                conn.close()

    def close_connections(self) -> None:
        # Idle keep-alive connections would otherwise keep their threads blocked in a read.
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop the connection or refuse our certificate are routine in tests.
        logger.debug(
            "fake %s: connection error from %s", self.fake.name, client_address, exc_info=True
        )


class FakeServer:
    """Lifecycle, recording, faults and the ``/__fake__/`` control endpoints of a fake.

    Subclasses implement ``_serve`` (and may extend ``_control``, ``_record_body``,
    ``_finalize``, ``_fault_from_spec`` and ``_reset_state``).
    """

    name = "fake"
    scheme = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._calls: list[RecordedCall] = []
        self._faults = FaultQueue()

    # lifecycle -----------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext | None:
        return None

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server((self._host, self._requested_port), self, self._tls_context())
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-fake",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        logger.debug("fake %s listening on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self.name} fake is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return self._host

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``https://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self._host}:{self.port}"

    # recording and faults ------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, path_pattern: str, method: str = "*") -> list[RecordedCall]:
        """Recorded calls whose decoded path matches the regular expression."""
        return [
            call
            for call in self.calls
            if (method == "*" or call.method == method.upper())
            and re.search(path_pattern, call.path)
        ]

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        body: Any,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` calls matching ``method`` (or ``*``) and the path regex
        with ``status``/``body`` instead of serving them. Faulted calls change nothing."""
        self._faults.add(Fault(method, path_pattern, status, body, count, dict(headers or {})))

    @property
    def pending_faults(self) -> list[Fault]:
        return self._faults.pending()

    def clear_faults(self) -> None:
        """Drop the faults not used up yet: the service is healthy again."""
        self._faults.clear()

    def reset(self) -> None:
        """Forget calls and pending faults and return to the state right after construction."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._reset_state()

    # hooks ---------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        pass

    def _serve(self, request: Request) -> Response:
        raise NotImplementedError

    def _record_body(self, request: Request) -> Any:
        try:
            return request.json_body()
        except ValueError:
            return request.body.decode("utf-8", "replace")

    def _finalize(self, request: Request, response: Response) -> Response:
        return response

    def _fault_from_spec(self, spec: Mapping[str, Any]) -> Fault:
        """Turn a ``POST /__fake__/faults`` item into a Fault; subclasses add ``kind`` shortcuts."""
        return Fault(
            method=str(spec.get("method", "*")),
            path_pattern=str(spec.get("path", ".*")),
            status=int(spec["status"]),
            body=spec.get("body"),
            remaining=int(spec.get("count", 1)),
            headers={str(k): str(v) for k, v in (spec.get("headers") or {}).items()},
        )

    def _control(self, request: Request, parts: list[str]) -> Response | None:
        """Subclass control endpoints under ``/__fake__/``; ``None`` means unknown."""
        return None

    # dispatch ------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            if request.path.startswith(CONTROL_PREFIX):
                return self._dispatch_control(request)
            fault = self._faults.take(request.method, request.path)
            response = fault.response() if fault else self._serve(request)
            response = self._finalize(request, response)
            self._calls.append(
                RecordedCall(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    json=self._record_body(request),
                    status=response.status,
                    time=time.time(),
                    faulted=fault is not None,
                )
            )
            return response

    def _dispatch_control(self, request: Request) -> Response:
        parts = request.segments[1:]
        if request.method == "GET" and parts == ["calls"]:
            return json_response(200, [call.to_dict() for call in self._calls])
        if request.method == "POST" and parts == ["reset"]:
            self.reset()
            return json_response(200, {"ok": True})
        if parts == ["faults"]:
            if request.method == "GET":
                return json_response(200, [fault.to_dict() for fault in self._faults.pending()])
            if request.method == "POST":
                try:
                    payload = request.json_body()
                    specs = payload if isinstance(payload, list) else [payload]
                    for spec in specs:
                        self._faults.add(self._fault_from_spec(spec))
                except (ValueError, KeyError, TypeError, re.error) as exc:
                    return json_response(400, {"ok": False, "error": f"bad fault spec: {exc}"})
                return json_response(200, {"ok": True, "queued": len(specs)})
        response = self._control(request, parts)
        if response is None:
            return json_response(
                404, {"ok": False, "error": f"unknown control endpoint {request.path}"}
            )
        return response


class ControlClient:
    """Drives a fake running in another process through its ``/__fake__/`` endpoints."""

    def __init__(self, base_url: str, ca_bundle: str | None = None, timeout: float = 10) -> None:
        import requests  # only the cross-process helpers need it

        self._base = base_url.rstrip("/")
        self._session = requests.Session()
        # Passed with each request: REQUESTS_CA_BUNDLE in the environment beats Session.verify.
        self._verify: str | bool = ca_bundle or True
        self._timeout = timeout

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = self._session.request(
            method,
            f"{self._base}{CONTROL_PREFIX}{path}",
            json=payload,
            timeout=self._timeout,
            verify=self._verify,
        )
        response.raise_for_status()
        return response.json()

    def calls(self) -> list[RecordedCall]:
        return [RecordedCall.from_dict(item) for item in self._call("GET", "calls")]

    def reset(self) -> None:
        self._call("POST", "reset")

    def add_faults(self, *specs: Mapping[str, Any]) -> None:
        """Each spec: ``{"method", "path", "status", "body", "count", "headers"}`` or a
        fake-specific ``{"kind": ...}`` shortcut (see each fake's ``_fault_from_spec``)."""
        self._call("POST", "faults", list(specs))

    def get(self, path: str) -> Any:
        """Any other control endpoint, e.g. ``records/Task`` or ``messages``."""
        return self._call("GET", path)

    def post(self, path: str, payload: Any) -> Any:
        return self._call("POST", path, payload)

    def close(self) -> None:
        self._session.close()
