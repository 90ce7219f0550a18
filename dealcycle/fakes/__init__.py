"""Local fakes of Salesforce and Slack that the real client libraries talk to.

``start_sandbox(state_dir)`` runs both in-process in sandbox mode (records and channels are
created on first use) and returns the endpoints and the environment variables
``dealcycle.settings.Settings.from_env`` reads; ``python -m dealcycle.fakes`` does the same in
its own process and writes ``STATE_DIR/fakes/endpoints.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from dealcycle.fakes._http import ControlClient, Fault, RecordedCall
from dealcycle.fakes.salesforce import SalesforceFake, SObjectSchema
from dealcycle.fakes.salesforce_oauth import ConnectedAppFiles, ensure_connected_app_files
from dealcycle.fakes.slack import SlackFake, SlackMessage
from dealcycle.fakes.tls import TLSFiles, ensure_tls_files

ENDPOINTS_FILE = "endpoints.json"


@dataclass(frozen=True)
class SandboxEndpoints:
    """Everything a client needs to reach the sandbox fakes.

    The credentials are the fakes' own; they are still kept out of ``repr`` so they do not
    teach anyone to log settings.
    """

    salesforce_login_url: str
    salesforce_instance_url: str
    salesforce_client_id: str
    salesforce_client_secret: str = field(repr=False)
    salesforce_username: str
    salesforce_password: str = field(repr=False)
    salesforce_ca_bundle: str
    slack_api_url: str
    slack_bot_token: str = field(repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    """What the Slack fake signs the requests it delivers to the app with."""
    slack_app_token: str = field(default="", repr=False)
    """An ``xapp-`` token for Socket Mode against the fake (not in ``env``: set
    ``SLACK_APP_TOKEN`` to it to run the app in Socket Mode)."""
    salesforce_auth: str = "password"
    """The flow the sandbox's settings log in with (``jwt`` in ``start_sandbox``)."""
    salesforce_jwt_key_file: str = ""
    """The key whose certificate the Salesforce fake checks JWT assertions against."""

    @property
    def env(self) -> dict[str, str]:
        """Environment variables, named as ``dealcycle.settings`` reads them."""
        return {
            "SALESFORCE_LOGIN_URL": self.salesforce_login_url,
            "SALESFORCE_CLIENT_ID": self.salesforce_client_id,
            "SALESFORCE_CLIENT_SECRET": self.salesforce_client_secret,
            "SALESFORCE_USERNAME": self.salesforce_username,
            "SALESFORCE_PASSWORD": self.salesforce_password,
            "SALESFORCE_CA_BUNDLE": self.salesforce_ca_bundle,
            "SALESFORCE_AUTH": self.salesforce_auth,
            "SALESFORCE_JWT_KEY_FILE": self.salesforce_jwt_key_file,
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_API_URL": self.slack_api_url,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "salesforce": {
                "login_url": self.salesforce_login_url,
                "instance_url": self.salesforce_instance_url,
                "client_id": self.salesforce_client_id,
                "client_secret": self.salesforce_client_secret,
                "username": self.salesforce_username,
                "password": self.salesforce_password,
                "ca_bundle": self.salesforce_ca_bundle,
                "auth": self.salesforce_auth,
                "jwt_key_file": self.salesforce_jwt_key_file,
                "control_url": f"{self.salesforce_instance_url}/__fake__/",
            },
            "slack": {
                "api_url": self.slack_api_url,
                "bot_token": self.slack_bot_token,
                "signing_secret": self.slack_signing_secret,
                "app_token": self.slack_app_token,
                "control_url": self.slack_api_url.removesuffix("api/") + "__fake__/",
            },
            "env": self.env,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxEndpoints:
        sf, slack = data["salesforce"], data["slack"]
        return cls(
            salesforce_login_url=sf["login_url"],
            salesforce_instance_url=sf["instance_url"],
            salesforce_client_id=sf["client_id"],
            salesforce_client_secret=sf["client_secret"],
            salesforce_username=sf["username"],
            salesforce_password=sf["password"],
            salesforce_ca_bundle=sf["ca_bundle"],
            salesforce_auth=sf.get("auth", "password"),
            salesforce_jwt_key_file=sf.get("jwt_key_file", ""),
            slack_api_url=slack["api_url"],
            slack_bot_token=slack["bot_token"],
            slack_signing_secret=slack.get("signing_secret", ""),
            slack_app_token=slack.get("app_token", ""),
        )

    def salesforce_control(self) -> ControlClient:
        """Control client for the Salesforce fake (``get("records/Task")``, ``add_faults``...)."""
        return ControlClient(self.salesforce_instance_url, self.salesforce_ca_bundle)

    def slack_control(self) -> ControlClient:
        """Control client for the Slack fake (``get("messages")``, ``add_faults``...)."""
        return ControlClient(self.slack_api_url.removesuffix("api/"))


