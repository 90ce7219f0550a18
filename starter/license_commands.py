"""``dealcycle license keygen`` and ``dealcycle license verify``.

Exit codes of ``verify``: 0 valid, 1 not a valid key (or no public key to check it with),
2 authentic but expired. Neither command ever prints the private key.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dealcycle.licensing import (
    InvalidLicenseKey,
    LicensePayload,
    generate_signing_key,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    verify_license_key,
)
from dealcycle.settings import Settings

SettingsFactory = Callable[[], Settings]
EXIT_EXPIRED = 2


def add_license_commands(
    subparsers: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    """Register ``keygen`` and ``verify`` under ``subparsers``, the ``license`` group's.

    ``starter/cli.py`` makes the ``license`` parser and its sub-command group; each command
    here sets ``func`` to a callable taking the parsed arguments and returning an exit code.
    """
    keygen = subparsers.add_parser(
        "keygen",
        help="create the license signing key pair",
        description=(
            "Create the Ed25519 key pair that signs license keys, at the paths"
            " DEALCYCLE_LICENSE_PRIVATE_KEY_FILE and DEALCYCLE_LICENSE_PUBLIC_KEY_FILE name."
        ),
    )
    keygen.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key pair (license keys signed with it stop verifying)",
    )
    keygen.set_defaults(func=partial(_keygen, settings_factory))

    verify = subparsers.add_parser(
        "verify",
        help="check a license key and show what it grants",
        description="Check a license key's signature and show what it grants.",
        epilog="Exit status: 0 valid, 1 invalid, 2 authentic but expired.",
    )
    verify.add_argument(
        "key",
        metavar="KEY",
        help="the license key, @FILE to read it from FILE, or - to read it from standard input",
    )
    verify.set_defaults(func=partial(_verify, settings_factory))


def _keygen(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    settings = settings_factory()
    private_path = settings.license_private_key_file
    public_path = settings.license_public_key_file
    try:
        public_key = generate_signing_key(private_path, public_path, overwrite=args.force)
    except FileExistsError as exc:
        print(
            f"error: {exc}.\nUse --force to replace it; license keys signed with the old key"
            " will no longer verify.",
            file=sys.stderr,
        )
        return 1
    print("Created a license signing key pair.")
    print(f"  private key: {private_path}  (keep it secret; only the worker needs it)")
    print(f"  public key:  {public_path}")
    print(f"  fingerprint: {public_key_fingerprint(public_key)}")
    return 0


def _read_key_argument(argument: str, stdin: TextIO) -> str:
    if argument == "-":
        return stdin.read()
    if argument.startswith("@"):
        return Path(argument[1:]).read_text(encoding="utf-8")
    return argument


def _verification_key(settings: Settings) -> Ed25519PublicKey:
    """The public key; derived from the private key when only that one is at hand."""
    public_path = settings.license_public_key_file
    if public_path.exists():
        return load_public_key(public_path)
    if settings.license_private_key_file.exists():
        return load_private_key(settings.license_private_key_file).public_key()
    raise FileNotFoundError(
        f"no license public key at {public_path}; set DEALCYCLE_LICENSE_PUBLIC_KEY_FILE"
        " or run `dealcycle license keygen`"
    )


def _describe_remaining(payload: LicensePayload, now: datetime) -> str:
    if payload.is_expired(now):
        return f"EXPIRED ({_span(now - payload.expires)} ago)"
    return f"VALID (expires in {_span(payload.expires - now)})"


def _span(delta: timedelta) -> str:
    # Rounded: a key issued for 365 days reads "365 days" a second later, not "364".
    seconds = delta.total_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{round(seconds / size)} {unit}"
    return f"{round(seconds)} seconds"


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_license(payload: LicensePayload, fingerprint: str, now: datetime) -> str:
    rows = [
        ("Key ID", payload.key_id),
        ("Account", payload.account),
        ("Customer", payload.customer),
        ("Kind", payload.kind),
        ("Seats", str(payload.seats)),
        ("Issued", _time(payload.issued)),
        ("Expires", _time(payload.expires)),
        ("Signed by", fingerprint),
        ("Status", _describe_remaining(payload, now)),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _verify(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    try:
        key = _read_key_argument(args.key, sys.stdin)
    except OSError as exc:
        print(f"error: cannot read the license key: {exc}", file=sys.stderr)
        return 1
    settings = settings_factory()
    try:
        public_key = _verification_key(settings)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        payload = verify_license_key(key, public_key)
    except InvalidLicenseKey as exc:
        print(f"invalid license key: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    print(format_license(payload, public_key_fingerprint(public_key), now))
    return EXIT_EXPIRED if payload.is_expired(now) else 0
