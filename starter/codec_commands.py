"""``dealcycle codec keygen`` and ``dealcycle codec-server``.

``keygen`` prints one ``keyid=base64key`` line on stdout (for ``DEALCYCLE_CODEC_KEYS`` or the
keys file) and nothing else there, so it can be appended to a file; the advice goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from dealcycle.codec import KEYS_FILE_VAR, KEYS_VAR, EncryptionCodec, new_key
from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from starter.cli_common import parse_port

SettingsFactory = Callable[[], Settings]


def add_codec_commands(
    commands: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    codec = commands.add_parser("codec", help="payload encryption keys").add_subparsers(
        dest="codec_command", required=True, metavar="ACTION"
    )
    keygen = codec.add_parser(
        "keygen",
        help="print a new payload encryption key line",
        description=(
            f"Print a new AES-256 key as keyid=base64key. Put it first in {KEYS_VAR} (or"
            f" {KEYS_FILE_VAR}) to encrypt with it; keep the old keys after it so older"
            " payloads still decrypt."
        ),
    )
    keygen.add_argument("--id", dest="key_id", help="the key id (default: k<date>-<random>)")
    keygen.set_defaults(func=_keygen)

    server = commands.add_parser(
        "codec-server",
        help="serve /encode and /decode for the Temporal Web UI and CLI",
        description=(
            "Temporal's remote codec endpoint: the Web UI (codec endpoint setting) and"
            " `temporal ... --codec-endpoint URL --codec-auth 'Bearer TOKEN'` decrypt payloads"
            " through it. Needs DEALCYCLE_CODEC_KEYS or DEALCYCLE_CODEC_KEYS_FILE and"
            " DEALCYCLE_CODEC_SERVER_TOKEN."
        ),
    )
    server.add_argument(
        "--host",
        default=None,
        help="address to bind (default DEALCYCLE_CODEC_SERVER_HOST, 127.0.0.1)",
    )
    server.add_argument(
        "--port",
        type=parse_port,
        default=None,
        help="port (default DEALCYCLE_CODEC_SERVER_PORT, 8081)",
    )
    server.add_argument(
        "--no-auth",
        action="store_true",
        help="accept requests without a token (loopback addresses only: a local Web UI)",
    )
    server.set_defaults(func=partial(_serve, settings_factory))


def _keygen(args: argparse.Namespace) -> int:
    key = new_key(args.key_id)
    print(key.line())
    print(
        f"dealcycle: new key {key.key_id}; put it first in {KEYS_VAR} or {KEYS_FILE_VAR}, keep"
        " the old keys after it, and keep this line secret",
        file=sys.stderr,
    )
    return 0


def _serve(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    from dealcycle.codec_server import CodecServerError, serve_codec

    settings = settings_factory()
    configure_logging(settings.log_format, settings.log_level)
    codec_settings = settings.codec
    keys = codec_settings.keys()
    if not keys:
        raise SystemExit(
            f"no payload keys: set {KEYS_VAR} or {KEYS_FILE_VAR} (make one with: dealcycle"
            " codec keygen)"
        )
    try:
        asyncio.run(
            serve_codec(
                # /encode encrypts even where this process's own clients would not (codec off).
                EncryptionCodec(keys, encrypt=True),
                host=args.host if args.host is not None else codec_settings.server_host,
                port=args.port if args.port is not None else codec_settings.server_port,
                token=codec_settings.server_token,
                no_auth=args.no_auth,
                cors_origins=codec_settings.cors_origins,
            )
        )
    except CodecServerError as error:
        raise SystemExit(str(error)) from None
    return 0
