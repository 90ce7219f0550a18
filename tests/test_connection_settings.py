"""Connection settings from envconfig profiles: precedence, and errors that name the variable
or the file (the servers behind them: tests/test_temporal_tls.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from dealcycle.connection import TemporalConnection, connect
from dealcycle.payloads import PayloadConverter, data_converter_for
from dealcycle.settings import Settings, SettingsError


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca = trustme.CA()
    client = ca.issue_cert("worker.example.test")
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client-key.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    return files


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(text)
    return path


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    # HOME points at an empty directory, so no default config file of the machine is read.
    return {"HOME": str(tmp_path / "home"), "DEALCYCLE_STATE_DIR": str(tmp_path), **extra}


CLOUD = """
[profile.default]
address = "localhost:7233"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
api_key = "secret-key"
"""


def test_nothing_configured_is_the_local_dev_server(tmp_path: Path) -> None:
    settings = Settings.from_env(env_for(tmp_path))
    assert (settings.temporal_address, settings.temporal_namespace) == ("localhost:7233", "default")
    assert not settings.temporal_connection.uses_tls
    assert settings.temporal_connection.tls_config() is False


def test_a_cloud_profile_with_an_api_key_uses_tls(tmp_path: Path) -> None:
    config = write_config(tmp_path, CLOUD)
    settings = Settings.from_env(
        env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="cloud")
    )
    assert settings.temporal_address == "ns.acct.tmprl.cloud:7233"
    assert settings.temporal_namespace == "ns.acct"
    assert settings.temporal_connection.api_key == "secret-key"
    assert settings.temporal_connection.tls_config() is True
    assert "secret-key" not in repr(settings.temporal_connection)


def test_precedence_dealcycle_then_temporal_variables_then_the_profile(tmp_path: Path) -> None:
    config = write_config(tmp_path, CLOUD)
    base = env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="cloud")
    sdk = Settings.from_env(
        {**base, "TEMPORAL_ADDRESS": "other:7233", "TEMPORAL_NAMESPACE": "other.acct"}
    )
    assert (sdk.temporal_address, sdk.temporal_namespace) == ("other:7233", "other.acct")
    ours = Settings.from_env(
        {
            **base,
            "TEMPORAL_ADDRESS": "other:7233",
            "DEALCYCLE_TEMPORAL_ADDRESS": "mine:7233",
            "DEALCYCLE_TEMPORAL_NAMESPACE": "mine",
        }
    )
    assert (ours.temporal_address, ours.temporal_namespace) == ("mine:7233", "mine")
    # The profile's API key stays: the overrides move the address, not the credentials.
    assert ours.temporal_connection.api_key == "secret-key"


def test_the_default_profile_is_read_without_temporal_profile(tmp_path: Path) -> None:
    config = write_config(tmp_path, CLOUD.replace("localhost:7233", "default-host:7233"))
    settings = Settings.from_env(env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config)))
    assert settings.temporal_address == "default-host:7233"


def test_the_default_config_file_is_found_in_home(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".config" / "temporalio"
    home.mkdir(parents=True)
    (home / "temporal.toml").write_text(CLOUD)
    settings = Settings.from_env(env_for(tmp_path, TEMPORAL_PROFILE="cloud"))
    assert settings.temporal_namespace == "ns.acct"


def test_an_unknown_profile_names_the_variable_and_the_profiles(tmp_path: Path) -> None:
    config = write_config(tmp_path, CLOUD)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="x"))
    assert str(refused.value) == (
        f"TEMPORAL_PROFILE=x: no such profile in {config} (its profiles: cloud, default)"
    )


def test_a_profile_without_a_config_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^TEMPORAL_PROFILE=cloud names a profile, but"):
        Settings.from_env(env_for(tmp_path, TEMPORAL_PROFILE="cloud"))


def test_a_missing_config_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^TEMPORAL_CONFIG_FILE=/nowhere/t\.toml: no such"):
        Settings.from_env(env_for(tmp_path, TEMPORAL_CONFIG_FILE="/nowhere/t.toml"))


def test_a_broken_config_file_names_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[profile.cloud\n")
    with pytest.raises(SettingsError, match="cannot read the Temporal client configuration"):
        Settings.from_env(env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config)))


def mtls_profile(tmp_path: Path, ca: Path, cert: Path, key: Path) -> Path:
    return write_config(
        tmp_path,
        f"""
