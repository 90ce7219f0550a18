"""The CLI refuses out-of-bounds input before anything is sent, naming the field and its
limit (``schemas.limits``, the same checks the workflows run): a representative set, run
through ``starter.cli.main`` against the recording stand-in of ``tests/test_account_cli``."""

from __future__ import annotations

import pytest

from starter import cli
from tests import test_account_cli
from tests.test_account_cli import FakeTemporal

CE, AE = "U0CE00001", "U0AE00001"
MEMBER = "a Slack member id: U or W, then 2 to 20 capitals or digits"
# The recording stand-in's fixtures, as the account commands' tests use them.
settings = test_account_cli.settings
temporal = test_account_cli.temporal
TRIAL = ["trial", "start", "--opportunity", "006A", "--account", "001A", "--account-name", "Acme"]


REFUSED: list[tuple[list[str], str]] = [
    (["step", "complete", "trial-006A", "user_survey", "--by", AE, "--role", "AE",
      "--note", "x" * 1_048_576],
     "rejected: note: at most 2000 characters (got 1048576)"),
    ([*TRIAL, "--ce", CE, "--ae", AE, "--length-days", "3000000"],
     "cannot start the trial: length_days: a whole number from 1 to 365 (got 3000000)"),
    ([*TRIAL, "--ce", "not-an-id", "--ae", AE],
     f"cannot start the trial: ce_owner: {MEMBER} (got 'not-an-id')"),
    (["trial", "override", "trial-006A", "--by", AE, "--role", "AE", "--reason", "x" * 50_000],
     "rejected: reason: at most 2000 characters (got 50000)"),
    (["trial", "extend", "trial-006A", "--days", "400", "--reason", "asked", "--by", AE,
      "--role", "AE"],
     "rejected: days: a whole number from 1 to 365 (got 400)"),
    (["opportunity", "trial", "opportunity-006A", "--by", AE, "--role", "AE",
      "--length-days", "3000000"],
     "rejected: length_days: a whole number from 1 to 365 (got 3000000)"),
    (["opportunity", "start", "--opportunity", "006A", "--account", "001A", "--account-name",
      "Acme", "--ae", AE, "--ce", "bob", "--region", "US East / EMEA", "--deployment", "cloud",
      "--tier", "1"],
     f"cannot start the opportunity: ce_owner: {MEMBER} (got 'bob')"),
    (["account", "usage", "001ACME", "--active-users", "10", "--version", "x" * 100_000],
     "rejected: version: at most 100 characters (got 100000)"),
    (["account", "usage", "001ACME", "--active-users", "99999999999", "--version", "5.2"],
     "rejected: active_users: a whole number from 0 to 10000000 (got 99999999999)"),
    (["account", "step", "001ACME", "training-101", "--by", CE, "--role", "CE",
      "--note", "x" * 2001],
     "rejected: note: at most 2000 characters (got 2001)"),
    (["account", "seats", "001ACME", "2000000", "--by", AE, "--role", "AE", "--reason", "m&a"],
     "rejected: seats: a whole number from 1 to 1000000 (got 2000000)"),
    (["account", "feature-request", "001ACME", "x" * 201, "--by", CE, "--role", "CE"],
     "rejected: title: at most 200 characters (got 201)"),
    (["health", "001ACME", "--set", "red", "--reason", "x" * 50_000, "--by", AE, "--role", "AE"],
     "rejected: reason: at most 2000 characters (got 50000)"),
    (["health", "001ACME", "--reading", "usage=50", "--source", "x" * 201],
     "rejected: source: at most 200 characters (got 201)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"), REFUSED, ids=[" ".join(argv[:2]) for argv, _ in REFUSED]
)
def test_out_of_bounds_input_is_refused_naming_the_field_and_nothing_is_sent(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = cli.main(argv)

    assert code == 1
    assert capsys.readouterr().err == f"dealcycle: {message}\n"
    assert (temporal.updates, temporal.signals, temporal.starts) == ([], [], [])


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["trial", "extend", "trial-006A", "--days", "true", "--reason", "r", "--by", AE,
          "--role", "AE"], "--days"),
        (["trial", "extend", "trial-006A", "--days", "2.5", "--reason", "r", "--by", AE,
          "--role", "AE"], "--days"),
        (["account", "usage", "001ACME", "--active-users", "1e21", "--version", "5.2"],
         "--active-users"),
        (["trial", "list", "--limit", "0"], "--limit"),
        (["trial", "list", "--limit", "-1"], "--limit"),
    ],
)  # fmt: skip
def test_numbers_that_are_not_whole_are_usage_errors_before_connecting(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)

    assert exit_info.value.code == 2
    assert f"argument {flag}:" in capsys.readouterr().err
    assert temporal.connected == 0


def test_a_note_at_its_limit_is_sent(temporal: FakeTemporal) -> None:
    code = cli.main(
        ["account", "step", "001ACME", "training-101", "--by", CE, "--role", "CE",
         "--note", "x" * 2000]
    )  # fmt: skip

    assert code == 0
    assert len(temporal.updates) == 1


@pytest.mark.parametrize("name", ["Acme\nCorp", "Acme\x1b[2J", "Acme\tCorp", "Acme\x07"])
@pytest.mark.parametrize(
    "argv",
    [
        ["trial", "start", "--opportunity", "006A", "--account", "001A", "--ce", CE, "--ae", AE,
         "--account-name"],
        ["opportunity", "start", "--opportunity", "006A", "--account", "001A", "--ae", AE,
         "--ce", CE, "--region", "US East / EMEA", "--deployment", "cloud", "--tier", "1",
         "--account-name"],
        ["account", "start", "001A", "--tier", "1", "--renewal-date", "2027-06-01",
         "--seats", "10", "--ae", AE, "--ce", CE, "--name"],
    ],
    ids=["trial", "opportunity", "account"],
)  # fmt: skip
def test_a_name_with_a_line_break_or_control_character_is_a_usage_error(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], name: str
) -> None:
    """A name is one line: an escape sequence in it would be replayed by every terminal that
    shows ``dealcycle status``, and a line break splits its table row."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, name])

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"argument {argv[-1]}: one line without control characters" in err
    assert "\x1b" not in err and "\x07" not in err
    assert temporal.connected == 0 and temporal.starts == []
