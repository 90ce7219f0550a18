"""The worker and the CLI reach a Temporal server that requires mTLS, through an envconfig
profile in a TOML file (``TEMPORAL_CONFIG_FILE`` + ``TEMPORAL_PROFILE``).

Honest note on the server: ``temporal server start-dev`` (CLI v1.5.1) has no TLS flags, so the
TLS here is terminated by a small proxy in front of the real dev server
(``tests/support/tls_proxy.py``): certificates from a CA made in the test with ``trustme``,
ALPN ``h2``, a client certificate required. Everything on the client side is the real path:
``Settings.from_env`` reads the profile, ``dealcycle.connection.connect`` builds the TLS
config, the worker is ``worker.run_worker`` and the CLI is the ``dealcycle`` console script in
a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dealcycle.connection import TemporalUnreachable, connect
from dealcycle.settings import Settings
from tests.support.dev_temporal import headless_dev_server
from tests.support.tls_proxy import TLSMaterial, make_tls_material, tls_proxy

DEALCYCLE = Path(sys.executable).with_name("dealcycle")


@dataclass(frozen=True)
class SecuredServer:
    address: str
    """The TLS proxy's ``host:port``; the dev server's own port is never given to a client."""
    tls: TLSMaterial
    directory: Path

    def profile_file(self, name: str, **tls: str) -> Path:
        """A TOML file with profile ``secure`` (namespace default) using ``tls`` paths."""
        lines = [
            "[profile.secure]",
            f'address = "{self.address}"',
            'namespace = "default"',
            "[profile.secure.tls]",
            'server_name = "localhost"',
            *(f'{key} = "{value}"' for key, value in tls.items()),
        ]
        path = self.directory / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def mtls_profile(self) -> Path:
        return self.profile_file(
            "mtls",
            server_ca_cert_path=str(self.tls.server_ca),
            client_cert_path=str(self.tls.client_cert),
            client_key_path=str(self.tls.client_key),
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def secured_server(tmp_path_factory: Any) -> AsyncIterator[SecuredServer]:
    state = Path(tmp_path_factory.mktemp("temporal-tls"))
    tls = make_tls_material(state / "pki")
    async with contextlib.AsyncExitStack() as stack:
        server = await headless_dev_server(stack, state)
        async with tls_proxy(server.target, tls.server_context) as address:
            yield SecuredServer(address, tls, state)


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any Temporal or dealcycle setting, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "DEALCYCLE_", "SALESFORCE_", "SLACK_"))
    }
    return {**env, **extra}


async def dealcycle(env: Mapping[str, str], *argv: str) -> tuple[int, str, str]:
    """Run the ``dealcycle`` console script; the event loop keeps serving the proxy meanwhile."""
    process = await asyncio.create_subprocess_exec(
        str(DEALCYCLE),
        *argv,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.e2e
async def test_the_worker_and_the_cli_reach_an_mtls_server_through_a_profile(
    secured_server: SecuredServer, tmp_path: Path, salesforce_settings: Any, slack_settings: Any
) -> None:
    from worker import run_worker

    queue = f"tq-{uuid.uuid4()}"
    env = clean_env(
        {
            "TEMPORAL_CONFIG_FILE": str(secured_server.mtls_profile()),
            "TEMPORAL_PROFILE": "secure",
            "DEALCYCLE_TASK_QUEUE": queue,
            "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
            "DEALCYCLE_LOG_LEVEL": "warning",
        }
    )
    settings = Settings.from_env(env)
    assert settings.temporal_address == secured_server.address
    assert settings.temporal_connection.uses_tls
    worker_settings = replace(
        settings,
        database_url=f"sqlite:///{tmp_path / 'dealcycle.db'}",
        salesforce=salesforce_settings,
        slack=slack_settings,
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(worker_settings, stop))
    opportunity = f"OPP-TLS-{uuid.uuid4().hex[:8]}"
    try:
        code, out, err = await dealcycle(
            env,
            "trial",
            "start",
            "--opportunity",
            opportunity,
            "--account",
            "001TLS",
            "--account-name",
            "TLS Corp",
            "--ce",
            "U0CE00001",
            "--ae",
            "U0AE00001",
        )
        assert (code, err) == (0, ""), out
        assert f"started trial-{opportunity}" in out

        # `status` queries the workflow: the worker answers it, over its own TLS connection.
        code, out, err = await dealcycle(env, "status", f"trial-{opportunity}")
        assert code == 0, err
        assert "user_survey" in out

        code, out, err = await dealcycle(env, "worker", "--check")
        assert code == 0, err
        assert out.startswith("ok: worker ") and queue in out
    finally:
        client = await connect(settings)
        await client.get_workflow_handle(f"trial-{opportunity}").terminate("test finished")
        stop.set()
        await worker
    assert not worker.exception()


@pytest.mark.e2e
async def test_the_health_check_fails_without_a_worker_on_the_queue(
    secured_server: SecuredServer, tmp_path: Path
) -> None:
    env = clean_env(
        {
            "TEMPORAL_CONFIG_FILE": str(secured_server.mtls_profile()),
            "TEMPORAL_PROFILE": "secure",
            "DEALCYCLE_TASK_QUEUE": f"tq-nobody-{uuid.uuid4()}",
            "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        }
    )
    code, _out, err = await dealcycle(env, "worker", "--check")
    assert code == 1
    assert "no worker on " in err and "has polled task queue 'tq-nobody-" in err


@pytest.mark.e2e
async def test_a_server_signed_by_another_ca_is_refused(
    secured_server: SecuredServer, tmp_path: Path
) -> None:
    profile = secured_server.profile_file(
        "wrong-ca",
        server_ca_cert_path=str(secured_server.tls.other_ca),
        client_cert_path=str(secured_server.tls.client_cert),
        client_key_path=str(secured_server.tls.client_key),
    )
    env = clean_env(
        {
            "TEMPORAL_CONFIG_FILE": str(profile),
            "TEMPORAL_PROFILE": "secure",
            "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        }
    )
    with pytest.raises(TemporalUnreachable) as refused:
        await connect(Settings.from_env(env))
    message = str(refused.value.code)
    assert f"cannot reach the Temporal server at {secured_server.address}" in message
    assert f"profile 'secure' of {profile}" in message and "TLS with client certificate" in message
    assert "not signed by the CA you trust (tls.server_ca_cert_path" in message

    code, _out, err = await dealcycle(env, "status", "trial-anything")
    assert code == 1
    assert f"cannot reach the Temporal server at {secured_server.address}" in err


@pytest.mark.e2e
async def test_a_client_without_a_certificate_is_refused(
    secured_server: SecuredServer, tmp_path: Path
) -> None:
    profile = secured_server.profile_file(
        "no-client-cert", server_ca_cert_path=str(secured_server.tls.server_ca)
    )
    env = clean_env(
        {
            "TEMPORAL_CONFIG_FILE": str(profile),
            "TEMPORAL_PROFILE": "secure",
            "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        }
    )
    with pytest.raises(TemporalUnreachable) as refused:
        await connect(Settings.from_env(env))
    message = str(refused.value.code)
    assert f"cannot reach the Temporal server at {secured_server.address}" in message
    assert f"profile 'secure' of {profile}, TLS;" in message
    assert "it may require a client certificate (mTLS)" in message
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH" in message
