"""Encrypted payloads: every payload a client or worker writes is compressed, then sealed with
AES-GCM, so a history holds no customer text (account names, plans, risks, reasons, notes) for
someone who can read the Temporal server or its Web UI but has no key.

Each encrypted payload names its key id; payloads are written with the first (current) key and
read with any key known, so a new key goes first and old ones stay until their histories are
gone. Payloads that are not encrypted (histories written before the codec was on) pass through
unchanged. The key id is bound to the ciphertext as associated data, so a payload relabelled
with another key id fails like a tampered one.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
"""The ``encoding`` metadata of an encrypted payload (as Temporal's samples name it)."""
KEY_ID_METADATA = "encryption-key-id"
COMPRESSION_METADATA = "encryption-compression"
COMPRESSION = b"zlib"
KEY_BYTES = 32
NONCE_BYTES = 12

ENABLED_VAR = "DEALCYCLE_CODEC"
KEYS_VAR = "DEALCYCLE_CODEC_KEYS"
KEYS_FILE_VAR = "DEALCYCLE_CODEC_KEYS_FILE"
SERVER_PORT_VAR = "DEALCYCLE_CODEC_SERVER_PORT"
SERVER_HOST_VAR = "DEALCYCLE_CODEC_SERVER_HOST"
SERVER_TOKEN_VAR = "DEALCYCLE_CODEC_SERVER_TOKEN"
CORS_ORIGINS_VAR = "DEALCYCLE_CODEC_CORS_ORIGINS"

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PayloadDecryptionError(ValueError):
    """An encrypted payload that cannot be read: unknown key id, or altered since it was sealed.

    The message names the key id, never the payload or the key.
    """


@dataclass(frozen=True)
class CodecKey:
    key_id: str
    secret: bytes = field(repr=False)

    def line(self) -> str:
        """``keyid=base64`` as ``DEALCYCLE_CODEC_KEYS`` and the keys file take it."""
        return f"{self.key_id}={base64.b64encode(self.secret).decode('ascii')}"


def new_key(key_id: str | None = None) -> CodecKey:
    """A fresh random 256-bit key; the id defaults to ``k<date>-<random>`` so ids never repeat."""
    chosen = key_id or f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    _check_key_id(chosen, "the key id")
    return CodecKey(chosen, AESGCM.generate_key(bit_length=256))


def _settings_error(message: str) -> Exception:
    # dealcycle.settings imports this module for its Settings field, so its error is looked up
    # when raised rather than imported at the top.
    from dealcycle.settings import SettingsError

    return SettingsError(message)


def _check_key_id(key_id: str, where: str) -> None:
    if not _KEY_ID.match(key_id):
        raise _settings_error(
            f"{where}: key id {key_id!r} must be 1 to 64 letters, digits, '.', '_' or '-'"
        )


def parse_keys(entries: Iterable[str], source: str) -> tuple[CodecKey, ...]:
    """Keys from ``keyid=base64`` entries; ``source`` names where they came from in errors
    (which never quote the key itself)."""
    keys: list[CodecKey] = []
    for number, entry in enumerate(entries, start=1):
        key_id, separator, encoded = entry.partition("=")
        key_id = key_id.strip()
        where = f"{source} entry {number}"
        if not separator or not encoded.strip():
            raise _settings_error(
                f"{where} is not keyid=base64key (make one: dealcycle codec keygen)"
            )
        _check_key_id(key_id, where)
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise _settings_error(f"{where} ({key_id}): the key is not base64") from None
        if len(secret) != KEY_BYTES:
            raise _settings_error(
                f"{where} ({key_id}): the key is {len(secret)} bytes; AES-256 needs {KEY_BYTES}"
            )
        if any(known.key_id == key_id for known in keys):
            raise _settings_error(f"{where}: key id {key_id!r} appears twice")
        keys.append(CodecKey(key_id, secret))
    return tuple(keys)


def read_keys_file(file_name: str) -> tuple[CodecKey, ...]:
    """The keys in ``file_name``: one ``keyid=base64key`` a line, ``#`` comments, current first."""
    try:
        text = Path(file_name).expanduser().read_text(encoding="utf-8")
    except OSError as error:
        raise _settings_error(
            f"{KEYS_FILE_VAR}={file_name!r} cannot be read: {error.strerror}"
        ) from None
    lines = [line.strip() for line in text.splitlines()]
    keys = parse_keys([line for line in lines if line and not line.startswith("#")], KEYS_FILE_VAR)
    if not keys:
        raise _settings_error(f"{KEYS_FILE_VAR}={file_name!r} holds no keyid=base64key line")
    return keys


def _enabled(env: Mapping[str, str]) -> bool:
    raw = (env.get(ENABLED_VAR) or "").strip().lower()
    if raw == "":
        return (env.get("DEALCYCLE_ENV") or "").strip().lower() == "production"
    if raw in ("on", "off"):
        return raw == "on"
    raise _settings_error(f"{ENABLED_VAR}={raw!r} must be on or off")


def _port(env: Mapping[str, str]) -> int:
    raw = env.get(SERVER_PORT_VAR) or ""
    if not raw:
        return 8081
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise _settings_error(f"{SERVER_PORT_VAR}={raw!r} is not a port (1 to 65535)")
    return int(raw)


@dataclass(frozen=True)
class CodecSettings:
    """``DEALCYCLE_CODEC*``: whether payloads are encrypted, with which keys, and the codec
    server's port, token and allowed Web UI origins.

    The keys file is read when a client needs the keys (``keys()``), not when settings are read:
    in production a missing file is then named with every other missing credential
    (``dealcycle.production``), and a file that is not there yet (a secret mounted later, a
    compose file checked elsewhere) stops nothing that does not encrypt.
    """

    enabled: bool = False
    enabled_by: str = ""
    """What turned it on: ``DEALCYCLE_CODEC=on`` or ``DEALCYCLE_ENV=production``."""
    inline_keys: tuple[CodecKey, ...] = field(default=(), repr=False)
    keys_file: str = ""
    server_port: int = 8081
    server_host: str = "127.0.0.1"
    """Where ``dealcycle codec-server`` binds (compose: 0.0.0.0 inside its container)."""
    server_token: str = field(default="", repr=False)
    cors_origins: tuple[str, ...] = ("http://localhost:8233", "http://127.0.0.1:8233")
    """The dev server's Web UI under both names: the CLI's links say localhost, and
    ``dealcycle server`` and ``make run`` print 127.0.0.1 (a browser sends either origin)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CodecSettings:
        enabled = _enabled(env)
        inline = env.get(KEYS_VAR) or ""
        keys_file = env.get(KEYS_FILE_VAR) or ""
        if inline and keys_file:
            raise _settings_error(f"set one of {KEYS_VAR} and {KEYS_FILE_VAR}, not both")
        origins = env.get(CORS_ORIGINS_VAR)
        return cls(
            enabled=enabled,
            enabled_by=(
                ""
                if not enabled
                else f"{ENABLED_VAR}=on"
                if env.get(ENABLED_VAR)
                else "DEALCYCLE_ENV=production"
            ),
            inline_keys=parse_keys(
                filter(None, (part.strip() for part in inline.split(","))), KEYS_VAR
            ),
            keys_file=keys_file,
            server_port=_port(env),
            server_host=env.get(SERVER_HOST_VAR) or cls.server_host,
            server_token=env.get(SERVER_TOKEN_VAR) or "",
            cors_origins=(
                tuple(filter(None, (o.strip().rstrip("/") for o in origins.split(","))))
                if origins is not None
                else cls.cors_origins
            ),
        )

    def keys(self) -> tuple[CodecKey, ...]:
        """The keys, current first (the keys file is read now)."""
        return read_keys_file(self.keys_file) if self.keys_file else self.inline_keys

    def payload_codec(self) -> EncryptionCodec | None:
        """The codec clients use: encrypting when enabled, and reading encrypted payloads
        whenever keys are known (so turning the codec off leaves earlier histories readable).
        Enabled without a key is a ``SettingsError`` naming the variables."""
        keys = self.keys()
        if self.enabled and not keys:
            raise _settings_error(
                f"{ENABLED_VAR} is on ({self.enabled_by}) but no key is set: set {KEYS_VAR} or"
                f" {KEYS_FILE_VAR} (make a key with: dealcycle codec keygen)"
            )
        if not keys:
            return None
        return EncryptionCodec(keys, encrypt=self.enabled)


class EncryptionCodec(PayloadCodec):
    """zlib, then AES-256-GCM with a random 96-bit nonce; the sealed plaintext is the whole
    original payload (metadata and data), so its encoding is hidden too."""

    def __init__(self, keys: Sequence[CodecKey], *, encrypt: bool = True) -> None:
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._current = keys[0].key_id
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in keys}
        self._encrypt = encrypt

    @property
    def current_key_id(self) -> str:
        return self._current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not self._encrypt:
            return list(payloads)
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        key_id = self._current.encode()
        nonce = os.urandom(NONCE_BYTES)
        plaintext = zlib.compress(payload.SerializeToString())
        sealed = self._ciphers[self._current].encrypt(nonce, plaintext, key_id)
        return Payload(
            metadata={
                "encoding": ENCODING,
                KEY_ID_METADATA: key_id,
                COMPRESSION_METADATA: COMPRESSION,
            },
            data=nonce + sealed,
        )

    def open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"payload encrypted with key id {key_id!r}, which is not among the keys given"
                f" ({', '.join(self._ciphers)}); add it to {KEYS_VAR} or {KEYS_FILE_VAR}"
            )
        compression = payload.metadata.get(COMPRESSION_METADATA, COMPRESSION)
        if compression != COMPRESSION:
            raise PayloadDecryptionError(
                f"payload with key id {key_id!r} names compression {compression!r}; only zlib"
                " is known"
            )
        try:
            plaintext = cipher.decrypt(
                payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode()
            )
            return Payload.FromString(zlib.decompress(plaintext))
        except (InvalidTag, ValueError, zlib.error, DecodeError):
            raise PayloadDecryptionError(
                f"payload with key id {key_id!r} does not decrypt: it was altered, or the key"
                " under that id is not the one it was sealed with"
            ) from None
