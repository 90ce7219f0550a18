"""``DEALCYCLE_ENV=production``: every credential present, or the worker does not start.

In development (the default) a worker without Salesforce or Slack credentials runs against the
local fakes (``starter.devrun.sandbox_if_unconfigured``), the database defaults to a SQLite file
and the license signing key is made on first start. In production each of those would hide a
mistake: a typo in one variable would leave customers' deals talking to a fake. So the worker
checks here, before anything starts, and stops with a ``SettingsError`` naming every variable
that is missing.

What production needs:

- ``DATABASE_URL``: PostgreSQL (``postgresql+psycopg://…``), not the SQLite default;
- ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET``;
- Salesforce for ``SALESFORCE_AUTH`` (``jwt``, the default: ``SALESFORCE_CLIENT_ID``,
  ``SALESFORCE_USERNAME``, ``SALESFORCE_JWT_KEY_FILE``, ``SALESFORCE_LOGIN_URL``;
  ``client_credentials``: ``SALESFORCE_CLIENT_ID``, ``SALESFORCE_CLIENT_SECRET``,
  ``SALESFORCE_LOGIN_URL``; ``password``: ``SALESFORCE_LOGIN_URL``, ``SALESFORCE_CLIENT_ID``,
  ``SALESFORCE_CLIENT_SECRET``, ``SALESFORCE_USERNAME``, ``SALESFORCE_PASSWORD``);
- the license signing key at ``DEALCYCLE_LICENSE_PRIVATE_KEY_FILE`` (never generated);
- codec keys, ``DEALCYCLE_CODEC_KEYS`` or ``DEALCYCLE_CODEC_KEYS_FILE`` (the payload codec is on
  in production unless ``DEALCYCLE_CODEC=off`` says otherwise).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from dealcycle.settings import Settings

ENVIRONMENTS = ("development", "production")
SALESFORCE_AUTH_MODES: Mapping[str, tuple[str, ...]] = {
    "jwt": (
        "SALESFORCE_CLIENT_ID",
        "SALESFORCE_USERNAME",
        "SALESFORCE_JWT_KEY_FILE",
        "SALESFORCE_LOGIN_URL",
    ),
    "client_credentials": (
        "SALESFORCE_CLIENT_ID",
        "SALESFORCE_CLIENT_SECRET",
        "SALESFORCE_LOGIN_URL",
    ),
    "password": (
        "SALESFORCE_LOGIN_URL",
        "SALESFORCE_CLIENT_ID",
        "SALESFORCE_CLIENT_SECRET",
        "SALESFORCE_USERNAME",
        "SALESFORCE_PASSWORD",
    ),
}
_FILES = ("SALESFORCE_JWT_KEY_FILE", "DEALCYCLE_CODEC_KEYS_FILE")
_CREDENTIALS = (
    "DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DEALCYCLE_CODEC",
    "DEALCYCLE_CODEC_KEYS",
    *_FILES,
    *{name for names in SALESFORCE_AUTH_MODES.values() for name in names},
)


def _error(message: str) -> Exception:
    from dealcycle.settings import SettingsError  # settings imports this module

    return SettingsError(message)


@dataclass(frozen=True)
class DeploymentProfile:
    """``DEALCYCLE_ENV`` and the credential variables production checks, as they were set."""

    environment: str = "development"
    salesforce_auth: str = "jwt"
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The non-empty values among the credential variables (``_CREDENTIALS``)."""

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeploymentProfile:
        env = os.environ if env is None else env
        environment = (env.get("DEALCYCLE_ENV") or "development").strip().lower()
        if environment not in ENVIRONMENTS:
            raise _error(f"DEALCYCLE_ENV={environment!r} must be development or production")
        auth = (env.get("SALESFORCE_AUTH") or "jwt").strip().lower()
        if auth not in SALESFORCE_AUTH_MODES:
            raise _error(
                f"SALESFORCE_AUTH={auth!r} must be one of {', '.join(SALESFORCE_AUTH_MODES)}"
            )
        return cls(
            environment=environment,
            salesforce_auth=auth,
            credentials={name: env[name] for name in _CREDENTIALS if env.get(name)},
        )

    def missing(self, settings: Settings) -> list[str]:
        """Each missing or unusable credential, one line each naming its variable."""
        have = self.credentials
        problems: list[str] = []
        database = have.get("DATABASE_URL", "")
        if not database:
            problems.append("DATABASE_URL is not set (PostgreSQL: postgresql+psycopg://…)")
        elif not _is_postgresql(database):
            scheme = database.split(":", 1)[0]
            problems.append(
                f"DATABASE_URL must be PostgreSQL (postgresql+psycopg://…), not {scheme}"
            )
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
            if name not in have:
                problems.append(f"{name} is not set")
        for name in SALESFORCE_AUTH_MODES[self.salesforce_auth]:
            if name not in have:
                problems.append(
                    f"{name} is not set (needed by SALESFORCE_AUTH={self.salesforce_auth})"
                )
        if "SALESFORCE_JWT_KEY_FILE" in SALESFORCE_AUTH_MODES[self.salesforce_auth]:
            problems += _missing_file(have, "SALESFORCE_JWT_KEY_FILE")
        for name, url in (
            ("SALESFORCE_LOGIN_URL", settings.salesforce.login_url),
            ("SLACK_API_URL", settings.slack.api_url),
        ):
            if url and urlsplit(url).scheme != "https":
                problems.append(
                    f"{name}={url} must be an https:// URL (credentials and tokens would cross"
                    " the network in clear text)"
                )
        key = settings.license_private_key_file
        if not key.is_file():
            problems.append(
                f"DEALCYCLE_LICENSE_PRIVATE_KEY_FILE={key}: no such file (production never makes"
                " a signing key: mount the one whose public key customers' products trust)"
            )
        if have.get("DEALCYCLE_CODEC", "on").lower() != "off":
            if "DEALCYCLE_CODEC_KEYS" not in have and "DEALCYCLE_CODEC_KEYS_FILE" not in have:
                problems.append(
                    "DEALCYCLE_CODEC_KEYS or DEALCYCLE_CODEC_KEYS_FILE is not set (histories are"
                    " encrypted in production)"
                )
            problems += _missing_file(have, "DEALCYCLE_CODEC_KEYS_FILE")
        return problems


