"""docker-compose.yml and the Dockerfile, read as data (no Docker engine is needed).

They are the production shape of `make run`; these checks keep them in step with the code:
the settings the worker reads, the search attributes the workflows set.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dealcycle.settings import Settings
from schemas.search_attributes import registrations

ROOT = Path(__file__).resolve().parents[1]
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME:-default}`` with an empty host environment (or ``env``)."""
    env = env or {}
    return _VARIABLE.sub(lambda m: env.get(m["name"]) or (m["default"] or ""), value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):  # the KEY=VALUE list form
        raw = dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def test_services_and_images(services: dict[str, Any]) -> None:
    assert set(services) >= {
        "postgresql",
        "temporal-schema",
        "temporal",
        "temporal-admin-tools",
        "temporal-ui",
        "codec-server",
        "worker",
    }
    images = {name: interpolate(service.get("image", "")) for name, service in services.items()}
    assert images["postgresql"] == "postgres:16"
    # The release image: auto-setup is a development image, no longer built.
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-admin-tools"].startswith("temporalio/admin-tools:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    # Pinned versions: "latest" would change the server under a deployed worker.
    for name, image in images.items():
        if "build" not in services[name]:  # ours is built from this checkout
            assert image and not image.endswith(":latest"), name
    # The server and its admin tools are one release: the server's version leads.
    server_version = images["temporal"].split(":", 1)[1]
    assert images["temporal-admin-tools"].split(":", 1)[1].startswith(server_version + "-")
    assert images["temporal-schema"] == images["temporal-admin-tools"]