[profile.prod]
address = "temporal.example.test:7233"
namespace = "deals"
[profile.prod.tls]
server_name = "temporal.example.test"
server_ca_cert_path = "{ca}"
client_cert_path = "{cert}"
client_key_path = "{key}"
""",
    )


def test_an_mtls_profile_builds_the_tls_config(tmp_path: Path, pki: dict[str, Path]) -> None:
    config = mtls_profile(tmp_path, pki["ca"], pki["cert"], pki["key"])
    settings = Settings.from_env(
        env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="prod")
    )
    tls = settings.temporal_connection.tls_config()
    assert not isinstance(tls, bool)
    assert tls.domain == "temporal.example.test"
    assert tls.server_root_ca_cert == pki["ca"].read_bytes()
    assert tls.client_cert == pki["cert"].read_bytes()
    assert tls.client_private_key == pki["key"].read_bytes()


@pytest.mark.parametrize("missing", ["ca", "cert", "key"])
def test_a_missing_tls_file_of_a_profile_names_the_file_and_profile(
    tmp_path: Path, pki: dict[str, Path], missing: str
) -> None:
    files = {**pki, missing: tmp_path / "gone.pem"}
    config = mtls_profile(tmp_path, files["ca"], files["cert"], files["key"])
    key = {"ca": "server_ca_cert", "cert": "client_cert", "key": "client_key"}[missing]
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="prod")
        )
    assert str(refused.value).startswith(
        f"tls.{key}_path = '{tmp_path / 'gone.pem'}' in profile 'prod' of {config}:"
    )
    assert "file does not exist" in str(refused.value)


def test_a_tls_file_from_a_variable_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env_for(tmp_path, TEMPORAL_TLS_CLIENT_CERT_PATH="/no/cert.pem"))
    assert str(refused.value) == (
        "TEMPORAL_TLS_CLIENT_CERT_PATH=/no/cert.pem: the Temporal TLS client certificate file"
        " does not exist"
    )


def test_a_file_that_is_not_pem_is_refused(tmp_path: Path, pki: dict[str, Path]) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    config = mtls_profile(tmp_path, pki["ca"], pki["cert"], junk)
    with pytest.raises(SettingsError, match=r"client_key_path = .* not a PEM client private key"):
        Settings.from_env(
            env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="prod")
        )


def test_a_certificate_without_its_key_is_refused(tmp_path: Path, pki: dict[str, Path]) -> None:
    with pytest.raises(SettingsError) as refused:
        TemporalConnection.from_env(
            env_for(tmp_path, TEMPORAL_TLS_CLIENT_CERT_PATH=str(pki["cert"]))
        )
    assert str(refused.value) == (
        "the TEMPORAL_TLS_* variables: a TLS client_cert without a client_key"
        " (TEMPORAL_TLS_CLIENT_KEY_PATH): mTLS needs both"
    )


async def test_connect_reaches_the_server_of_a_profile_with_the_shared_converter(
    time_skipping_env: Any, tmp_path: Path
) -> None:
    """Every client (CLI, Slack app, schedules) converts payloads as the worker does."""
    target = time_skipping_env.client.service_client.config.target_host
    config = write_config(
        tmp_path, f'[profile.local]\naddress = "{target}"\nnamespace = "default"\n'
    )
    settings = Settings.from_env(
        env_for(tmp_path, TEMPORAL_CONFIG_FILE=str(config), TEMPORAL_PROFILE="local")
    )
    client = await connect(settings)
    assert client.service_client.config.target_host == target
    assert client.data_converter is data_converter_for(settings)
    assert client.data_converter.payload_converter_class is PayloadConverter
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.capabilities.signal_and_query_header