def fakes_dir(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "fakes"


def endpoints_path(state_dir: str | os.PathLike[str]) -> Path:
    return fakes_dir(state_dir) / ENDPOINTS_FILE


def read_endpoints(state_dir: str | os.PathLike[str]) -> SandboxEndpoints:
    """The endpoints a running ``python -m dealcycle.fakes --state-dir DIR`` wrote."""
    return SandboxEndpoints.from_json(json.loads(endpoints_path(state_dir).read_text()))


def write_endpoints(state_dir: str | os.PathLike[str], endpoints: SandboxEndpoints) -> Path:
    path = endpoints_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # Written whole and renamed, so a process polling for the file never reads half of it;
    # 0600 because it holds (fake) credentials.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(endpoints.to_json(), handle, indent=2)
    os.replace(tmp, path)
    return path


class Sandbox:
    """Both fakes running in this process; stop with ``stop()`` or use as a context manager."""

    def __init__(
        self, salesforce: SalesforceFake, slack: SlackFake, endpoints_file: Path | None = None
    ) -> None:
        self.salesforce = salesforce
        self.slack = slack
        self.endpoints_file = endpoints_file
        self.endpoints = SandboxEndpoints(
            salesforce_login_url=salesforce.login_url,
            salesforce_instance_url=salesforce.instance_url,
            salesforce_client_id=salesforce.client_id,
            salesforce_client_secret=salesforce.client_secret,
            salesforce_username=salesforce.username,
            salesforce_password=salesforce.password,
            salesforce_ca_bundle=salesforce.ca_bundle,
            slack_api_url=slack.api_url,
            slack_bot_token=slack.bot_token,
            slack_signing_secret=slack.signing_secret,
            slack_app_token=slack.app_token,
            salesforce_auth=salesforce.settings().auth,
            salesforce_jwt_key_file=salesforce.settings().jwt_key_file,
        )

    @property
    def env(self) -> dict[str, str]:
        return self.endpoints.env

    def stop(self) -> None:
        self.salesforce.stop()
        self.slack.stop()
        if self.endpoints_file is not None:
            self.endpoints_file.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    state_dir: str | os.PathLike[str],
    *,
    salesforce_port: int = 0,
    slack_port: int = 0,
    host: str = "127.0.0.1",
    write_endpoints_file: bool = False,
    slack_app_url: str | None = None,
    salesforce_auth: str = "jwt",
) -> Sandbox:
    """Start both fakes in sandbox mode; certificates go to ``STATE_DIR/fakes``.

    With ``write_endpoints_file`` the endpoints also go to ``STATE_DIR/fakes/endpoints.json``
    (removed again by ``stop()``). The Slack fake delivers interactions and events to
    ``slack_app_url`` (default: ``$DEALCYCLE_SLACK_APP_URL``; ``POST /__fake__/app`` changes it),
    or over Socket Mode to an app connected with the endpoints' ``slack_app_token``.

    The Salesforce fake holds a connected app's certificate (made with its key in
    ``STATE_DIR/fakes``), so the sandbox logs in with ``salesforce_auth``: the JWT bearer flow,
    the documented default, unless another is asked for (``client_credentials``, ``password``).
    """
    folder = fakes_dir(state_dir)
    tls = ensure_tls_files(folder)
    salesforce = SalesforceFake(
        tls,
        host=host,
        port=salesforce_port,
        auto_create_records=True,
        connected_app=ensure_connected_app_files(folder),
        default_auth=salesforce_auth,
    )
    app_url = slack_app_url or os.environ.get("DEALCYCLE_SLACK_APP_URL") or None
    slack = SlackFake(host=host, port=slack_port, auto_create_channels=True, app_url=app_url)
    salesforce.start()
    try:
        slack.start()
    except BaseException:
        salesforce.stop()
        raise
    sandbox = Sandbox(salesforce, slack)
    if write_endpoints_file:
        sandbox.endpoints_file = write_endpoints(state_dir, sandbox.endpoints)
    return sandbox


__all__ = [
    "ConnectedAppFiles",
    "ControlClient",
    "Fault",
    "RecordedCall",
    "SObjectSchema",
    "SalesforceFake",
    "Sandbox",
    "SandboxEndpoints",
    "SlackFake",
    "SlackMessage",
    "TLSFiles",
    "endpoints_path",
    "ensure_connected_app_files",
    "ensure_tls_files",
    "read_endpoints",
    "start_sandbox",
    "write_endpoints",
]