def test_temporal_uses_the_postgres_service(services: dict[str, Any]) -> None:
    temporal = environment(services["temporal"])
    postgres = environment(services["postgresql"])
    assert temporal["DB"] == "postgres12"
    assert temporal["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["DB_PORT"] == "5432"
    assert temporal["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert interpolate(temporal["POSTGRES_PWD"]) == interpolate(postgres["POSTGRES_PASSWORD"])
    assert services["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgresql"]
    assert "healthcheck" in services["temporal"]


def test_dependencies_start_in_order(services: dict[str, Any]) -> None:
    assert services["temporal-admin-tools"]["depends_on"]["temporal"]["condition"] == (
        "service_healthy"
    )
    assert services["temporal-ui"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    worker_deps = services["worker"]["depends_on"]
    assert worker_deps["postgresql"]["condition"] == "service_healthy"
    assert worker_deps["temporal"]["condition"] == "service_healthy"
    # The workflows set the custom search attributes, so they must exist first.
    assert worker_deps["temporal-admin-tools"]["condition"] == "service_completed_successfully"


def _script(service: dict[str, Any]) -> str:
    command = service["command"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    assert isinstance(command, list) and len(command) == 1
    script: str = command[0]
    assert script.startswith("set -eu\n")
    return script


def _registered_search_attributes(service: dict[str, Any]) -> dict[str, str]:
    script = _script(service)
    start = script.index("temporal operator search-attribute create")
    words = shlex.split(script[start : script.index("&&", start)].replace("\\\n", " "))
    assert words[:4] == ["temporal", "operator", "search-attribute", "create"]
    assert words[words.index("--namespace") + 1] == "default"
    names = [words[i + 1] for i, word in enumerate(words) if word == "--name"]
    types = [words[i + 1] for i, word in enumerate(words) if word == "--type"]
    assert len(names) == len(types)
    return dict(zip(names, types, strict=True))


def test_every_search_attribute_is_registered(services: dict[str, Any]) -> None:
    admin = services["temporal-admin-tools"]
    assert environment(admin)["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert _registered_search_attributes(admin) == registrations()
    assert set(registrations()) == {
        "OpportunityId",
        "AccountId",
        "LifecycleStage",
        "TechnicalWinStatus",
        "CEOwner",
        "AEOwner",
        "Region",
        "AccountTier",
        "RenewalDate",
        "CustomerHealth",
        "NeedsAttention",
        "StepOwners",
        "NextDueAt",
        "OverdueSteps",
    }


def test_worker_service(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert worker["build"]["context"] == "."
    assert (ROOT / worker["build"]["dockerfile"]).is_file()
    assert worker["command"] == ["dealcycle", "worker"]

    env = environment(worker)
    for name in (
        "SALESFORCE_LOGIN_URL",
        "SALESFORCE_CLIENT_ID",
        "SALESFORCE_CLIENT_SECRET",
        "SALESFORCE_USERNAME",
        "SALESFORCE_PASSWORD",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
    ):
        # Passed through from the host environment, never written into the file.
        assert env[name].startswith("${" + name), name

    host = {
        "SALESFORCE_LOGIN_URL": "https://login.example.test",
        "SALESFORCE_CLIENT_ID": "client",
        "SALESFORCE_USERNAME": "integration@example.test",
        "SLACK_BOT_TOKEN": "xoxb-test",
    }
    settings = Settings.from_env({k: interpolate(v, host) for k, v in env.items()})
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "default"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert "@postgresql:5432/" in settings.database_url
    assert settings.salesforce.configured and settings.slack.configured
    assert settings.state_dir == Path("/var/lib/dealcycle")
    volumes = worker.get("volumes", [])
    assert any(str(volume).endswith(":/var/lib/dealcycle") for volume in volumes)


def test_worker_database_exists_in_postgres(compose: dict[str, Any]) -> None:
    """The role and database in the worker's DATABASE_URL are created at first start."""
    url = interpolate(environment(compose["services"]["worker"])["DATABASE_URL"])
    match = re.match(r"postgresql\+psycopg://(\w+):[^@]*@postgresql:5432/(\w+)$", url)
    assert match, url
    role, database = match.groups()
    mounts = compose["services"]["postgresql"]["configs"]
    init = next(m for m in mounts if m["target"].startswith("/docker-entrypoint-initdb.d/"))
    script = compose["configs"][init["source"]]["content"]
    assert f"CREATE ROLE {role} LOGIN" in script
    assert f"CREATE DATABASE {database} OWNER {role}" in script


def test_ports(services: dict[str, Any]) -> None:
    def published(name: str) -> set[str]:
        return {str(port) for port in services[name].get("ports", [])}

    assert any(port.endswith("7233:7233") for port in published("temporal"))
    # The UI at the dev server's address, so DEALCYCLE_TEMPORAL_UI_URL is the same for both.
    assert any(port.endswith("8233:8080") for port in published("temporal-ui"))
    assert not published("postgresql"), "the database stays on the compose network"
    assert not published("worker")


def test_dockerfile() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    # The locked dependencies, hash-checked, before the source; then dealcycle alone.
    install_lock = lines.index("RUN pip install --require-hashes -r requirements.lock")
    assert lines.index("COPY requirements.lock ./") < install_lock < lines.index("COPY . .")
    assert any(re.match(r"RUN pip install --no-deps \.(\s|$)", line) for line in lines)
    users = [line.split(None, 1)[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the worker must not run as root"
    assert lines[-1] == 'CMD ["dealcycle", "worker"]'


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".dealcycle", ".git"} <= ignored
    # ...but not what `pip install .` needs.
    for needed in (
        "pyproject.toml",
        "requirements.lock",
        "schemas",
        "workflows",
        "activities",
        "starter",
        "dealcycle",
    ):
        assert needed not in ignored


# --- Production shape (issue 13) ---------------------------------------------------------------

SCHEMA_DIR = "/etc/temporal/schema/postgresql/v12"
# temporal CLI v1.5.1 (scripts/ensure-temporal-cli) bundles github.com/temporalio/ui-server/v2
# v2.42.1 (its go.mod): compose's UI must not be older than the dev server's.
DEV_SERVER_CLI = "v1.5.1"
DEV_SERVER_UI = (2, 42, 1)


def test_admin_tools_set_up_both_sql_schemas(services: dict[str, Any]) -> None:
    schema = services["temporal-schema"]
    temporal = environment(services["temporal"])
    sql = environment(schema)
    # The tool reaches the database the server uses, with the server's plugin and account.
    assert sql["SQL_PLUGIN"] == temporal["DB"] == "postgres12"
    assert sql["SQL_HOST"] == temporal["POSTGRES_SEEDS"]
    assert sql["SQL_PORT"] == temporal["DB_PORT"]
    assert sql["SQL_USER"] == temporal["POSTGRES_USER"]
    assert interpolate(sql["SQL_PASSWORD"]) == interpolate(temporal["POSTGRES_PWD"])
    assert schema["depends_on"]["postgresql"]["condition"] == "service_healthy"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )

    script = _script(schema)
    commands = [
        shlex.split(line.replace("$$schema", SCHEMA_DIR))
        for line in script.splitlines()
        if line.startswith("temporal-sql-tool")
    ]
    expected = []
    for database, directory in (
        (temporal["DBNAME"], "temporal"),
        (temporal["VISIBILITY_DBNAME"], "visibility"),
    ):
        expected += [
            ["temporal-sql-tool", "--db", database, "create"],
            ["temporal-sql-tool", "--db", database, "setup-schema", "-v", "0.0"],
            [
                "temporal-sql-tool",
                "--db",
                database,
                "update-schema",
                "-d",
                f"{SCHEMA_DIR}/{directory}/versioned",
            ],
        ]
    assert commands == expected
    assert (temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]) == (
        "temporal",
        "temporal_visibility",
    )
    assert "schema=/etc/temporal/schema/postgresql/v12\n" in script


def test_admin_tools_create_the_namespace_the_worker_uses(services: dict[str, Any]) -> None:
    script = _script(services["temporal-admin-tools"])
    namespace = environment(services["worker"])["DEALCYCLE_TEMPORAL_NAMESPACE"]
    assert f"temporal operator namespace describe --namespace {namespace}" in script
    assert f"|| temporal operator namespace create --namespace {namespace}" in script


def test_the_ui_is_not_older_than_the_dev_servers(services: dict[str, Any]) -> None:
    from dealcycle.devtools.temporal_cli import PINNED_VERSION

    # A new pinned CLI may bundle a newer UI: look its version up in the CLI's go.mod then.
    assert PINNED_VERSION == DEV_SERVER_CLI
    version = interpolate(services["temporal-ui"]["image"]).split(":", 1)[1]
    assert tuple(int(part) for part in version.split(".")) >= DEV_SERVER_UI


def test_the_ui_decodes_through_the_codec_server(services: dict[str, Any]) -> None:
    ui = environment(services["temporal-ui"])
    codec = services["codec-server"]
    codec_env = environment(codec)
    assert codec["command"] == ["dealcycle", "codec-server"]
    assert codec["image"] == services["worker"]["image"]
    port = codec_env["DEALCYCLE_CODEC_SERVER_PORT"]
    assert port == "8081"
    # The browser calls the endpoint: a host port published from the codec server's port.
    endpoint = interpolate(ui["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint == f"http://localhost:{port}"
    assert f"127.0.0.1:{port}:{port}" in codec["ports"]
    # ...from the UI's own origin, with the token from the host (never in this file).
    ui_port = next(p for p in services["temporal-ui"]["ports"] if p.endswith(":8080"))
    assert interpolate(codec_env["DEALCYCLE_CODEC_CORS_ORIGINS"]) == (
        f"http://localhost:{ui_port.split(':')[1]}"
    )
    assert codec_env["DEALCYCLE_CODEC_SERVER_TOKEN"].startswith("${DEALCYCLE_CODEC_SERVER_TOKEN")
    assert codec_env["DEALCYCLE_CODEC_KEYS_FILE"] == "/run/secrets/codec-keys"
    assert "codec-keys" in codec["secrets"]


def test_the_worker_runs_the_production_profile_with_secrets(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    worker = services["worker"]
    env = environment(worker)
    assert env["DEALCYCLE_ENV"] == "production"
    declared = compose["secrets"]
    for variable, secret in (
        ("DEALCYCLE_LICENSE_PRIVATE_KEY_FILE", "license-signing-key"),
        ("DEALCYCLE_CODEC_KEYS_FILE", "codec-keys"),
        ("SALESFORCE_JWT_KEY_FILE", "salesforce-jwt-key"),
    ):
        assert env[variable] == f"/run/secrets/{secret}"
        assert secret in worker["secrets"]
        assert interpolate(declared[secret]["file"]).startswith("./secrets/")
    # Nothing secret is written into the file: each credential comes from the host.
    host = {
        "SALESFORCE_LOGIN_URL": "https://example.my.salesforce.com",
        "SALESFORCE_CLIENT_ID": "consumer-key",
        "SALESFORCE_USERNAME": "integration@example.test",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "signing",
    }
    settings = Settings.from_env({k: interpolate(v, host) for k, v in env.items()})
    assert settings.deployment.production
    # Given the host's credentials, all production lacks here are the secret files, which
    # compose mounts (this test runs without Docker).
    problems = settings.deployment.missing(settings)
    assert problems and all("/run/secrets/" in problem for problem in problems), problems
    without_host = Settings.from_env({k: interpolate(v) for k, v in env.items()})
    missing = " ".join(without_host.deployment.missing(without_host))
    for name in host:
        assert f"{name} is not set" in missing


def test_the_worker_health_check_is_the_cli_check(services: dict[str, Any]) -> None:
    from starter.cli import build_parser, cmd_worker

    check = services["worker"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "dealcycle"]
    args = build_parser().parse_args(check[2:])
    assert args.func is cmd_worker and args.check
