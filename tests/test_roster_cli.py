"""``dealcycle roster show`` and ``dealcycle roster set``, and the ``roster_rotations`` table
behind them and behind the ``look_up_roster`` activity, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import roster as roster_activities
from activities.roster import RosterActivities, current_roster, roster_rotations, rotate_roster
from dealcycle.settings import Settings
from schemas.errors import RuleViolation
from schemas.roster import Roster, RotateRoster
from starter import cli

OPS = "U0OPS0001"
SETTINGS_ROSTER = Roster("U0CELEAD1", "U0SECPM01", "U0SECWEST1", "U0SECEAST1", "U0VALUEENG1")
NOW = datetime(2027, 1, 11, 9, 30, tzinfo=UTC)


@pytest.fixture
def roster_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's environment: the test's database, the settings' default roster."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DEALCYCLE_STATE_DIR", str(tmp_path / "state"))
    for name in (
        "DEALCYCLE_CE_LEADER",
        "DEALCYCLE_SECURITY_PM",
        "DEALCYCLE_SECURITY_CE_US_WEST_APAC",
        "DEALCYCLE_SECURITY_CE_US_EAST_EMEA",
        "DEALCYCLE_VALUE_ENGINEERING",
    ):
        monkeypatch.delenv(name, raising=False)
    return database_url


def show(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["roster", "show", *argv]) == 0
    return capsys.readouterr().out


# --- The command line --------------------------------------------------------------------------


def test_show_before_any_rotation_is_the_settings_roster(
    roster_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCYCLE_CE_LEADER", "U0LEADENV1")

    out = show(capsys)

    assert out.splitlines() == [
        "Roster today (the settings', never rotated)",
        "  CE leader                   U0LEADENV1",
        "  Security PM                 U0SECPM01",
        "  Security CE US West / APAC  U0SECWEST1",
        "  Security CE US East / EMEA  U0SECEAST1",
        "  Value Engineering           U0VALUEENG1",
    ]


def test_set_rotates_the_named_roles_keeps_the_others_and_records_who_and_when(
    roster_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        cli.main(
            [
                "roster",
                "set",
                "--ce-leader",
                "U0NEWLEAD1",
                "--security-ce",
                "us-west-apac=U0SECWEST2",
                "--by",
                OPS,
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == (
        "rotation 1 recorded: CE leader U0CELEAD1 -> U0NEWLEAD1;"
        " Security CE US West / APAC U0SECWEST1 -> U0SECWEST2"
    )
    assert (
        cli.main(["roster", "set", "--value-engineering", "U0VALUEENG2", "--by", "U0OPS0002"]) == 0
    )
    capsys.readouterr()
    # Once rotated, the database holds the roster: the settings no longer change it.
    monkeypatch.setenv("DEALCYCLE_CE_LEADER", "U0LEADENV1")

    lines = show(capsys).splitlines()

    assert lines[:6] == [
        "Roster today (rotation 2)",
        "  CE leader                   U0NEWLEAD1",
        "  Security PM                 U0SECPM01",
        "  Security CE US West / APAC  U0SECWEST2",
        "  Security CE US East / EMEA  U0SECEAST1",
        "  Value Engineering           U0VALUEENG2",
    ]
    assert lines[6:8] == ["", "Rotations (newest first):"]
    assert re.fullmatch(
        r"  #2  \d{4}-\d\d-\d\d \d\d:\d\d UTC  by U0OPS0002: Value Engineering U0VALUEENG1"
        r" -> U0VALUEENG2",
        lines[8],
    )
    assert (
        lines[9].startswith("  #1  ")
        and f"by {OPS}: CE leader U0CELEAD1 -> U0NEWLEAD1" in (lines[9])
    )


def test_show_lists_the_latest_rotations_and_all_of_them_when_asked(
    roster_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(12):
        assert cli.main(["roster", "set", "--security-pm", f"U0PM{number:04d}", "--by", OPS]) == 0
    capsys.readouterr()

    latest = show(capsys).splitlines()
    every = show(capsys, "--all").splitlines()

    assert latest[-1] == "  ... 2 earlier (--all shows them)"
    assert len([line for line in latest if line.startswith("  #")]) == 10
    assert [line.split()[0] for line in every if line.startswith("  #")] == [
        f"#{number}" for number in range(12, 0, -1)
    ]


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (
            ["--ce-leader", "bob"],
            "rejected: --ce-leader: a Slack member id: U or W, then 2 to 20 capitals or digits"
            " (got 'bob')",
        ),
        (
            ["--security-ce", "us-east-emea=U0" + "X" * 30],
            "rejected: --security-ce us-east-emea: at most 21 characters (got 32)",
        ),
        (
            ["--security-ce", "mars=U0SECMARS1"],
            "rejected: --security-ce 'mars=U0SECMARS1': write REGION=U… with REGION one of"
            " us-west-apac, us-east-emea",
        ),
        (
            ["--security-ce", "U0SECWEST2"],
            "rejected: --security-ce 'U0SECWEST2': write REGION=U… with REGION one of"
            " us-west-apac, us-east-emea",
        ),
        (
            ["--security-ce", "us-west-apac=U0SECWEST2", "--security-ce", "us-west-apac=U0SECW3"],
            "rejected: --security-ce names us-west-apac twice",
        ),
        (
            ["--value-engineering", ""],
            "rejected: a Slack member id is needed for Value Engineering",
        ),
        (
            [],
            "rejected: nothing to rotate: name a role (--ce-leader, --security-pm,"
            " --security-ce REGION=U…, --value-engineering)",
        ),
        (
            ["--security-pm", "U0SECPM01"],
            "rejected: nothing changes: the roster already has Security PM U0SECPM01",
        ),
    ],
    ids=[
        "not-a-member-id",
        "too-long",
        "unknown-region",
        "no-region",
        "region-twice",
        "empty",
        "no-role",
        "no-change",
    ],
)
def test_set_refuses_bad_input_with_one_clear_line_and_changes_nothing(
    roster_env: str, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    assert cli.main(["roster", "set", *argv, "--by", OPS]) == 1

    assert capsys.readouterr().err == f"dealcycle: {complaint}\n"
    assert show(capsys).startswith("Roster today (the settings', never rotated)\n")


def test_set_needs_a_valid_by(roster_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["roster", "set", "--ce-leader", "U0NEWLEAD1", "--by", "ops team"]) == 1
    assert capsys.readouterr().err == (
        "dealcycle: rejected: --by: a Slack member id: U or W, then 2 to 20 capitals or digits"
        " (got 'ops team')\n"
    )
    with pytest.raises(SystemExit) as usage:
        cli.main(["roster", "set", "--ce-leader", "U0NEWLEAD1"])
    assert usage.value.code == 2
    assert "--by" in capsys.readouterr().err


def test_an_unreachable_database_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("DEALCYCLE_STATE_DIR", str(tmp_path / "state"))

    assert cli.main(["roster", "show"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("dealcycle: cannot read the roster: ")
    assert err.endswith("(is DATABASE_URL right?)\n")


# --- The table and the lookup --------------------------------------------------------------------


def test_a_rotation_that_lost_a_race_starts_again_from_the_winner(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotate_roster(engine, SETTINGS_ROSTER, RotateRoster(OPS, ce_leader="U0LEADA1"), NOW)
    # This rotation's first read misses the one above (made meanwhile by someone else): its
    # write of rotation 1 loses on the key, and it starts again from rotation 1.
    reads: list[object] = []

    def stale_then_fresh(session: Session) -> object:
        reads.append(session)
        return None if len(reads) == 1 else newest(session)

    newest = roster_activities._newest
    monkeypatch.setattr(roster_activities, "_newest", stale_then_fresh)

    after = rotate_roster(
        engine, SETTINGS_ROSTER, RotateRoster("U0OPS0002", security_pm="U0PM2"), NOW
    )

    assert len(reads) == 2
    assert after.roster == Roster(
        "U0LEADA1", "U0PM2", "U0SECWEST1", "U0SECEAST1", "U0VALUEENG1", rotation=2
    )
    rotations, total = roster_rotations(engine)
    assert total == 2 and [entry.rotated_by for entry in rotations] == ["U0OPS0002", OPS]
    assert rotations[0].rotated_at == NOW
    assert rotations[0].changes == ["Security PM U0SECPM01 -> U0PM2"]
    with pytest.raises(RuleViolation, match="nothing changes"):
        rotate_roster(engine, SETTINGS_ROSTER, RotateRoster(OPS, security_pm="U0PM2"), NOW)


async def test_look_up_roster_answers_the_settings_roster_then_the_newest_rotation(
    engine: Engine,
) -> None:
    lookup = RosterActivities(engine, SETTINGS_ROSTER)
    env = ActivityEnvironment()

    assert await env.run(lookup.look_up_roster) == SETTINGS_ROSTER
    rotate_roster(engine, SETTINGS_ROSTER, RotateRoster(OPS, value_engineering="U0VE2"), NOW)
    rotate_roster(engine, SETTINGS_ROSTER, RotateRoster(OPS, ce_leader="U0LEAD2"), NOW)

    found = await env.run(lookup.look_up_roster)
    assert found == Roster("U0LEAD2", "U0SECPM01", "U0SECWEST1", "U0SECEAST1", "U0VE2", rotation=2)
    assert found == current_roster(engine, SETTINGS_ROSTER)


async def test_a_roster_that_cannot_be_read_is_a_retryable_failure(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE roster_rotations"))

    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(RosterActivities(engine, SETTINGS_ROSTER).look_up_roster)

    assert failed.value.type == "RosterUnavailable" and not failed.value.non_retryable
    assert failed.value.message.startswith("the roster could not be read: ")


def test_the_settings_roster_comes_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DEALCYCLE_CE_LEADER": "U0LEADENV1",
            "DEALCYCLE_SECURITY_CE_US_EAST_EMEA": "U0EASTENV1",
            "DEALCYCLE_VALUE_ENGINEERING": "U0VEENV1",
        }
    )
    assert settings.roster() == Roster(
        "U0LEADENV1", "U0SECPM01", "U0SECWEST1", "U0EASTENV1", "U0VEENV1"
    )
