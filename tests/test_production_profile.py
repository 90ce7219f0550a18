"""``DEALCYCLE_ENV=production``: each missing credential stops the worker with its name, and
nothing falls back to the local fakes (in development the fakes stand in, as before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealcycle.fakes import endpoints_path
from dealcycle.production import require_production_credentials
from dealcycle.settings import Settings, SettingsError
from starter import cli, cli_common


@pytest.fixture
def production_env(tmp_path: Path) -> dict[str, str]:
    """Everything production needs, the files included."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "license-signing-key.pem").write_text("PEM")
    (secrets / "salesforce-jwt.pem").write_text("PEM")
    (secrets / "codec-keys").write_text("k1=" + "A" * 43 + "=\n")
    return {
        "HOME": str(tmp_path / "home"),
        "DEALCYCLE_ENV": "production",
        "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": "postgresql+psycopg://dealcycle:pw@db:5432/dealcycle",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "signing",
        "SALESFORCE_AUTH": "jwt",
        "SALESFORCE_CLIENT_ID": "consumer-key",
        "SALESFORCE_USERNAME": "integration@example.test",
        "SALESFORCE_JWT_KEY_FILE": str(secrets / "salesforce-jwt.pem"),
        "SALESFORCE_LOGIN_URL": "https://login.salesforce.com",
        "DEALCYCLE_LICENSE_PRIVATE_KEY_FILE": str(secrets / "license-signing-key.pem"),
        "DEALCYCLE_CODEC_KEYS_FILE": str(secrets / "codec-keys"),
    }


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as refused:
        require_production_credentials(Settings.from_env(env))
    message = str(refused.value)
    assert message.startswith("DEALCYCLE_ENV=production and the worker cannot start: ")
    assert message.endswith("Nothing falls back to the local fakes in production.")
    return message


def test_a_complete_production_environment_passes(production_env: dict[str, str]) -> None:
    require_production_credentials(Settings.from_env(production_env))


@pytest.mark.parametrize(
    "variable",
    [
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SALESFORCE_CLIENT_ID",
        "SALESFORCE_USERNAME",
        "SALESFORCE_JWT_KEY_FILE",
        "SALESFORCE_LOGIN_URL",
    ],
)
def test_each_missing_credential_is_named(production_env: dict[str, str], variable: str) -> None:
    del production_env[variable]
    message = refusal(production_env)
    assert f"{variable} is not set" in message
    assert message.count(" is not set") == 1, message


@pytest.mark.parametrize(
    ("mode", "needed"),
    [
        ("client_credentials", "SALESFORCE_CLIENT_SECRET"),
        ("password", "SALESFORCE_CLIENT_SECRET"),
        ("password", "SALESFORCE_PASSWORD"),
    ],
)
def test_the_salesforce_credentials_follow_the_auth_mode(
    production_env: dict[str, str], mode: str, needed: str
) -> None:
    production_env |= {
        "SALESFORCE_AUTH": mode,
        "SALESFORCE_CLIENT_SECRET": "secret",
        "SALESFORCE_PASSWORD": "pw",
    }
    del production_env["SALESFORCE_JWT_KEY_FILE"]
    require_production_credentials(Settings.from_env(production_env))
    del production_env[needed]
    assert f"{needed} is not set (needed by SALESFORCE_AUTH={mode})" in refusal(production_env)


def test_sqlite_is_not_a_production_database(production_env: dict[str, str]) -> None:
    production_env["DATABASE_URL"] = "sqlite:////var/lib/dealcycle/dealcycle.db"
    assert "DATABASE_URL must be PostgreSQL (postgresql+psycopg://…), not sqlite" in refusal(
        production_env
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SALESFORCE_LOGIN_URL", "http://login.salesforce.com"),
        ("SLACK_API_URL", "http://slack.com/api/"),
    ],
)
def test_credentials_never_travel_in_plain_http(
    production_env: dict[str, str], variable: str, value: str
) -> None:
    # The client secret, the password or the JWT assertion (Salesforce) and the bot token
    # (Slack) would cross the network readable by anyone on the way.
    production_env[variable] = value
    assert f"{variable}={value} must be an https:// URL" in refusal(production_env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SALESFORCE_LOGIN_URL", "login.salesforce.com"),
        ("SALESFORCE_LOGIN_URL", "mydomain.my.salesforce.com/"),
        ("SLACK_API_URL", "slack.com/api"),
    ],
)
def test_a_url_without_its_scheme_is_refused_when_read(variable: str, value: str) -> None:
    # Else every Salesforce write retried "unreachable (MissingSchema)" for its three-day budget.
    with pytest.raises(SettingsError, match=f"{variable}='{value.rstrip('/')}' is not a URL"):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    "url", ["postgres://dealcycle:pw@db/dealcycle", "postgresql://dealcycle:pw@db/dealcycle"]
)
def test_every_postgresql_url_the_engine_takes_is_a_production_database(
    production_env: dict[str, str], url: str
) -> None:
    # postgres:// is what hosted PostgreSQL services hand out; the engine sends it to psycopg.
    production_env["DATABASE_URL"] = url
    require_production_credentials(Settings.from_env(production_env))


