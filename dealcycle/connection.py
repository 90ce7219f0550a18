"""Where the Temporal server is and how to reach it: the SDK's environment configuration.

Every client dealcycle makes (the worker, the CLI, the Slack app, ``make run``, the digest and
intake schedules) connects through ``connect(settings)``. What it connects to comes from
``temporalio.envconfig``, as for the ``temporal`` CLI: a profile (``TEMPORAL_PROFILE``, default
``default``) of a TOML file (``TEMPORAL_CONFIG_FILE``, default
``~/.config/temporalio/temporal.toml``), then the SDK's ``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS*`` and ``TEMPORAL_GRPC_META_*``
variables over it, then dealcycle's own ``DEALCYCLE_TEMPORAL_ADDRESS`` and
``DEALCYCLE_TEMPORAL_NAMESPACE`` over everything (they predate profiles; compose and the demo
set them). Nothing configured means the local dev server, ``localhost:7233``, namespace
``default``, in plain text.

A profile or a TLS file that is missing or unreadable is a ``SettingsError`` naming the variable
or the file and profile it came from, raised when the settings are read, so a worker never
starts half-configured.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from temporalio.client import Client
from temporalio.envconfig import ClientConfig, ClientConfigProfile, ClientConfigTLS, DataSource
from temporalio.service import TLSConfig

from dealcycle.payloads import data_converter_for

if TYPE_CHECKING:
    from dealcycle.settings import Settings

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"

# (TOML key in a profile's [tls] table, the SDK's variable for a path, what it is)
_TLS_FILES = {
    "server_ca_cert": ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "server CA certificate"),
    "client_cert": ("TEMPORAL_TLS_CLIENT_CERT_PATH", "client certificate"),
    "client_key": ("TEMPORAL_TLS_CLIENT_KEY_PATH", "client private key"),
}


def _settings_error(message: str) -> Exception:
    from dealcycle.settings import SettingsError  # settings imports this module

    return SettingsError(message)


def default_config_file(env: Mapping[str, str]) -> Path:
    """Where the SDK (and the ``temporal`` CLI) look when ``TEMPORAL_CONFIG_FILE`` is unset."""
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "temporalio" / "temporal.toml"
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    return base / "temporalio" / "temporal.toml"


@dataclass(frozen=True)
class TemporalConnection:
    """How to reach Temporal, resolved from a profile and the environment."""

    address: str = DEFAULT_ADDRESS
    namespace: str = DEFAULT_NAMESPACE
    api_key: str | None = field(default=None, repr=False)
    tls: ClientConfigTLS | None = None
    """``None``: plain text, unless an API key asks for TLS with the system's CAs."""
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)
    profile: str = "default"
    config_file: Path | None = None
    """The TOML file the profile came from, when there was one."""

    @property
    def uses_tls(self) -> bool:
        if self.tls is not None:
            return self.tls.disabled is not True
        return self.api_key is not None

    def tls_config(self) -> bool | TLSConfig:
        if self.tls is not None:
            return self.tls.to_connect_tls_config()
        return self.api_key is not None

    def describe(self) -> str:
        """For messages: where the settings came from and what security they use."""
        parts = []
        if self.config_file is not None:
            parts.append(f"profile {self.profile!r} of {self.config_file}")
        if self.uses_tls:
            tls = self.tls or ClientConfigTLS()
            mtls = " with client certificate" if tls.client_cert is not None else ""
            parts.append(f"TLS{mtls}")
        else:
            parts.append("plain text, no TLS")
        if self.api_key is not None:
            parts.append("API key")
        return ", ".join(parts)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TemporalConnection:
        env = os.environ if env is None else env
        profile_name = env.get("TEMPORAL_PROFILE") or "default"
        config_file = _config_file(env)
        profile = _load_profile(env, profile_name, config_file)
        tls = profile.tls
        if tls is not None and tls.disabled is not True:
            where = (
                f"profile {profile_name!r} of {config_file}"
                if config_file
                else "the TEMPORAL_TLS_* variables"
            )
            _check_tls_files(tls, env, where)
        return cls(
            address=(env.get("DEALCYCLE_TEMPORAL_ADDRESS") or profile.address or DEFAULT_ADDRESS),
            namespace=(
                env.get("DEALCYCLE_TEMPORAL_NAMESPACE") or profile.namespace or DEFAULT_NAMESPACE
            ),
            api_key=profile.api_key or None,
            tls=tls,
            rpc_metadata=dict(profile.grpc_meta),
            profile=profile_name,
            config_file=config_file,
        )


def _config_file(env: Mapping[str, str]) -> Path | None:
    named = env.get("TEMPORAL_CONFIG_FILE")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise _settings_error(
                f"TEMPORAL_CONFIG_FILE={named}: no such file (a TOML file of Temporal client"
                " profiles; see the README's 'Temporal Cloud')"
            )
        return path
    default = default_config_file(env)
    if default.is_file():
        return default
    if env.get("TEMPORAL_PROFILE"):
        raise _settings_error(
            f"TEMPORAL_PROFILE={env['TEMPORAL_PROFILE']} names a profile, but there is no"
            f" config file: set TEMPORAL_CONFIG_FILE (nothing at {default})"
        )
    return None


