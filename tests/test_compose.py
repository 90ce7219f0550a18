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
        "temporal",
        "temporal-admin-tools",
        "temporal-ui",
        "worker",
    }
    images = {name: interpolate(service.get("image", "")) for name, service in services.items()}
    assert images["postgresql"] == "postgres:16"
    assert images["temporal"].startswith("temporalio/auto-setup:")
    assert images["temporal-admin-tools"].startswith("temporalio/admin-tools:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    # Pinned versions: "latest" would change the server under a deployed worker.
    for name in ("postgresql", "temporal", "temporal-admin-tools", "temporal-ui"):
        assert not images[name].endswith(":latest"), name


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


def _registered_search_attributes(service: dict[str, Any]) -> dict[str, str]:
    command = service["command"]
    text = " ".join(command) if isinstance(command, list) else command
    words = shlex.split(text)
    assert "search-attribute" in words and "create" in words
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
        "SALESFORCE_AUTH",
        "SALESFORCE_JWT_KEY_FILE",
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
        "SALESFORCE_JWT_KEY_FILE": "/run/secrets/salesforce-jwt-key",
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
    assert any(re.match(r"RUN pip install \.(\s|$)", line) for line in lines)
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
    for needed in ("pyproject.toml", "schemas", "workflows", "activities", "starter", "dealcycle"):
        assert needed not in ignored
