"""``dealcycle salesforce keygen`` and ``dealcycle salesforce login``: setting up the connected
app's JWT bearer flow and checking that the worker's settings log in.

Neither prints a key, a secret or a token. The Salesforce client is imported by ``login``
alone, so the CLI's other commands start without it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from dealcycle.salesforce_keys import generate_connected_app_key
from dealcycle.settings import Settings
from starter.trials import CommandError

SettingsFactory = Callable[[], Settings]
DEFAULT_KEY_NAME = "salesforce-jwt-key.pem"


def add_salesforce_commands(
    commands: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    salesforce = commands.add_parser(
        "salesforce", help="the Salesforce connected app: its JWT key, a login check"
    ).add_subparsers(dest="salesforce_command", required=True, metavar="ACTION")
    keygen = salesforce.add_parser(
        "keygen",
        help="make the JWT flow's private key and the certificate to upload to the connected app",
        description=(
            "Write an RSA private key (mode 0600; point SALESFORCE_JWT_KEY_FILE at it) and a"
            " self-signed certificate to upload to the connected app (Use digital signatures)."
        ),
    )
    keygen.add_argument(
        "--key",
        type=Path,
        help=f"where the key goes (default: $SALESFORCE_JWT_KEY_FILE, else STATE_DIR/"
        f"{DEFAULT_KEY_NAME})",
    )
    keygen.add_argument(
        "--cert", type=Path, help="where the certificate goes (default: the key's path, .crt)"
    )
    keygen.add_argument("--days", type=int, default=730, help="certificate lifetime (730)")
    keygen.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key (the connected app stops accepting the old one)",
    )
    keygen.set_defaults(func=partial(_keygen, settings_factory))
    login = salesforce.add_parser(
        "login",
        help="log in as the worker would (SALESFORCE_AUTH) and say how it went",
        description=(
            "Log in with the SALESFORCE_* settings (or the sandbox a running `dealcycle run`"
            " advertises) and print the flow, user and instance; a refusal names the setting"
            " to fix."
        ),
    )
    login.set_defaults(func=partial(_login, settings_factory))


def _keygen(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    settings = settings_factory()
    if args.days < 1:
        raise CommandError(f"--days {args.days} must be at least 1")
    key = args.key or Path(
        settings.salesforce.jwt_key_file or settings.state_dir / DEFAULT_KEY_NAME
    )
    cert = args.cert or key.with_suffix(".crt")
    try:
        certificate = generate_connected_app_key(
            key, cert, lifetime=timedelta(days=args.days), overwrite=args.force
        )
    except FileExistsError:
        raise CommandError(
            f"{key} exists; use --force to replace it (the connected app then needs the new"
            " certificate)"
        ) from None
    except OSError as exc:
        raise CommandError(f"cannot write the key or certificate: {exc}") from None
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":")
    print(f"private key:  {key}  (mode 0600; set SALESFORCE_JWT_KEY_FILE={key})")
    print(f"certificate:  {cert}  (upload it to the connected app: Use digital signatures)")
    print(f"SHA-256:      {fingerprint}")
    print(f"valid until:  {certificate.not_valid_after_utc:%Y-%m-%d}")
    return 0


def _login(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    from activities.salesforce import SalesforceConnector
    from activities.salesforce_auth import SalesforceLoginError
    from starter.intake import salesforce_settings_for_cli

    settings = salesforce_settings_for_cli(settings_factory()).salesforce
    connector = SalesforceConnector(settings)
    try:
        client = connector.client()
    except SalesforceLoginError as exc:
        raise CommandError(f"Salesforce login failed: {exc}") from None
    finally:
        connector.close()
    who = settings.username if settings.auth != "client_credentials" else "the run-as user"
    print(
        f"logged in with {settings.auth} as {who} to https://{client.sf_instance}"
        f" (API {settings.api_version})"
    )
    return 0