def test_the_license_signing_key_must_exist(production_env: dict[str, str]) -> None:
    Path(production_env["DEALCYCLE_LICENSE_PRIVATE_KEY_FILE"]).unlink()
    message = refusal(production_env)
    key = production_env["DEALCYCLE_LICENSE_PRIVATE_KEY_FILE"]
    assert f"DEALCYCLE_LICENSE_PRIVATE_KEY_FILE={key}: no such file" in message


def test_files_named_by_variables_must_exist(production_env: dict[str, str]) -> None:
    for name in ("SALESFORCE_JWT_KEY_FILE", "DEALCYCLE_CODEC_KEYS_FILE"):
        Path(production_env[name]).unlink()
    message = refusal(production_env)
    for name in ("SALESFORCE_JWT_KEY_FILE", "DEALCYCLE_CODEC_KEYS_FILE"):
        assert f"{name}={production_env[name]}: no such file" in message


def test_codec_keys_are_required_unless_the_codec_is_off(production_env: dict[str, str]) -> None:
    del production_env["DEALCYCLE_CODEC_KEYS_FILE"]
    assert "DEALCYCLE_CODEC_KEYS or DEALCYCLE_CODEC_KEYS_FILE is not set" in refusal(production_env)
    require_production_credentials(Settings.from_env({**production_env, "DEALCYCLE_CODEC": "off"}))
    require_production_credentials(
        Settings.from_env({**production_env, "DEALCYCLE_CODEC_KEYS": "k1=" + "A" * 43 + "="})
    )


def test_every_missing_variable_is_named_at_once(tmp_path: Path) -> None:
    message = refusal({"DEALCYCLE_ENV": "production", "DEALCYCLE_STATE_DIR": str(tmp_path)})
    for name in (
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SALESFORCE_CLIENT_ID",
        "SALESFORCE_JWT_KEY_FILE",
        "DEALCYCLE_LICENSE_PRIVATE_KEY_FILE",
        "DEALCYCLE_CODEC_KEYS",
    ):
        assert name in message


def test_development_needs_none_of_it(tmp_path: Path) -> None:
    require_production_credentials(Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path)}))


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DEALCYCLE_ENV='staging' must be development or"):
        Settings.from_env({"DEALCYCLE_ENV": "staging"})


def _run_worker_command(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *argv: str) -> int:
    return _run_command(monkeypatch, env, "worker", *argv)


def _run_command(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *argv: str) -> int:
    for name in list(env):
        monkeypatch.setenv(name, env[name])
    for name in ("SLACK_BOT_TOKEN", "DEALCYCLE_CODEC", "DEALCYCLE_CODEC_KEYS"):
        if name not in env:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cli_common, "configure_logging", lambda *_args: None)
    return cli.main(list(argv))


def test_dealcycle_worker_exits_1_naming_the_variable_without_starting_the_fakes(
    production_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    del production_env["SLACK_BOT_TOKEN"]
    assert _run_worker_command(monkeypatch, production_env) == 1
    err = capsys.readouterr().err
    assert err.startswith("dealcycle: DEALCYCLE_ENV=production and the worker cannot start:")
    assert "SLACK_BOT_TOKEN is not set" in err
    assert not endpoints_path(production_env["DEALCYCLE_STATE_DIR"]).exists()


def test_dealcycle_worker_sandbox_is_refused_in_production(
    production_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run_worker_command(monkeypatch, production_env, "--sandbox") == 1
    assert "--sandbox (the local fakes) is not allowed" in capsys.readouterr().err
    assert not endpoints_path(production_env["DEALCYCLE_STATE_DIR"]).exists()


def test_dealcycle_run_is_refused_in_production(
    production_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Every credential is set, so no sandbox would be asked for: `run` went on to a dev server,
    # the demo's minute-long days and demo trials, against the real Salesforce and Slack.
    from starter import devrun

    def no_dev_server(**_kwargs: object) -> None:
        raise AssertionError("the dev server was started")

    monkeypatch.setattr(devrun, "running_dev_server", no_dev_server)
    monkeypatch.setattr(devrun, "configure_logging", lambda *_args: None)
    assert _run_command(monkeypatch, production_env, "run") == 1
    err = capsys.readouterr().err
    assert err.startswith("dealcycle: DEALCYCLE_ENV=production: `dealcycle run`")
    assert "run `dealcycle worker`" in err