def _load_profile(
    env: Mapping[str, str], profile_name: str, config_file: Path | None
) -> ClientConfigProfile:
    # The SDK reads TEMPORAL_ADDRESS and friends from the mapping given; the DEALCYCLE_ ones
    # are applied by the caller, over them.
    try:
        if config_file is not None and profile_name not in _profiles(config_file):
            raise _settings_error(_missing_profile(env, profile_name, config_file))
        return ClientConfigProfile.load(
            profile_name if config_file is not None else None,
            config_source=config_file,
            disable_file=config_file is None,
            override_env_vars=dict(env),
        )
    except Exception as err:
        if type(err).__name__ != "ConfigError":
            raise
        source = str(config_file) if config_file else "the TEMPORAL_* variables"
        raise _settings_error(
            f"cannot read the Temporal client configuration ({source}): {err}"
        ) from None


def _profiles(config_file: Path) -> list[str]:
    return list(ClientConfig.load(config_source=config_file, override_env_vars={}).profiles)


def _missing_profile(env: Mapping[str, str], profile_name: str, config_file: Path) -> str:
    known = ", ".join(sorted(_profiles(config_file))) or "none"
    if env.get("TEMPORAL_PROFILE"):
        return (
            f"TEMPORAL_PROFILE={profile_name}: no such profile in {config_file}"
            f" (its profiles: {known})"
        )
    return (
        f"{config_file} has no 'default' profile (its profiles: {known});"
        " set TEMPORAL_PROFILE to one of them"
    )


def _check_tls_files(tls: ClientConfigTLS, env: Mapping[str, str], where: str) -> None:
    sources: dict[str, DataSource | None] = {
        "server_ca_cert": tls.server_root_ca_cert,
        "client_cert": tls.client_cert,
        "client_key": tls.client_private_key,
    }
    for key, source in sources.items():
        if source is None:
            continue
        variable, what = _TLS_FILES[key]
        if isinstance(source, Path):
            named_by = (
                f"{variable}={source}"
                if env.get(variable) == str(source)
                else f"tls.{key}_path = {str(source)!r} in {where}"
            )
            if not source.is_file():
                raise _settings_error(f"{named_by}: the Temporal TLS {what} file does not exist")
            try:
                data = source.read_bytes()
            except OSError as err:
                raise _settings_error(
                    f"{named_by}: cannot read the Temporal TLS {what}: {err.strerror}"
                ) from None
        else:
            named_by = f"the TLS {key} data in {where}"
            data = source.encode() if isinstance(source, str) else source
        _check_pem(key, data, f"{named_by}: not a PEM {what}")
    if (tls.client_cert is None) != (tls.client_private_key is None):
        present, absent = ("client_cert", "client_key")
        if tls.client_cert is None:
            present, absent = absent, present
        raise _settings_error(
            f"{where}: a TLS {present} without a {absent}"
            f" ({_TLS_FILES[absent][0]}): mTLS needs both"
        )


def _check_pem(key: str, data: bytes, complaint: str) -> None:
    try:
        if key == "client_key":
            serialization.load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError):
        raise _settings_error(complaint) from None


def _hint(connection: TemporalConnection, error: str) -> str:
    """What to check, from the kind of failure."""
    if not connection.uses_tls:
        return (
            "Is `dealcycle server` (or `make run`) running? A server that requires TLS needs a"
            " profile with [tls] (see the README's 'Temporal Cloud')"
        )
    if "UnknownIssuer" in error or "certificate" in error.lower():
        return (
            "The server's certificate is not signed by the CA you trust (tls.server_ca_cert_path"
            " / TEMPORAL_TLS_SERVER_CA_CERT_PATH) or does not name tls.server_name"
        )
    tls = connection.tls or ClientConfigTLS()
    if tls.client_cert is None and connection.api_key is None:
        return (
            "The server closed the TLS connection: it may require a client certificate (mTLS);"
            " set tls.client_cert_path and tls.client_key_path in the profile"
            " (TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH)"
        )
    return "Check the profile's address, TLS files and API key"


class TemporalUnreachable(SystemExit):
    """The server could not be reached or refused the connection; the message says which
    server, through which settings, and why."""


async def connect(settings: Settings) -> Client:
    """The client for ``settings``: the resolved address, namespace, TLS and API key, and the
    data converter every dealcycle client shares (``dealcycle.payloads``)."""
    connection = settings.temporal_connection
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            api_key=connection.api_key,
            tls=connection.tls_config(),
            rpc_metadata=connection.rpc_metadata,
            data_converter=data_converter_for(settings),
        )
    except RuntimeError as err:
        hint = _hint(connection, str(err))
        raise TemporalUnreachable(
            f"cannot reach the Temporal server at {settings.temporal_address}"
            f" (namespace {settings.temporal_namespace}; {connection.describe()};"
            f" DEALCYCLE_TEMPORAL_ADDRESS / TEMPORAL_ADDRESS / TEMPORAL_PROFILE): {err}. {hint}"
        ) from None
