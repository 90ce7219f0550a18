"""``dealcycle health`` and ``dealcycle red``: parsing, what each command sends, its errors, and
the tables, without a server.

The commands run through ``starter.cli.main`` against a stand-in for the Temporal client that
holds several workflows (an account and its red-account cases), so each test sees the update or
signal (by name, with its exact dataclass) and the printed answer. ``red list`` reads a real
SQLite Account Tracker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.red_accounts import RedAccountTrackerActivities, StoredRedAccountCase
from dealcycle.db.engine import make_engine
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.migrate import upgrade_to_head
from dealcycle.settings import Settings
from schemas.account import ACCOUNT_WORKFLOW_TYPE, AccountActionAccepted, LifecycleStage
from schemas.common import CustomerHealth, Role
from schemas.health import (
    HEALTH_SIGNAL,
    RED_ACCOUNT_WORKFLOW_TYPE,
    ActionPlanEntry,
    CaseAsk,
    HealthChange,
    HealthSignal,
    HealthView,
    Reading,
    RecordActionPlan,
    RecordAsk,
    RedAccountState,
    SetHealth,
    TrackerClose,
    TrackerOpen,
)
from starter import cli, cli_common, health
from starter.health import parse_reading
from starter.provenance import cli_via
from starter.tables import render_health, render_red_case, render_tracker, span
from starter.trials import CommandError
from tests.support.accounts import DAY, settle, start_account
from tests.support.accounts import case_id as expected_case_id
from workflows.account import AccountWorkflow

CE, AE = "U0CE00001", "U0AE00001"
VIA = cli_via()
"""Every CLI action says it came from the CLI, and by which OS user."""
ACCOUNT = "account-001ACME"
CASE = "red-account-001ACME-2"
OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class FakeWorkflow:
    workflow_type: str
    queries: dict[str, object]
    status: WorkflowExecutionStatus = WorkflowExecutionStatus.RUNNING
    reject_with: str | None = None


@dataclass
class FakeTemporal:
    """Several workflows by id; records every update and signal sent to any of them."""

    workflows: dict[str, FakeWorkflow] = field(default_factory=dict)
    updates: list[tuple[str, str, object]] = field(default_factory=list)
    signals: list[tuple[str, str, object]] = field(default_factory=list)
    connected: int = 0

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)


@dataclass
class FakeHandle:
    temporal: FakeTemporal
    id: str

    @property
    def workflow(self) -> FakeWorkflow:
        return self.temporal.workflows[self.id]

    async def describe(self) -> Any:
        if self.id not in self.temporal.workflows:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return SimpleNamespace(
            workflow_type=self.workflow.workflow_type, status=self.workflow.status
        )

    async def execute_update(self, update: str, request: object, *, result_type: Any = None) -> Any:
        self.temporal.updates.append((self.id, update, request))
        if self.workflow.reject_with:
            raise WorkflowUpdateFailedError(ApplicationError(self.workflow.reject_with))
        if result_type is AccountActionAccepted:
            return AccountActionAccepted(f"{update} accepted", LifecycleStage.ADOPTION)
        # ``act`` takes the update's answer as JSON (a dict), as the real client hands it over.
        return {"message": f"{update} accepted", "action_plan_complete": False}

    async def signal(self, name: str, arg: object) -> None:
        self.temporal.signals.append((self.id, name, arg))

    async def query(self, query: Callable[..., object], **_options: Any) -> Any:
        return self.workflow.queries[query.__name__]


def health_view(**changes: Any) -> HealthView:
    fields: dict[str, Any] = {
        "account_id": "001ACME",
        "account_name": "Acme",
        "colour": "red",
        "score": 29.1,
        "readings": {"usage": 35.0, "sentiment": 20.0},
        "reading_sources": {"usage": "Amplitude"},
        "weights": {"usage": 0.4, "adoption": 0.35, "sentiment": 0.25},
        "green_at": 70.0,
        "yellow_at": 40.0,
        "history": [
            HealthChange(
                CustomerHealth.YELLOW, datetime(2026, 2, 20, 8, 0, tzinfo=UTC), "score",
                "score 55 (usage 55)", 55.0,
            ),
            HealthChange(CustomerHealth.RED, OPENED, CE, "champion left", 29.1),
        ],
        "open_case": CASE,
        "cases_opened": 2,
    }  # fmt: skip
    fields.update(changes)
    return HealthView(**fields)


def case_state(**changes: Any) -> RedAccountState:
    fields: dict[str, Any] = {
        "case_id": CASE,
        "account_id": "001ACME",
        "account_name": "Acme",
        "reasons": ["champion left", "usage down 40%"],
        "opened_at": OPENED,
        "thread_ts": "1772443800.000100",
        "action_plan": [
            ActionPlanEntry(
                Role.CE, CE, "usage halved", "exec sponsor", "weekly calls",
                OPENED + timedelta(hours=2), posted=True,
            )
        ],
        "action_plan_complete": False,
        "missing_from": ["AE"],
        "asks": [CaseAsk(1, CE, "roadmap date for SCIM", OPENED + timedelta(hours=3))],
        "reminders_sent": 1,
        "escalated": False,
        "resolved_at": None,
        "resolved_colour": None,
        "ae_owner": AE,
        "ce_owner": CE,
        "renewal_date": OPENED + 90 * DAY,
    }  # fmt: skip
    fields.update(changes)
    return RedAccountState(**fields)


def account(view: HealthView | None = None, **options: Any) -> FakeWorkflow:
    return FakeWorkflow(ACCOUNT_WORKFLOW_TYPE, {"health": view or health_view()}, **options)


def case(state: RedAccountState | None = None, **options: Any) -> FakeWorkflow:
    return FakeWorkflow(RED_ACCOUNT_WORKFLOW_TYPE, {"state": state or case_state()}, **options)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path / "state")})


@pytest.fixture
def temporal(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> FakeTemporal:
    fake = FakeTemporal({ACCOUNT: account(), CASE: case()})

    async def connect(_settings: Settings) -> FakeTemporal:
        fake.connected += 1
        return fake

    monkeypatch.setattr(cli_common, "connect", connect)
    monkeypatch.setattr(cli_common, "read_settings", lambda: settings)
    monkeypatch.setattr(cli_common, "configure_logging", lambda *_args: None)
    return fake


# --- dealcycle health ---------------------------------------------------------------------------


def test_health_shows_the_accounts_health(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["health", "001ACME"]) == 0

    out = capsys.readouterr().out
    assert out == render_health(health_view(), "RUNNING") + "\n"
    assert temporal.updates == temporal.signals == []


def test_health_set_sends_the_set_health_update(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["health", "001ACME", "--set", "red", "--reason", "champion left", "--by", CE,
         "--role", "CE"]
    )  # fmt: skip

    assert code == 0
    assert temporal.updates == [
        (ACCOUNT, "set_health", SetHealth("red", CE, Role.CE, "champion left", VIA))
    ]
    assert capsys.readouterr().out == "set_health accepted\n"


def test_a_rejected_health_change_prints_the_workflows_reason(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.workflows[ACCOUNT].reject_with = f"{AE} is not the account's CE ({CE} is)"

    code = cli.main(
        ["health", "account-001ACME", "--set", "yellow", "--reason", "x", "--by", AE,
         "--role", "CE"]
    )  # fmt: skip

    assert code == 1
    assert (
        capsys.readouterr().err == f"dealcycle: rejected: {AE} is not the account's CE ({CE} is)\n"
    )


def test_health_readings_are_sent_as_one_signal_in_order(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["health", "001ACME", "--reading", "usage=35", "--reading", " Sentiment = 20.5",
         "--source", "NPS survey"]
    )  # fmt: skip

    assert code == 0
    assert temporal.signals == [
        (
            ACCOUNT,
            HEALTH_SIGNAL,
            HealthSignal("usage", 35.0, "NPS survey", more=[Reading("sentiment", 20.5)]),
        ),
    ]
    assert temporal.updates == []
    assert capsys.readouterr().out == (
        "sent to account-001ACME: usage 35, sentiment 20.5 (source: NPS survey);"
        " `dealcycle health 001ACME` shows the score\n"
    )


def test_a_reading_without_a_source_has_none(temporal: FakeTemporal) -> None:
    assert cli.main(["health", "001ACME", "--reading", "adoption=0"]) == 0

    assert temporal.signals == [(ACCOUNT, HEALTH_SIGNAL, HealthSignal("adoption", 0.0, ""))]


@pytest.mark.parametrize(
    ("reading", "complaint"),
    [
        ("usage=135", "'usage=135': health reading 135.0 is outside 0 to 100"),
        ("usage=-1", "health reading -1.0 is outside 0 to 100"),
        ("usage=nan", "health reading nan is outside 0 to 100"),
        ("usag=30", "unknown health input 'usag'; use usage, adoption or sentiment"),
        ("usage", "'usage' is not INPUT=VALUE, e.g. usage=35"),
        ("usage=", "is not INPUT=VALUE"),
        ("=30", "is not INPUT=VALUE"),
        ("usage=high", "'usage=high': 'high' is not a number from 0 to 100"),
    ],
)
def test_a_bad_reading_is_a_usage_error_before_connecting(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], reading: str, complaint: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["health", "001ACME", "--reading", reading])

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "argument --reading:" in err
    assert complaint in err
    assert temporal.connected == 0


def test_parse_reading_takes_any_case_and_spaces() -> None:
    assert parse_reading("ADOPTION = 70") == ("adoption", 70.0)
    assert parse_reading("usage=100") == ("usage", 100.0)


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--reading", "usage=30", "--reading", "usage=40"],
         "usage is given twice; give one reading per input"),
        (["--set", "red", "--by", CE, "--role", "CE"], "--set needs --reason"),
        (["--set", "red", "--reason", "x"], "--set needs --by, --role"),
        (["--set", "red", "--reason", "x", "--by", CE, "--role", "CE", "--source", "NPS"],
         "--source goes with --reading"),
        (["--reading", "usage=30", "--by", CE, "--reason", "x"], "--reason, --by go with --set"),
        (["--reason", "x"], "--reason goes with --set"),
        (["--source", "NPS"], "--source goes with --reading"),
    ],
)  # fmt: skip
def test_health_flags_that_do_not_belong_together_are_refused_before_connecting(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    assert cli.main(["health", "001ACME", *argv]) == 1

    assert capsys.readouterr().err == f"dealcycle: {complaint}\n"
    assert temporal.connected == 0


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--set", "red", "--reading", "usage=3"], "not allowed with argument"),
        (["--set", "purple"], "argument --set: invalid choice: 'purple'"),
        (["--set", "red", "--reason", "x", "--by", CE, "--role", "VP"], "argument --role"),
    ],
)
def test_health_usage_errors(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["health", "001ACME", *argv])

    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
    assert temporal.connected == 0


def test_readings_for_a_churned_account_are_not_sent(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.workflows[ACCOUNT].status = WorkflowExecutionStatus.COMPLETED

    assert cli.main(["health", "001ACME", "--reading", "usage=50"]) == 1

    assert "account-001ACME is completed; the account's workflow takes no actions" in (
        capsys.readouterr().err
    )
    assert temporal.signals == []


def test_health_of_an_unknown_account(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["health", "001NOPE"]) == 1

    assert capsys.readouterr().err == "dealcycle: there is no workflow 'account-001NOPE'\n"


# --- Rendering health ---------------------------------------------------------------------------


def test_the_health_view_shows_score_inputs_thresholds_history_and_case() -> None:
    text = render_health(health_view(), "RUNNING")
    lines = text.splitlines()

    assert lines[0] == "account-001ACME  health  RUNNING"
    assert "Account      Acme (001ACME)" in lines
    assert f"Health       Red, set by {CE} at 2026-03-02 09:30 UTC: champion left" in lines
    assert "Score        29.1 (red by the thresholds)" in lines
    assert "Thresholds   green at 70 or more, yellow at 40 or more, red below 40" in lines
    assert f"Open case    {CASE}  (2 opened so far; `dealcycle red show 001ACME`)" in lines
    inputs = text.split("\n\n")[1].splitlines()
    assert inputs[0].split() == ["INPUT", "READING", "WEIGHT", "SOURCE"]
    assert [line.split() for line in inputs[2:]] == [
        ["usage", "35", "40%", "Amplitude"],
        ["adoption", "-", "35%", "-"],
        ["sentiment", "20", "25%", "-"],
    ]
    history = text.split("Colour history:\n")[1].splitlines()
    assert history[0].split() == ["WHEN", "(UTC)", "COLOUR", "BY", "SCORE", "WHY"]
    assert history[2].split() == [
        "2026-02-20", "08:00", "yellow", "score", "55", "score", "55", "(usage", "55)",
    ]  # fmt: skip
    assert history[3].split() == ["2026-03-02", "09:30", "red", CE, "29.1", "champion", "left"]


def test_a_new_accounts_health_says_what_it_lacks() -> None:
    view = health_view(
        colour="green",
        score=None,
        readings={},
        reading_sources={},
        history=[],
        open_case=None,
        cases_opened=0,
    )

    lines = render_health(view, "COMPLETED").splitlines()

    assert lines[0] == "account-001ACME  health  COMPLETED"
    assert "Health       Green" in lines
    assert "Score        no readings yet" in lines
    assert "Open case    none (0 opened so far)" in lines
    assert "Colour history: no changes yet" in lines


def test_a_hand_set_colour_shows_what_the_score_says() -> None:
    view = health_view(
        score=82.0,
        history=[HealthChange(CustomerHealth.RED, OPENED, AE, "budget cut", 82.0)],
    )

    lines = render_health(view, "RUNNING").splitlines()

    assert f"Health       Red, set by {AE} at 2026-03-02 09:30 UTC: budget cut" in lines
    assert "Score        82 (green by the thresholds)" in lines


def test_a_colour_from_the_score_says_so() -> None:
    change = HealthChange(CustomerHealth.YELLOW, OPENED, "score", "score 45 (usage 45)", 45.0)
    view = health_view(colour="yellow", score=45.0, history=[change], open_case=None)

    lines = render_health(view, "RUNNING").splitlines()

    assert "Health       Yellow, from the score at 2026-03-02 09:30 UTC: score 45 (usage 45)" in (
        lines
    )
    assert "Score        45 (yellow by the thresholds)" in lines


# --- dealcycle red plan / ask / show ------------------------------------------------------------


def test_red_plan_records_the_owners_part_in_the_open_case(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["red", "plan", "001ACME", "--by", AE, "--role", "AE", "--status", "renewal at risk",
         "--needs", "exec sponsor", "--actions", "QBR next week"]
    )  # fmt: skip

    assert code == 0
    assert temporal.updates == [
        (
            CASE,
            "record_action_plan",
            RecordActionPlan(AE, Role.AE, "renewal at risk", "exec sponsor", "QBR next week", VIA),
        )
    ]
    assert capsys.readouterr().out == f"{CASE}: record_action_plan accepted\n"


def test_red_ask_records_an_ask_in_the_open_case(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["red", "ask", "account-001ACME", "an exec sponsor call", "--by", CE,
                     "--role", "CE"])  # fmt: skip

    assert code == 0
    assert temporal.updates == [
        (CASE, "record_ask", RecordAsk(CE, Role.CE, "an exec sponsor call", via=VIA))
    ]
    assert capsys.readouterr().out == f"{CASE}: record_ask accepted\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "001ACME", "--by", AE, "--role", "AE", "--status", "s", "--needs", "n",
         "--actions", "a"],
        ["ask", "001ACME", "a roadmap date", "--by", AE, "--role", "AE"],
    ],
    ids=["plan", "ask"],
)  # fmt: skip
def test_red_actions_need_an_open_case(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    temporal.workflows[ACCOUNT] = account(health_view(colour="yellow", open_case=None))

    assert cli.main(["red", *argv]) == 1

    assert capsys.readouterr().err == "dealcycle: 001ACME has no open red-account case\n"
    assert temporal.updates == []


def test_a_rejected_case_action_prints_the_workflows_reason(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.workflows[CASE].reject_with = f"{CE} is not the account's AE ({AE} is)"

    code = cli.main(["red", "ask", "001ACME", "help", "--by", CE, "--role", "AE"])

    assert code == 1
    assert (
        capsys.readouterr().err == f"dealcycle: rejected: {CE} is not the account's AE ({AE} is)\n"
    )


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["plan", "001ACME", "--by", AE, "--role", "AE", "--status", "s", "--needs", "n"],
         "--actions"),
        (["plan", "001ACME", "--role", "AE", "--status", "s", "--needs", "n", "--actions", "a"],
         "--by"),
        (["ask", "001ACME", "--by", AE, "--role", "AE"], "TEXT"),
        (["ask", "001ACME", "x", "--by", AE, "--role", "CSM"], "--role"),
        (["show"], "ACCOUNT_ID|CASE_ID"),
    ],
)  # fmt: skip
def test_red_usage_errors(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["red", *argv])

    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
    assert temporal.connected == 0


def test_red_show_shows_the_accounts_open_case(
    temporal: FakeTemporal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["red", "show", "001ACME"]) == 0

    ui, namespace = settings.temporal_ui_url, settings.temporal_namespace
    assert capsys.readouterr().out == render_red_case(case_state(), "RUNNING", ui, namespace) + "\n"


def test_red_show_takes_a_case_id(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    first = "red-account-001ACME-1"
    resolved = case_state(
        case_id=first, resolved_at=OPENED + timedelta(days=1), resolved_colour="green"
    )
    temporal.workflows[first] = case(resolved, status=WorkflowExecutionStatus.COMPLETED)

    assert cli.main(["red", "show", first]) == 0

    assert capsys.readouterr().out.startswith(f"{first}  RedAccountWorkflow  COMPLETED\n")


def test_red_show_of_an_account_without_an_open_case_shows_its_latest(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.workflows[ACCOUNT] = account(health_view(colour="green", open_case=None))
    temporal.workflows[CASE].status = WorkflowExecutionStatus.COMPLETED

    assert cli.main(["red", "show", "001ACME"]) == 0

    assert capsys.readouterr().out.startswith(f"{CASE}  RedAccountWorkflow  COMPLETED\n")


def test_red_show_of_an_account_never_red(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.workflows[ACCOUNT] = account(health_view(open_case=None, cases_opened=0))

    assert cli.main(["red", "show", "001ACME"]) == 1

    assert capsys.readouterr().err == "dealcycle: 001ACME has never had a red-account case\n"


def test_red_show_refuses_a_workflow_that_is_not_a_case(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.workflows[CASE] = account()

    assert cli.main(["red", "show", CASE]) == 1

    assert "is an AccountWorkflow, not a RedAccountWorkflow" in capsys.readouterr().err


# --- Rendering a case ---------------------------------------------------------------------------


def test_the_case_shows_reasons_plan_asks_and_what_is_missing() -> None:
    text = render_red_case(case_state(), "RUNNING", "http://ui:8233", "default")
    lines = text.splitlines()

    assert lines[0] == f"{CASE}  RedAccountWorkflow  RUNNING"
    assert "Account      Acme (001ACME)" in lines
    assert "Opened       2026-03-02 09:30 UTC" in lines
    assert "Why red      champion left; usage down 40%" in lines
    assert f"Owners       AE {AE}, CE {CE}" in lines
    assert "Renewal      2026-05-31" in lines
    assert "Resolved     not yet" in lines
    assert "Slack thread 1772443800.000100" in lines
    assert "Action plan  waiting for the AE" in lines
    assert "Reminders    1 sent" in lines
    assert "Escalated    no" in lines
    assert f"  CE {CE} at 2026-03-02 11:30 UTC" in lines
    assert "    current status    usage halved" in lines
    assert "    needs             exec sponsor" in lines
    assert "    intended actions  weekly calls" in lines
    assert "Asks of the business (UTC):" in lines
    assert f"  #1  2026-03-02 12:30  {CE}  roadmap date for SCIM" in lines
    assert lines[-1] == f"Temporal UI  http://ui:8233/namespaces/default/workflows/{CASE}"


def test_a_resolved_case_says_how_and_after_how_long() -> None:
    state = case_state(
        thread_ts=None,
        action_plan=[],
        action_plan_complete=False,
        missing_from=["AE", "CE"],
        asks=[],
        escalated=True,
        resolved_at=OPENED + timedelta(days=4, hours=2, minutes=5),
        resolved_colour="yellow",
    )

    lines = render_red_case(state, "COMPLETED", "http://ui", "default").splitlines()

    assert "Resolved     2026-03-06 11:35 UTC, yellow (after 4d 2h)" in lines
    assert "Slack thread not posted yet" in lines
    assert "Action plan  waiting for the AE and the CE" in lines
    assert "Escalated    yes" in lines
    assert "Action plan: nothing recorded yet" in lines
    assert "Asks of the business: none" in lines


# --- The Account Tracker ------------------------------------------------------------------------


def stored(**changes: Any) -> StoredRedAccountCase:
    row = StoredRedAccountCase(
        case_id=CASE,
        account_id="001ACME",
        account_name="Acme",
        tier=1,
        ae_owner=AE,
        ce_owner=CE,
        reasons=["champion left", "usage down 40%"],
        opened_at=OPENED,
        status="open",
        action_plan_complete=False,
        escalated=True,
        slack_channel="#red-accounts",
        slack_ts="1772443800.000100",
        workflow_url="",
        resolved_at=None,
        resolved_colour=None,
        resolved_by=None,
        resolution=None,
        time_to_resolution_seconds=None,
    )
    return replace(row, **changes)


def test_the_tracker_shows_age_of_open_cases_and_time_to_resolution_of_closed_ones() -> None:
    closed = stored(
        case_id="red-account-001INIT-1",
        account_id="001INIT",
        account_name="Initech",
        tier=2,
        reasons=["renewal risks: budget"],
        status="closed",
        action_plan_complete=True,
        escalated=False,
        resolved_at=OPENED + timedelta(hours=30),
        resolved_colour="green",
        time_to_resolution_seconds=30 * 3600 + 59,
    )
    now = OPENED + timedelta(days=2, hours=3, minutes=40)

    lines = render_tracker([stored(), closed], now).splitlines()

    assert lines[0].split() == [
        "CASE", "ACCOUNT", "TIER", "AE", "CE", "OPENED", "(UTC)", "STATUS", "AGE", "/",
        "RESOLVED", "IN", "PLAN", "COMPLETE", "ESCALATED", "WHY",
    ]  # fmt: skip
    assert set(lines[1]) == {"-", " "}
    open_row = [cell.strip() for cell in lines[2].split("  ") if cell.strip()]
    assert open_row == [
        CASE, "Acme (001ACME)", "1", AE, CE, "2026-03-02 09:30", "open", "2d 3h", "no", "yes",
        "champion left; usage down 40%",
    ]  # fmt: skip
    closed_row = [cell.strip() for cell in lines[3].split("  ") if cell.strip()]
    assert closed_row == [
        "red-account-001INIT-1", "Initech (001INIT)", "2", AE, CE, "2026-03-02 09:30",
        "resolved green", "1d 6h", "yes", "no", "renewal risks: budget",
    ]  # fmt: skip
    assert lines[2].index("champion") == lines[3].index("renewal") == lines[0].index("WHY")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0m"), (59, "0m"), (61, "1m"), (3 * 3600 + 5 * 60, "3h 5m"), (86400, "1d 0h"), (-5, "0m")],
)
def test_span(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


async def _tracker(settings: Settings) -> None:
    """Two cases of Acme (the first resolved) and one of Initech, in the settings' database."""
    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    tracker = RedAccountTrackerActivities(engine, IdempotencyLedger(engine))
    env = ActivityEnvironment()
    for case_id, account_id, name, opened in [
        ("red-account-001ACME-1", "001ACME", "Acme", OPENED - timedelta(days=30)),
        (CASE, "001ACME", "Acme", OPENED),
        ("red-account-001INIT-1", "001INIT", "Initech", OPENED + timedelta(hours=1)),
    ]:
        await env.run(
            tracker.open_red_account_case,
            TrackerOpen(
                f"{case_id}/open", case_id, account_id, name, 1, AE, CE, "champion left",
                opened, "#red-accounts", "1.0", "",
            ),
        )  # fmt: skip
    await env.run(
        tracker.close_red_account_case,
        TrackerClose(
            "red-account-001ACME-1/close", "red-account-001ACME-1",
            OPENED - timedelta(days=28), "green", CE, "usage back",
        ),
    )  # fmt: skip
    engine.dispose()


