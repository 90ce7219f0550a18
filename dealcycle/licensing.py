"""The license signer: Ed25519 signatures over a canonical JSON payload.

A license key reads ``DC1.<payload>.<signature>``: both parts are unpadded base64url, the
payload is canonical JSON (sorted keys, no spaces, UTF-8) and the signature is the Ed25519
signature of exactly those payload bytes. ``DC1`` names this format; a change to the payload
fields needs a new prefix, which is why unknown fields are rejected.

The private key lives only in a PEM file and in :class:`LicenseSigner`; nothing here logs it,
prints it or puts it into an exception message, and the key string a signer produces is kept
in the database, never in workflow history.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_PREFIX = "DC1"
LICENSE_KINDS = ("trial", "full")
_SIGNATURE_BYTES = 64
# Far above any real key (a few hundred characters); bounds the work done on pasted garbage.
_MAX_KEY_CHARS = 8192
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_FIELDS = ("key_id", "account", "customer", "kind", "seats", "issued", "expires")


class InvalidLicenseKey(ValueError):
    """A license key that is malformed or not signed by our key; the message says which."""


@dataclass(frozen=True)
class LicensePayload:
    """What a license key asserts. Datetimes are aware and normalized to UTC."""

    key_id: str
    account: str
    customer: str
    kind: str
    """``trial`` or ``full``."""
    seats: int
    issued: datetime
    expires: datetime

    def __post_init__(self) -> None:
        for name in ("key_id", "account", "customer", "kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if self.kind not in LICENSE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(LICENSE_KINDS)}, not {self.kind!r}")
        # bool is an int subclass; True seats is a bug, not one seat.
        if isinstance(self.seats, bool) or not isinstance(self.seats, int) or self.seats < 1:
            raise ValueError(f"seats must be a whole number of at least 1, not {self.seats!r}")
        for name in ("issued", "expires"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"{name} must be a timezone-aware datetime")
            # One representation per instant keeps the signed JSON canonical.
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.expires <= self.issued:
            raise ValueError("expires must be after issued")

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the license has run out at ``now`` (default: the current time)."""
        now = datetime.now(UTC) if now is None else now
        if now.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        return now >= self.expires

    def to_json_bytes(self) -> bytes:
        """The canonical JSON the signature covers."""
        document: dict[str, Any] = {
            "key_id": self.key_id,
            "account": self.account,
            "customer": self.customer,
            "kind": self.kind,
            "seats": self.seats,
            "issued": _format_time(self.issued),
            "expires": _format_time(self.expires),
        }
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> LicensePayload:
        """Parse a payload; every problem is an :class:`InvalidLicenseKey` naming it."""
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InvalidLicenseKey("license key payload is not valid JSON") from None
        if not isinstance(document, dict):
            raise InvalidLicenseKey("license key payload is not a JSON object")
        missing = [name for name in _FIELDS if name not in document]
        if missing:
            raise InvalidLicenseKey(f"license key payload is missing fields: {', '.join(missing)}")
        unexpected = sorted(set(document) - set(_FIELDS))
        if unexpected:
            raise InvalidLicenseKey(
                f"license key payload has unexpected fields: {', '.join(unexpected)}"
            )
        issued = _parse_time("issued", document["issued"])
        expires = _parse_time("expires", document["expires"])
        try:
            return cls(
                key_id=document["key_id"],
                account=document["account"],
                customer=document["customer"],
                kind=document["kind"],
                seats=document["seats"],
                issued=issued,
                expires=expires,
            )
        except ValueError as exc:
            raise InvalidLicenseKey(f"license key payload is invalid: {exc}") from None


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(name: str, raw: object) -> datetime:
    if not isinstance(raw, str):
        raise InvalidLicenseKey(f"license key payload field {name} is not a timestamp string")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidLicenseKey(
            f"license key payload field {name} is not an ISO 8601 timestamp"
        ) from None
    if value.utcoffset() is None:
        raise InvalidLicenseKey(f"license key payload field {name} has no time zone")
    return value


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(part: str, what: str) -> bytes:
    # urlsafe_b64decode silently skips characters outside the alphabet, so check them first.
    if not _BASE64URL.match(part) or len(part) % 4 == 1:
        raise InvalidLicenseKey(f"license key {what} is not valid base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidLicenseKey(f"license key {what} is not valid base64url") from None


class LicenseSigner:
    """Signs license payloads. Holds the private key; its repr never shows it.

    Made ``from_file``, it reads the key file again when the file changed (``dealcycle license
    keygen --force`` while the worker runs): a key signed with the replaced key would not
    verify with the new public key."""

    __slots__ = ("_path", "_private_key", "_stamp")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("LicenseSigner needs an Ed25519 private key")
        self._private_key = private_key
        self._path: Path | None = None
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def from_file(cls, path: Path | str) -> LicenseSigner:
        signer = cls(load_private_key(path))
        signer._path = Path(path)
        signer._stamp = _file_stamp(signer._path)
        return signer

    def _current_key(self) -> Ed25519PrivateKey:
        if self._path is not None:
            stamp = _file_stamp(self._path)
            if stamp != self._stamp:
                self._private_key = load_private_key(self._path)
                self._stamp = stamp
        return self._private_key

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._current_key().public_key()

    @property
    def fingerprint(self) -> str:
        return public_key_fingerprint(self.public_key)

    def sign(self, payload: LicensePayload) -> str:
        raw = payload.to_json_bytes()
        signature = self._current_key().sign(raw)
        return f"{KEY_PREFIX}.{_b64encode(raw)}.{_b64encode(signature)}"

    def __repr__(self) -> str:
        return f"LicenseSigner(fingerprint={self.fingerprint!r})"


def verify_license_key(key: str, public_key: Ed25519PublicKey) -> LicensePayload:
    """The payload of ``key`` if ``public_key`` signed it; otherwise :class:`InvalidLicenseKey`.

    Checks the format and the signature only: an expired key is still authentic, so ask
    :meth:`LicensePayload.is_expired` whether it is still in force. The payload is parsed
    before the signature is checked so that a damaged key gets the more specific message.
    """
    if not isinstance(key, str):
        raise InvalidLicenseKey("a license key must be a string")
    key = key.strip()
    if not key:
        raise InvalidLicenseKey("the license key is empty")
    if len(key) > _MAX_KEY_CHARS:
        raise InvalidLicenseKey(f"the license key is too long (over {_MAX_KEY_CHARS} characters)")
    parts = key.split(".")
    if parts[0] != KEY_PREFIX:
        raise InvalidLicenseKey(f"not a dealcycle license key: it must start with {KEY_PREFIX}.")
    if len(parts) != 3:
        raise InvalidLicenseKey(
            f"malformed license key: expected {KEY_PREFIX}.<payload>.<signature>,"
            f" found {len(parts)} dot-separated parts"
        )
    raw_payload = _b64decode(parts[1], "payload")
    signature = _b64decode(parts[2], "signature")
    if len(signature) != _SIGNATURE_BYTES:
        raise InvalidLicenseKey(
            f"license key signature has {len(signature)} bytes, not {_SIGNATURE_BYTES}"
        )
    payload = LicensePayload.from_json_bytes(raw_payload)
    try:
        public_key.verify(signature, raw_payload)
    except InvalidSignature:
        raise InvalidLicenseKey("license key signature does not match the signing key") from None
    return payload


def public_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:<unpadded base64>`` of the raw public key, in the style of OpenSSH."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).digest()
    return "SHA256:" + base64.b64encode(digest).rstrip(b"=").decode("ascii")


def _private_pem(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write_temp(directory: Path, data: bytes, mode: int) -> Path:
    """A complete file next to its destination, so the final step is one atomic link/rename."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".pem")
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def _install(data: bytes, path: Path, mode: int, *, overwrite: bool) -> None:
    """Write ``path`` so that no reader ever sees it half-written.

    Without ``overwrite`` a hard link is the final step: it fails if ``path`` exists even when
    another process creates it at the same moment, where an exists-check would race.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = _write_temp(path.parent, data, mode)
    try:
        if overwrite:
            os.replace(temp, path)
        else:
            os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def generate_signing_key(
    private_path: Path | str, public_path: Path | str, *, overwrite: bool = False
) -> Ed25519PublicKey:
    """Create a new key pair as PEM files (private mode 0600) and return the public key.

    Refuses (``FileExistsError``) when either file exists unless ``overwrite``: replacing the
    key invalidates every license key signed with the old one.
    """
    private_path, public_path = Path(private_path), Path(public_path)
    if not overwrite:
        for path in (private_path, public_path):
            if path.exists():
                raise FileExistsError(
                    f"{path} already exists; refusing to replace the license signing key"
                )
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    _install(_private_pem(private_key), private_path, 0o600, overwrite=overwrite)
    _install(_public_pem(public_key), public_path, 0o644, overwrite=True)
    return public_key


def _file_stamp(path: Path) -> tuple[int, int, int]:
    """What changes when the file is replaced or rewritten (keygen writes a new file)."""
    status = path.stat()
    return status.st_ino, status.st_mtime_ns, status.st_size


def load_private_key(path: Path | str) -> Ed25519PrivateKey:
    path = Path(path)
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # Not chained: the parser's error is about the file's bytes, which are the secret.
        raise ValueError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    path = Path(path)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError):
        raise ValueError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def ensure_signing_key(private_path: Path | str, public_path: Path | str) -> Ed25519PublicKey:
    """The public key of the signing key pair, creating a development pair when there is none.

    Safe when the worker and the CLI call it at the same moment: one creates the pair, the
    other loads it. A missing public file is rewritten from the private key, which is the
    authority; a public file that belongs to another key is an error, not silently replaced.
    """
    private_path, public_path = Path(private_path), Path(public_path)
    if not private_path.exists():
        if public_path.exists():
            raise FileExistsError(
                f"{public_path} exists but its private key {private_path} does not;"
                " refusing to create a new key pair that would not match it"
            )
        with contextlib.suppress(FileExistsError):  # another process created it first
            private_key = Ed25519PrivateKey.generate()
            _install(_private_pem(private_key), private_path, 0o600, overwrite=False)
    public_key = load_private_key(private_path).public_key()
    if public_path.exists():
        on_file = load_public_key(public_path)
        if public_key_fingerprint(on_file) != public_key_fingerprint(public_key):
            raise ValueError(
                f"{public_path} does not belong to the private key {private_path};"
                " regenerate the pair or fix the paths"
            )
    else:
        _install(_public_pem(public_key), public_path, 0o644, overwrite=True)
    return public_key
