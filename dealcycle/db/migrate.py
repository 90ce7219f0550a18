"""Schema migrations (Alembic), applied at every start-up.

``upgrade_to_head`` is idempotent and serialized across processes: on SQLite it holds the
database write lock (``BEGIN IMMEDIATE``) for the whole upgrade, on PostgreSQL a
transaction-scoped advisory lock. Both databases run DDL inside the transaction, so a second
process waits, then finds the schema at head and does nothing; an upgrade that fails leaves
nothing half-applied.

Authoring a new revision (there is no ``alembic.ini``)::

    python -m dealcycle.db.migrate revision "add renewal table"
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, text

from dealcycle.db.engine import make_engine, normalize_database_url

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
# Advisory locks are per PostgreSQL cluster, so the id only has to be unlikely to collide
# with another application's; this is "dealcycl" in ASCII.
_PG_MIGRATION_LOCK_ID = 0x6465616C6379636C


def alembic_config(database_url: str) -> Config:
    """An Alembic config built in code: scripts from this package, URL from the argument."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Config values go through ConfigParser interpolation; a %-encoded password must survive.
    url = normalize_database_url(database_url)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _migration_engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    if engine.dialect.name == "sqlite":
        # pysqlite's own transaction handling neither wraps DDL nor takes the write lock up
        # front; take over so the whole upgrade is one BEGIN IMMEDIATE transaction.
        @event.listens_for(engine, "connect")
        def _driver_autocommit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextmanager
def _locked_connection(database_url: str) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock until it commits."""
    engine = _migration_engine(database_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:lock_id)"),
                    {"lock_id": _PG_MIGRATION_LOCK_ID},
                )
            yield connection
    finally:
        engine.dispose()


def upgrade_to_head(database_url: str) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    config = alembic_config(database_url)
    with _locked_connection(database_url) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or ``None`` for a database never migrated."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision among the packaged migration scripts."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _next_revision_id() -> str:
    head = head_revision()
    return f"{int(head) + 1:04d}" if head else "0001"


def create_revision(message: str, *, autogenerate: bool = True) -> str:
    """Write a new revision script, diffing the models against a scratch SQLite database.

    Review the result by hand: SQLite reflection misses some PostgreSQL-only details.
    """
    revision_id = _next_revision_id()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'scratch.db'}"
        upgrade_to_head(url)
        config = alembic_config(url)
        with _locked_connection(url) as connection:
            config.attributes["connection"] = connection
            # Alembic names the file <rev_id>_<slug of message>.py.
            command.revision(config, message=message, autogenerate=autogenerate, rev_id=revision_id)
    return revision_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dealcycle.db.migrate")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("upgrade", help="upgrade a database to the newest revision")
    upgrade.add_argument("database_url")
    current = commands.add_parser("current", help="print the revision a database is at")
    current.add_argument("database_url")
    revision = commands.add_parser("revision", help="write a new (autogenerated) revision")
    revision.add_argument("message")
    revision.add_argument("--empty", action="store_true", help="do not autogenerate")
    args = parser.parse_args(argv)
    if args.command == "upgrade":
        upgrade_to_head(args.database_url)
        print(current_revision(args.database_url))
    elif args.command == "current":
        print(current_revision(args.database_url) or "(not migrated)")
    else:
        print(create_revision(args.message, autogenerate=not args.empty))
    return 0


if __name__ == "__main__":
    sys.exit(main())