def _cases(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[2:]]


async def test_red_list_reads_the_account_tracker(
    temporal: FakeTemporal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    await _tracker(settings)

    assert cli.main(["red", "list"]) == 0
    out = capsys.readouterr().out
    assert _cases(out) == ["red-account-001INIT-1", CASE]
    assert "ESCALATED" in out.splitlines()[0]

    assert cli.main(["red", "list", "--all", "--account", "account-001ACME"]) == 0
    out = capsys.readouterr().out
    assert _cases(out) == [CASE, "red-account-001ACME-1"]
    assert "resolved green  2d 0h" in out

    assert cli.main(["red", "list", "--account", "001NONE"]) == 0
    assert capsys.readouterr().out == "no open red-account cases for 001NONE\n"
    assert temporal.connected == 0


def test_red_list_without_the_tracker_table_says_so(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["red", "list", "--all"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("dealcycle: cannot read the Account Tracker: no such table")
    assert "the worker creates the table when it starts" in err


# --- Against the workflows (time-skipping server) ---------------------------------------------


async def test_health_and_red_commands_against_the_workflows(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        client, settings = harness.client, harness.settings
        account_handle = await start_account(
            client, harness.env, harness.task_queue, settings, salesforce_fake, "001CLIH",
            200 * DAY, stage=LifecycleStage.ADOPTION, track=harness.track,
        )  # fmt: skip

        signal = health.health_signal([("usage", 80.0), ("adoption", 75.0)], "analytics")
        sent = await health.send_health_signal(client, "001CLIH", signal)
        assert sent.startswith("sent to account-001CLIH: usage 80, adoption 75")
        await settle(account_handle)
        shown = (await health.render_health_status(client, "001CLIH")).splitlines()
        assert "Score        77.7 (green by the thresholds)" in shown
        assert any(line.split()[:4] == ["usage", "80", "40%", "analytics"] for line in shown)

        with pytest.raises(CommandError, match="001CLIH has no open red-account case"):
            await health.record_ask(client, "001CLIH", "help", actor=AE, role=Role.AE)
        with pytest.raises(CommandError, match=f"rejected: {AE} is not the account's CE"):
            await health.set_health(
                client, "001CLIH", "red", actor=AE, role=Role.CE, reason="champion left"
            )
        answer = await health.set_health(
            client, "001CLIH", "red", actor=CE, role=Role.CE, reason="champion left"
        )
        assert answer.startswith("health is now red")
        await settle(account_handle)
        case_id = await health.open_case(client, "account-001CLIH")
        assert case_id == expected_case_id(account_handle, 1)
        case_handle = client.get_workflow_handle(case_id)
        harness.track(case_handle)
        await settle(case_handle)

        answer = await health.record_action_plan(
            client, "001CLIH", actor=CE, role=Role.CE, current_status="usage fine",
            needs="a new champion", intended_actions="meet the VP",
        )  # fmt: skip
        assert answer == f"{case_id}: CE part recorded; waiting for the AE"
        answer = await health.record_ask(client, "001CLIH", "exec sponsor", actor=AE, role=Role.AE)
        assert answer.startswith(f"{case_id}: ask #1 recorded")
        with pytest.raises(CommandError, match="rejected: the ask is empty"):
            await health.record_ask(client, "001CLIH", "  ", actor=AE, role=Role.AE)

        case_text = await health.render_case_status(client, "001CLIH", "http://ui", "default")
        lines = case_text.splitlines()
        assert lines[0] == f"{case_id}  RedAccountWorkflow  RUNNING"
        assert "Why red      champion left" in lines
        assert "Action plan  waiting for the AE" in lines
        assert any(line.endswith(f"{AE}  exec sponsor") for line in lines)

        await settle(case_handle)
        [row] = health.read_tracker(settings.database_url, account="account-001CLIH")
        assert (row.case_id, row.status, row.reasons) == (case_id, "open", ["champion left"])


async def test_readings_sent_together_are_judged_together_and_open_no_case_on_the_way(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """Yellow (42) before and after: usage falls as adoption and sentiment recover. Judged one
    reading at a time, usage 10 alone made the score 10, red: a case opened, was posted in
    #red-accounts and resolved, and Salesforce went Red and back, for readings ending yellow."""
    async with harness_factory() as harness:
        client = harness.client
        account_handle = await start_account(
            client, harness.env, harness.task_queue, harness.settings, salesforce_fake,
            "001CLITOG", 200 * DAY, stage=LifecycleStage.ADOPTION, track=harness.track,
        )  # fmt: skip
        before = [("usage", 90.0), ("adoption", 10.0), ("sentiment", 10.0)]
        await health.send_health_signal(client, "001CLITOG", health.health_signal(before))
        await settle(account_handle)
        assert (await account_handle.query(AccountWorkflow.health)).colour == "yellow"

        after = [("usage", 10.0), ("adoption", 90.0), ("sentiment", 90.0)]
        await health.send_health_signal(client, "001CLITOG", health.health_signal(after))
        await settle(account_handle)

        view = await account_handle.query(AccountWorkflow.health)
        assert (view.colour, view.score) == ("yellow", 58.0)
        assert [change.colour.value for change in view.history] == ["yellow"]
        assert view.cases_opened == 0
        assert slack_fake.messages_in("#red-accounts") == []
