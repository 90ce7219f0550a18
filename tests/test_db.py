"""Migrations and the idempotency ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.orm import Session

from dealcycle.db.engine import make_engine, normalize_database_url
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from dealcycle.db.models import Base, TrialOutcome

REPO = Path(__file__).resolve().parent.parent
TABLES = {
    "external_effects",
    "reminder_preferences",
    "license_keys",
    "trial_outcomes",
    "intake_watermarks",
    "account_plans",
    "feature_requests",
    "red_account_cases",
    "roster_rotations",
    "usage_feed_marks",
}


def _schema_differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


# --- migrations -------------------------------------------------------------------------------


def test_upgrade_creates_every_table_at_head(database_url: str) -> None:
    assert current_revision(database_url) is None

    upgrade_to_head(database_url)

    assert head_revision() == "0009"
    assert current_revision(database_url) == "0009"
    engine = make_engine(database_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_again_is_a_no_op_that_keeps_the_data(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        IdempotencyLedger(engine).start("kept", "slack_post")
        upgrade_to_head(database_url)
        upgrade_to_head(database_url)
        assert current_revision(database_url) == head_revision()
        assert IdempotencyLedger(engine).lookup("kept") is not None
    finally:
        engine.dispose()


def test_migrated_schema_equals_the_models(database_url: str) -> None:
    upgrade_to_head(database_url)

    assert _schema_differences(database_url) == []


def test_migrated_constraints_follow_the_naming_convention(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        inspector = inspect(engine)
        assert {t: inspector.get_pk_constraint(t)["name"] for t in sorted(TABLES)} == {
            "external_effects": "pk_external_effects",
            "reminder_preferences": "pk_reminder_preferences",
            "license_keys": "pk_license_keys",
            "trial_outcomes": "pk_trial_outcomes",
            "intake_watermarks": "pk_intake_watermarks",
            "account_plans": "pk_account_plans",
            "feature_requests": "pk_feature_requests",
            "red_account_cases": "pk_red_account_cases",
            "roster_rotations": "pk_roster_rotations",
            "usage_feed_marks": "pk_usage_feed_marks",
        }
        assert [u["name"] for u in inspector.get_unique_constraints("license_keys")] == [
            "uq_license_keys_idempotency_key"
        ]
        # PostgreSQL also reports the index behind a unique constraint; that one is not ours.
        indexes = {
            table: [
                index["name"]
                for index in inspector.get_indexes(table)
                if not index.get("duplicates_constraint")
            ]
            for table in ("license_keys", "trial_outcomes", "red_account_cases")
        }
        assert indexes == {
            "license_keys": ["ix_license_keys_account_id"],
            "trial_outcomes": ["ix_trial_outcomes_account_id"],
            "red_account_cases": ["ix_red_account_cases_account_id"],
        }
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            config = alembic_config(database_url)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()

    upgrade_to_head(database_url)

    assert _schema_differences(database_url) == []


def test_concurrent_upgrades_from_separate_processes_all_succeed(
    database_url: str, tmp_path: Path
) -> None:
    # Each process imports everything, reports ready, then waits for "go": the upgrades start
    # within a millisecond of each other, which without the migration lock fails reliably.
    program = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from dealcycle.db.migrate import upgrade_to_head\n"
        "Path(sys.argv[2]).touch()\n"
        "go = Path(sys.argv[3])\n"
        "while not go.exists():\n"
        "    time.sleep(0.001)\n"
        "upgrade_to_head(sys.argv[1])\n"
    )
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(6)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", program, database_url, str(flag), str(go)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outcomes = [process.communicate(timeout=120) for process in processes]

    assert [process.returncode for process in processes] == [0] * len(ready), [
        err for _, err in outcomes
    ]
    assert current_revision(database_url) == head_revision()
    assert _schema_differences(database_url) == []


def test_upgrade_leaves_the_application_logging_alone(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app_logger = logging.getLogger("dealcycle.test.logging")
    root_handlers = list(logging.getLogger().handlers)
    root_level = logging.getLogger().level

    upgrade_to_head(database_url)

    # logging.config.fileConfig would have disabled existing loggers and replaced handlers.
    assert app_logger.disabled is False
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger().level == root_level
    with caplog.at_level(logging.INFO, logger="dealcycle.test.logging"):
        app_logger.info("still logging")
    assert "still logging" in caplog.text


def test_config_keeps_percent_encoded_passwords_intact() -> None:
    config = alembic_config("postgres://dealcycle:p%40ss%25word@db.internal:5432/dealcycle")

    assert config.get_main_option("sqlalchemy.url") == (
        "postgresql+psycopg://dealcycle:p%40ss%25word@db.internal:5432/dealcycle"
    )
    assert normalize_database_url("postgresql://h/db") == "postgresql+psycopg://h/db"
    assert Path(config.get_main_option("script_location") or "").joinpath("env.py").is_file()


def test_revision_table_is_the_only_extra_table(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) == TABLES | {"alembic_version"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0009"
        )


# --- the idempotency ledger -------------------------------------------------------------------


def test_ledger_start_records_a_new_write(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)
    before = datetime.now(UTC)

    entry, already_started = ledger.start("trial-1/welcome", "slack_post")

    assert already_started is False
    assert (entry.idempotency_key, entry.kind, entry.status, entry.attempts) == (
        "trial-1/welcome",
        "slack_post",
        "started",
        1,
    )
    assert entry.result is None and not entry.done
    assert entry.started_at.tzinfo is not None
    assert entry.started_at >= before.replace(microsecond=0)
    assert ledger.lookup("trial-1/welcome") == entry


def test_ledger_start_again_counts_the_attempt(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)
    ledger.start("trial-1/welcome", "slack_post")

    entry, already_started = ledger.start("trial-1/welcome", "slack_post")

    assert already_started is True
    assert entry.attempts == 2
    assert entry.status == "started"


def test_ledger_finish_stores_the_result_and_stops_counting(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)
    ledger.start("trial-1/welcome", "slack_post")
    ledger.start("trial-1/welcome", "slack_post")

    ledger.finish("trial-1/welcome", {"channel": "C1", "ts": "1.2"})
    entry, already_started = ledger.start("trial-1/welcome", "slack_post")

    assert already_started is True
    assert entry.done
    assert entry.result == {"channel": "C1", "ts": "1.2"}
    assert entry.attempts == 2
    assert ledger.lookup("trial-1/welcome") == entry


def test_ledger_rejects_a_key_reused_for_another_kind(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)
    ledger.start("trial-1/x", "slack_post")

    with pytest.raises(ValueError, match="was used for a slack_post write, not license_issue"):
        ledger.start("trial-1/x", "license_issue")


def test_ledger_finish_of_an_unknown_key_fails(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)

    with pytest.raises(KeyError, match="never started"):
        ledger.finish("nobody/started/this", {})

    assert ledger.lookup("nobody/started/this") is None


# --- a write to our own database: one transaction ----------------------------------------------


def _commits(engine: Engine) -> list[int]:
    """A list that grows by one at every commit on ``engine``."""
    seen: list[int] = []
    event.listen(engine, "commit", lambda _connection: seen.append(1))
    return seen


def _rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            (row[0], row[1])
            for row in connection.execute(
                text("SELECT opportunity_id, outcome FROM trial_outcomes ORDER BY opportunity_id")
            )
        ]


def _outcome(session: Session, opportunity_id: str, outcome: str = "won") -> dict[str, Any]:
    session.add(
        TrialOutcome(
            opportunity_id=opportunity_id,
            account_id="001A",
            outcome=outcome,
            technical_win="yes",
            ended_at=datetime.now(UTC),
            ce_owner="U0CE",
            ae_owner="U0AE",
            license_key_ids=[],
        )
    )
    return {"record_id": opportunity_id}


def test_ledger_write_once_writes_the_row_and_the_key_in_one_transaction(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)
    commits = _commits(engine)

    entry, fresh = ledger.write_once(
        "trial-1/outcome", "trial_outcome", lambda s: _outcome(s, "006A")
    )

    assert fresh and entry.done and entry.result == {"record_id": "006A"}
    assert len(commits) == 1
    again, fresh = ledger.write_once(
        "trial-1/outcome", "trial_outcome", lambda s: _outcome(s, "006X")
    )
    assert not fresh and again.result == {"record_id": "006A"}
    assert len(commits) == 1  # a repeat reads, and writes nothing
    assert _rows(engine) == [("006A", "won")]


def test_ledger_write_once_that_dies_before_its_commit_leaves_nothing(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)

    def crash(session: Session) -> dict[str, Any]:
        _outcome(session, "006A")
        session.flush()  # the row reached the database, uncommitted
        raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        ledger.write_once("trial-1/outcome", "trial_outcome", crash)

    assert ledger.lookup("trial-1/outcome") is None and _rows(engine) == []
    entry, fresh = ledger.write_once(
        "trial-1/outcome", "trial_outcome", lambda s: _outcome(s, "006A")
    )
    assert fresh and entry.attempts == 1 and _rows(engine) == [("006A", "won")]


def test_ledger_write_once_by_two_attempts_at_once_writes_once(engine: Engine) -> None:
    """Both attempts read the key as new and write; the database lets one commit, the other
    rolls its row back with its key and finds the key done."""
    ledger = IdempotencyLedger(engine)
    both_wrote = threading.Barrier(2, timeout=10)

    def attempt(outcome: str) -> tuple[Any, bool]:
        def write(session: Session) -> dict[str, Any]:
            if session.get(TrialOutcome, "006A") is None:
                _outcome(session, "006A", outcome)
            with contextlib.suppress(threading.BrokenBarrierError):
                both_wrote.wait()  # only on the first round: the second finds the key done
            return {"record_id": "006A", "by": outcome}

        return ledger.write_once("trial-1/outcome", "trial_outcome", write)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, ["won", "lost"]))

    assert sorted(fresh for _, fresh in results) == [False, True]
    winner = next(entry for entry, fresh in results if fresh)
    assert [entry.result for entry, _ in results] == [winner.result] * 2
    assert _rows(engine) == [("006A", winner.result["by"])]


def test_ledger_write_once_finishes_a_key_started_by_older_code(engine: Engine) -> None:
    ledger = IdempotencyLedger(engine)
    ledger.start("trial-1/outcome", "trial_outcome")  # a crash after start, before finish

    entry, fresh = ledger.write_once(
        "trial-1/outcome", "trial_outcome", lambda s: _outcome(s, "006A")
    )

    assert fresh and entry.done and entry.attempts == 2
    with pytest.raises(ValueError, match="already used for a trial_outcome write"):
        ledger.write_once("trial-1/outcome", "slack_post", lambda s: _outcome(s, "006B"))
