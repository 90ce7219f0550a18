"""Fixtures for SQLite and PostgreSQL databases.

* ``postgres_url`` (session): an admin URL of a PostgreSQL server the tests may create
  databases on: ``$DEALCYCLE_TEST_POSTGRES_URL`` when set, else a throwaway cluster in
  ``.dealcycle/test-postgres`` (started once, stopped at the end of the session, unless
  another pytest session in this checkout still uses it).
* ``database_url`` (function): a fresh, empty database per test, once on SQLite and once on
  PostgreSQL (ids ``sqlite`` / ``postgres``, so ``-k sqlite`` runs without PostgreSQL).

When PostgreSQL cannot be started the PostgreSQL cases fail with the reason: they are not
skipped, because a green run must have exercised both backends.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dealcycle.db.engine import make_engine, normalize_database_url
from dealcycle.db.migrate import upgrade_to_head
from dealcycle.devtools.paths import STATE_DIRNAME, default_repo_root
from dealcycle.devtools.postgres import (
    LocalPostgres,
    PostgresUnavailable,
    create_database,
    drop_database,
)

POSTGRES_URL_ENV = "DEALCYCLE_TEST_POSTGRES_URL"
TEST_POSTGRES_DIR = Path(STATE_DIRNAME) / "test-postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Admin URL (``postgresql+psycopg://...``) of the PostgreSQL server for this session."""
    external = os.environ.get(POSTGRES_URL_ENV, "")
    if external:
        yield normalize_database_url(external)
        return
    server = LocalPostgres(default_repo_root() / TEST_POSTGRES_DIR)
    # shared(): another pytest session in this checkout may be using the same cluster; the
    # last one to finish stops it.
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(server.shared())
        except PostgresUnavailable as error:
            pytest.fail(f"PostgreSQL for the tests could not be started: {error}", pytrace=False)
        yield url


def _database_name(request: pytest.FixtureRequest) -> str:
    """``t_<test name>_<random>``: unique, and readable in ``\\l`` when a test leaks one."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    return f"t_{stem}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of a new empty database, dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dealcycle.db'}"
        return
    # Looked up lazily so that SQLite-only runs (-k sqlite) never start PostgreSQL.
    admin_url: str = request.getfixturevalue("postgres_url")
    name = _database_name(request)
    url = create_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url``, migrated to the head revision."""
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