def _is_postgresql(url: str) -> bool:
    """``postgresql[+driver]://`` or ``postgres://`` (what hosted services hand out, which the
    engine sends to psycopg: ``dealcycle.db.engine``)."""
    scheme = url.split(":", 1)[0]
    return scheme == "postgres" or scheme == "postgresql" or scheme.startswith("postgresql+")


def _missing_file(have: Mapping[str, str], name: str) -> list[str]:
    if name in have and not Path(have[name]).is_file():
        return [f"{name}={have[name]}: no such file"]
    return []


def require_production_credentials(settings: Settings) -> None:
    """In production, stop with a ``SettingsError`` naming each missing credential; in
    development, do nothing (the fakes stand in for what is missing)."""
    profile = settings.deployment
    if not profile.production:
        return
    problems = profile.missing(settings)
    if problems:
        raise _error(
            "DEALCYCLE_ENV=production and the worker cannot start: "
            + "; ".join(problems)
            + ". Nothing falls back to the local fakes in production."
        )


def refuse_sandbox(settings: Settings) -> None:
    """``--sandbox`` (the local fakes) has no place in production."""
    if settings.deployment.production:
        raise _error("DEALCYCLE_ENV=production: --sandbox (the local fakes) is not allowed")


def refuse_dev_run(settings: Settings) -> None:
    """``dealcycle run`` is the laptop path: its own dev server, the demo's timings (a trial day
    of a minute, reminders every few minutes) and demo trials, which with production's
    credentials would reach real customers' Salesforce records and Slack channels."""
    if settings.deployment.production:
        raise _error(
            "DEALCYCLE_ENV=production: `dealcycle run` (a dev server, demo timings and demo"
            " trials) is for a laptop only; run `dealcycle worker` against your Temporal"
            " cluster (see the README's Production)"
        )
