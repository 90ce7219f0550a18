"""A TLS front for the Temporal dev server, which has no TLS of its own.

``temporal server start-dev`` (CLI v1.5.1) takes no TLS flags, so the TLS tests put this proxy
in front of it: it terminates TLS with a certificate from a test CA (``trustme``), offers ALPN
``h2`` as gRPC needs, requires a client certificate signed by a second test CA (mTLS), and
passes the decrypted HTTP/2 bytes unchanged to the dev server's plain-text port. What a client
sees is what it would see from a Temporal cluster configured for mTLS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TLSMaterial:
    """PEM files for the server side and for one client (all written under one directory)."""

    server_ca: Path
    """The CA that signed the server's certificate: what clients trust."""
    client_cert: Path
    client_key: Path
    other_ca: Path
    """A CA that signed nothing here: trusting it instead of ``server_ca`` must fail."""
    server_context: ssl.SSLContext


def make_tls_material(directory: Path, server_name: str = "localhost") -> TLSMaterial:
    directory.mkdir(parents=True, exist_ok=True)
    server_ca, client_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    server_cert = server_ca.issue_cert(server_name, "127.0.0.1")
    client = client_ca.issue_cert("dealcycle-worker.example.test")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    client_ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # mTLS: no client certificate, no connection
    context.set_alpn_protocols(["h2"])

    material = TLSMaterial(
        server_ca=directory / "server-ca.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client-key.pem",
        other_ca=directory / "other-ca.pem",
        server_context=context,
    )
    server_ca.cert_pem.write_to_path(str(material.server_ca))
    other_ca.cert_pem.write_to_path(str(material.other_ca))
    client.cert_chain_pems[0].write_to_path(str(material.client_cert))
    client.private_key_pem.write_to_path(str(material.client_key))
    return material


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(upstream: str, context: ssl.SSLContext) -> AsyncIterator[str]:
    """Listen on 127.0.0.1 with TLS (``context``), forward to ``upstream`` (``host:port``)
    in plain text; yields ``127.0.0.1:port``."""
    host, port = upstream.rsplit(":", 1)
    tasks: set[asyncio.Task[None]] = set()

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        for task in (
            asyncio.create_task(_pipe(client_reader, server_writer)),
            asyncio.create_task(_pipe(server_reader, client_writer)),
        ):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    address = server.sockets[0].getsockname()
    try:
        yield f"127.0.0.1:{address[1]}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
