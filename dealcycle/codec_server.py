"""``dealcycle codec-server``: Temporal's remote codec protocol over HTTP, so the Web UI and the
``temporal`` CLI (``--codec-endpoint``) show plain payloads to someone holding the token.

``POST /encode`` and ``POST /decode`` take and return ``{"payloads": [{"metadata": {k: base64},
"data": base64}]}`` (protobuf JSON of ``temporal.api.common.v1.Payloads``). Browsers at the
allowed origins get CORS headers (the Web UI sends ``X-Namespace`` and, when told to, its access
token and cookies); other origins get none, so a browser refuses them the answer.

Neither payloads nor keys are ever logged: the access log holds method, path and status only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from dealcycle.codec import EncryptionCodec, PayloadDecryptionError

log = logging.getLogger(__name__)

ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
CORS_MAX_AGE_SECONDS = "600"
_ROUTES = ("/encode", "/decode")


class CodecServerError(RuntimeError):
    """The codec server cannot start as configured (the message says what to set)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_codec_app(
    codec: EncryptionCodec, *, token: str | None, cors_origins: Sequence[str]
) -> web.Application:
    """The codec server's routes. ``token=None`` accepts requests without authorization (only
    for a server bound to loopback, which :func:`serve_codec` enforces)."""
    origins = frozenset(cors_origins)
    expected = f"Bearer {token}".encode() if token is not None else None

    def cors(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin in origins:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
            response.headers[hdrs.VARY] = "Origin"
        return response

    async def preflight(request: web.Request) -> web.StreamResponse:
        response = cors(request, web.Response())
        if hdrs.ACCESS_CONTROL_ALLOW_ORIGIN in response.headers:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST, OPTIONS"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOWED_HEADERS
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = CORS_MAX_AGE_SECONDS
        return response

    def failure(request: web.Request, status: int, message: str) -> web.StreamResponse:
        return cors(request, web.json_response({"message": message}, status=status))

    def authorized(request: web.Request) -> bool:
        if expected is None:
            return True
        given = request.headers.get(hdrs.AUTHORIZATION, "").encode()
        return hmac.compare_digest(given, expected)

    def route(
        apply: Callable[[Sequence[Payload]], Awaitable[list[Payload]]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if not authorized(request):
                return failure(request, 401, "missing or wrong Authorization: Bearer token")
            if request.content_type != "application/json":
                return failure(request, 415, "send the payloads as application/json")
            try:
                payloads = json_format.Parse(await request.read(), Payloads())
            except json_format.ParseError:
                return failure(request, 400, 'the body is not {"payloads": [...]}')
            try:
                result = Payloads(payloads=await apply(payloads.payloads))
            except PayloadDecryptionError as error:
                return failure(request, 400, str(error))
            response = web.Response(
                text=json_format.MessageToJson(result), content_type="application/json"
            )
            return cors(request, response)

        return handle

    app = web.Application()
    app.add_routes(
        [
            web.post("/encode", route(codec.encode)),
            web.post("/decode", route(codec.decode)),
            *(web.options(path, preflight) for path in _ROUTES),
        ]
    )
    return app


async def serve_codec(
    codec: EncryptionCodec,
    *,
    host: str,
    port: int,
    token: str,
    no_auth: bool,
    cors_origins: Sequence[str],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set or SIGINT/SIGTERM arrives."""
    if no_auth and not is_loopback(host):
        raise CodecServerError(
            f"--no-auth serves decrypted payloads to anyone who can reach {host}; it is allowed"
            " on a loopback address only (127.0.0.1, ::1, localhost)"
        )
    if not token and not no_auth:
        raise CodecServerError(
            "DEALCYCLE_CODEC_SERVER_TOKEN is not set: the codec server decrypts payloads for"
            " whoever asks, so it needs a token (clients send Authorization: Bearer <token>);"
            " for a server on this machine only, pass --no-auth"
        )
    app = build_codec_app(codec, token=None if no_auth else token, cors_origins=cors_origins)
    runner = web.AppRunner(app, access_log_format='%a "%r" %s')
    await runner.setup()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise CodecServerError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        log.info(
            "codec server listening on http://%s:%d (current key %s, origins %s, auth %s)",
            host,
            port,
            codec.current_key_id,
            ", ".join(cors_origins) or "none",
            "off" if no_auth else "bearer token",
        )
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(sig)
        await runner.cleanup()
