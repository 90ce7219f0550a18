"""``dealcycle account``: parsing, plan files, dates and the status table, without a server.

The commands run through ``starter.cli.main`` against a recording stand-in for the Temporal
client, so each test sees the update (by name), the request dataclass and the printed answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import (
    ApplicationError,
    TimeoutType,
    WorkflowAlreadyStartedError,
)
from temporalio.exceptions import TimeoutError as WorkflowTimeoutError
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.settings import Settings
from schemas.account import (
    ACCOUNT_WORKFLOW_TYPE,
    USAGE_REPORTED_SIGNAL,
    AccountActionAccepted,
    AccountHandOff,
    AccountProfile,
    AccountStart,
    AccountState,
    AuditEntry,
    ChangeCadence,
    ChangeTier,
    CompleteAccountStep,
    CompleteOnboarding,
    CompleteProfile,
    ExpandSeats,
    LifecycleStage,
    PlanContacts,
    RecordFeatureRequest,
    RecordKickoffPlan,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    ReportProductionReady,
    StepView,
    SubmitAccountPlan,
    UsageReport,
)
from schemas.account_changes import MoveRenewalDate, ReassignOwner
from schemas.common import Role
from schemas.opportunity_lookup import (
    OPPORTUNITY_LOOKUP_ID_PREFIX,
    OpportunityFound,
    OpportunityLookup,
)
from schemas.start_summaries import opportunity_lookup
from schemas.steps import SnoozeStep
from starter import accounts, cli, cli_common
from starter import opportunity_lookup as opportunity_lookup_module
from starter.provenance import cli_via
from starter.tables import render_account
from starter.trials import CommandError
from tests.support import accounts as driven
from workflows.owed_work import OwedWorkHandlers

CE, AE = "U0CE00001", "U0AE00001"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@dataclass
class FakeTemporal:
    """Records what the CLI sends; answers as an account's workflow would."""

    workflow_type: str = ACCOUNT_WORKFLOW_TYPE
    status: WorkflowExecutionStatus | None = WorkflowExecutionStatus.RUNNING
    exists: bool = True
    reject_with: str | None = None
    state: AccountState | None = None
    updates: list[tuple[str, str, object, object]] = field(default_factory=list)
    signals: list[tuple[str, str, object]] = field(default_factory=list)
    starts: list[tuple[object, dict[str, Any]]] = field(default_factory=list)
    connected: int = 0
    opportunities: set[str] = field(default_factory=set)
    """What the worker's Salesforce has, as ``OpportunityLookupWorkflow`` would answer."""
    lookups: list[tuple[object, dict[str, Any]]] = field(default_factory=list)
    no_worker: str = ""
    """``waits``: no worker takes the lookup, which waits for ever; ``times-out``: the server
    ends its run (its execution timeout) first."""

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    async def execute_workflow(
        self, _run: object, lookup: OpportunityLookup, **options: Any
    ) -> OpportunityFound:
        self.lookups.append((lookup, options))
        if self.no_worker == "waits":
            await asyncio.Event().wait()
        if self.no_worker == "times-out":
            timeout = WorkflowTimeoutError(
                "", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]
            )
            raise WorkflowFailureError(cause=timeout)
        return OpportunityFound(lookup.opportunity_id, lookup.opportunity_id in self.opportunities)

    async def start_workflow(self, _run: object, start: object, **options: Any) -> None:
        if self.exists and self.status is WorkflowExecutionStatus.RUNNING:
            raise WorkflowAlreadyStartedError(options["id"], ACCOUNT_WORKFLOW_TYPE)
        self.starts.append((start, options))


@dataclass
class FakeHandle:
    temporal: FakeTemporal
    id: str

    async def describe(self) -> Any:
        if not self.temporal.exists:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return SimpleNamespace(
            workflow_type=self.temporal.workflow_type, status=self.temporal.status
        )

    async def execute_update(self, update: str, request: object, *, result_type: Any) -> Any:
        self.temporal.updates.append((self.id, update, request, result_type))
        if self.temporal.reject_with:
            raise WorkflowUpdateFailedError(ApplicationError(self.temporal.reject_with))
        return AccountActionAccepted(f"{update} accepted", LifecycleStage.ONBOARDING)

    async def signal(self, name: str, arg: object) -> None:
        self.temporal.signals.append((self.id, name, arg))

    async def query(self, _query: object, **_options: Any) -> Any:
        return self.temporal.state


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path / "state")})


@pytest.fixture
def temporal(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> FakeTemporal:
    fake = FakeTemporal()

    async def connect(_settings: Settings) -> FakeTemporal:
        fake.connected += 1
        return fake

    monkeypatch.setattr(cli_common, "connect", connect)
    monkeypatch.setattr(cli_common, "read_settings", lambda: settings)
    monkeypatch.setattr(cli_common, "configure_logging", lambda *_args: None)
    return fake


def run(*argv: str) -> int:
    return cli.main(["account", *argv])


def the_update(temporal: FakeTemporal) -> tuple[str, str, object]:
    assert len(temporal.updates) == 1
    workflow_id, update, request, result_type = temporal.updates[0]
    assert result_type is AccountActionAccepted
    # Every CLI action says it came from the CLI, and by which OS user (starter.provenance).
    assert request.via == cli_via()
    return workflow_id, update, dataclasses.replace(request, via="")


# --- Each action: parsed, built and sent by name ----------------------------------------------

ACTIONS: list[tuple[list[str], str, object]] = [
    (
        [
            "kickoff", "001ACME", "--by", CE, "--role", "CE", "--cadence", "bi-weekly",
            "--training", "security", "--training", "api", "--integration-help",
            "--initiative", "SSO rollout",
        ],
        "record_kickoff_plan",
        RecordKickoffPlan(CE, Role.CE, "bi-weekly", ["security", "api"], True, ["SSO rollout"]),
    ),
    (
        ["kickoff", "001ACME", "--by", CE, "--role", "CE", "--cadence", "as-needed"],
        "record_kickoff_plan",
        RecordKickoffPlan(CE, Role.CE, "as-needed", [], False, []),
    ),
    (
        ["production-ready", "001ACME", "--by", CE, "--role", "CE"],
        "report_production_ready",
        ReportProductionReady(CE, Role.CE),
    ),
    (
        ["step", "001ACME", "training-101", "--by", CE, "--role", "CE", "--note", "12 people"],
        "complete_step",
        CompleteAccountStep("training-101", CE, Role.CE, "12 people"),
    ),
    (
        ["onboarding-complete", "001ACME", "--by", CE, "--role", "CE"],
        "complete_onboarding",
        CompleteOnboarding(CE, Role.CE),
    ),
    (
        ["cadence", "001ACME", "monthly", "--by", AE, "--role", "AE"],
        "change_cadence",
        ChangeCadence("monthly", AE, Role.AE),
    ),
    (
        ["tier", "001ACME", "2", "--by", AE, "--role", "AE", "--reason", "grew"],
        "change_tier",
        ChangeTier(2, AE, Role.AE, "grew"),
    ),
    (
        ["profile", "001ACME", "--by", AE, "--role", "AE", "--tier", "1", "--seats", "80"],
        "complete_profile",
        CompleteProfile(AE, Role.AE, tier=1, seats=80),
    ),
    (
        [
            "profile", "001ACME", "--by", AE, "--role", "AE", "--ae", AE, "--ce", CE,
            "--renewal-date", "2027-06-30",
        ],
        "complete_profile",
        CompleteProfile(AE, Role.AE, ae_owner=AE, ce_owner=CE, renewal_date=midnight(2027, 6, 30)),
    ),
    (
        [
            "assessment", "001ACME", "--by", AE, "--role", "AE", "--risk", "budget",
            "--risk", "champion left",
        ],
        "record_renewal_assessment",
        RecordRenewalAssessment(AE, Role.AE, ["budget", "champion left"]),
    ),
    (
        ["assessment", "001ACME", "--by", CE, "--role", "CE"],
        "record_renewal_assessment",
        RecordRenewalAssessment(CE, Role.CE, []),
    ),
    (
        ["assessment", "001ACME", "--by", CE, "--role", "CE", "--risk", "EOL", "--turns-red"],
        "record_renewal_assessment",
        RecordRenewalAssessment(CE, Role.CE, ["EOL"], turns_red=True),
    ),
    (
        ["renewal-call", "001ACME", "--by", AE, "--role", "AE", "--note", "went well"],
        "record_renewal_call",
        RecordRenewalCall(AE, Role.AE, "went well"),
    ),
    (
        [
            "renewal-outcome", "001ACME", "seat_expansion", "--by", AE, "--role", "AE",
            "--next-renewal-date", "2028-06-30", "--seats", "120", "--note", "signed",
        ],
        "record_renewal_outcome",
        RecordRenewalOutcome(
            "seat_expansion", AE, Role.AE, midnight(2028, 6, 30), 120, "", "signed"
        ),
    ),
    (
        [
            "renewal-date", "001ACME", "--date", "2028-03-31", "--reason", "co-terming",
            "--by", AE, "--role", "AE",
        ],
        "move_renewal_date",
        MoveRenewalDate(midnight(2028, 3, 31), AE, Role.AE, "co-terming"),
    ),
    (
        ["reassign", "001ACME", "--role", "CE", "--to", "U0CE00002", "--by", "U0CELEAD1"],
        "reassign_owner",
        ReassignOwner(Role.CE, "U0CE00002", "U0CELEAD1"),
    ),
    (
        [
            "reassign", "001ACME", "--role", "AE", "--to", "U0AE00002", "--by", AE,
            "--reason", "moves to EMEA",
        ],
        "reassign_owner",
        ReassignOwner(Role.AE, "U0AE00002", AE, "moves to EMEA"),
    ),
    (
        ["seats", "001ACME", "60", "--by", AE, "--role", "AE", "--reason", "new hires"],
        "expand_seats",
        ExpandSeats(60, AE, Role.AE, "new hires"),
    ),
    (
        ["feature-request", "001ACME", "SCIM", "--by", CE, "--role", "CE", "--detail", "Okta"],
        "record_feature_request",
        RecordFeatureRequest("SCIM", CE, Role.CE, "Okta"),
    ),
    (
        # The workflow id is taken as well as the account id.
        ["step", "account-001ACME", "qbr-2027-Q2", "--by", AE, "--role", "AE"],
        "complete_step",
        CompleteAccountStep("qbr-2027-Q2", AE, Role.AE),
    ),
    (
        ["snooze", "001ACME", "kickoff-plan", "--by", AE],
        "snooze_step",
        SnoozeStep("kickoff-plan", AE, 1),
    ),
    (
        ["snooze", "001ACME", "kickoff-plan", "--by", CE, "--days", "3"],
        "snooze_step",
        SnoozeStep("kickoff-plan", CE, 3),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "update", "request_sent"),
    ACTIONS,
    ids=[f"{argv[0]}-{number}" for number, (argv, _, _) in enumerate(ACTIONS)],
)
def test_each_action_sends_its_update_by_name_and_prints_the_answer(
    temporal: FakeTemporal,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    update: str,
    request_sent: object,
) -> None:
    code = run(*argv)

    assert code == 0
    assert the_update(temporal) == ("account-001ACME", update, request_sent)
    assert capsys.readouterr().out == f"{update} accepted\n"


def test_every_update_of_the_workflow_has_a_command() -> None:
    sent = {update for _, update, _ in ACTIONS} | {"submit_account_plan"}

    assert sent == {
        "record_kickoff_plan",
        "report_production_ready",
        "complete_step",
        "complete_onboarding",
        "change_cadence",
        "change_tier",
        "complete_profile",
        "submit_account_plan",
        "record_renewal_assessment",
        "record_renewal_call",
        "record_renewal_outcome",
        "expand_seats",
        "record_feature_request",
        "move_renewal_date",
        "reassign_owner",
        "snooze_step",
    }


def test_usage_sends_the_usage_signal(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        "usage", "001ACME", "--active-users", "42", "--version", "3.2.1",
        "--support-item", "SUP-1", "--support-item", "SUP-2",
    )  # fmt: skip

    assert code == 0
    [(workflow_id, name, report)] = temporal.signals
    assert (workflow_id, name) == ("account-001ACME", USAGE_REPORTED_SIGNAL)
    assert isinstance(report, UsageReport)
    assert (report.active_users, report.version) == (42, "3.2.1")
    assert report.open_support_items == ["SUP-1", "SUP-2"]
    assert report.reported_at is not None and report.reported_at.tzinfo is UTC
    assert "42 active users on 3.2.1, 2 open support items" in capsys.readouterr().out


@pytest.mark.parametrize("version", ["", "   "])
def test_usage_without_a_version_is_refused_before_sending(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    # Only this command sends usage reports (the feed sends health readings): an empty
    # version is a mistake, which the account would keep and show as "• Version: ".
    code = run("usage", "001ACME", "--active-users", "5", "--version", version)

    assert code == 1
    assert capsys.readouterr().err == (
        "dealcycle: rejected: version: the version the customer runs, 1 to 100 characters"
        " (got an empty one)\n"
    )
    assert temporal.signals == []


@pytest.mark.parametrize("item", ["", "  "])
def test_usage_with_an_empty_support_item_is_refused_before_sending(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], item: str
) -> None:
    code = run(
        "usage", "001ACME", "--active-users", "5", "--version", "3.2.1",
        "--support-item", "SUP-1", "--support-item", item,
    )  # fmt: skip

    assert code == 1
    assert capsys.readouterr().err == (
        "dealcycle: rejected: open_support_items: each support item is 1 to 500 characters"
        " (got an empty one)\n"
    )
    assert temporal.signals == []


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["kickoff", "001ACME", "--by", CE, "--role", "VE", "--cadence", "weekly"], "--role"),
        (["kickoff", "001ACME", "--by", CE, "--role", "CE", "--cadence", "daily"], "--cadence"),
        (["kickoff", "001ACME", "--role", "CE", "--cadence", "weekly"], "--by"),
        (["cadence", "001ACME", "fortnightly", "--by", CE, "--role", "CE"], "CADENCE"),
        (["tier", "001ACME", "4", "--by", AE, "--role", "AE", "--reason", "x"], "TIER"),
        (["tier", "001ACME", "2", "--by", AE, "--role", "AE"], "--reason"),
        (["seats", "001ACME", "0", "--by", AE, "--role", "AE", "--reason", "x"], "SEATS"),
        (["renewal-outcome", "001ACME", "lost", "--by", AE, "--role", "AE"], "OUTCOME"),
        (["renewal-outcome", "001ACME", "new_team", "--by", AE, "--role", "AE",
          "--team-seats", "0"], "--team-seats"),
        (["renewal-date", "001ACME", "--date", "2028-03-31", "--by", AE, "--role", "AE"],
         "--reason"),
        (["renewal-date", "001ACME", "--reason", "x", "--by", AE, "--role", "AE"], "--date"),
        (["reassign", "001ACME", "--role", "VE", "--to", AE, "--by", CE], "--role"),
        (["reassign", "001ACME", "--role", "CE", "--by", CE], "--to"),
        (["usage", "001ACME", "--active-users", "-3", "--version", "3"], "--active-users"),
        (["plan", "001ACME", "--quarter", "2027-Q5", "--file", "p.json", "--by", AE,
          "--role", "AE"], "--quarter"),
        (["start", "001ACME", "--name", "Acme", "--tier", "1", "--renewal-date", "2027-06-30",
          "--seats", "10", "--ae", AE, "--ce", CE, "--stage", "churned"], "--stage"),
        (["start", "001ACME", "--name", "Acme", "--tier", "1", "--renewal-date", "2027-06-30",
          "--seats", "10", "--ae", AE, "--ce", CE, "--region", "Mars"], "--region"),
    ],
)  # fmt: skip
def test_bad_arguments_are_usage_errors_naming_the_argument(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(*argv)

    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
    assert temporal.connected == 0


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["start", "001ACME", "--name", "Acme", "--tier", "1", "--renewal-date", "2027-13-01",
          "--seats", "10", "--ae", AE, "--ce", CE], "--renewal-date"),
        (["profile", "001ACME", "--by", AE, "--role", "AE", "--renewal-date", "30/06/2027"],
         "--renewal-date"),
        (["renewal-outcome", "001ACME", "renewed", "--by", AE, "--role", "AE",
          "--next-renewal-date", "next year"], "--next-renewal-date"),
        (["renewal-date", "001ACME", "--date", "31/03/2028", "--reason", "x", "--by", AE,
          "--role", "AE"], "--date"),
    ],
)  # fmt: skip
def test_a_bad_date_names_its_flag(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str], argv: list[str], flag: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(*argv)

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"argument {flag}:" in err
    assert "is not a date; use YYYY-MM-DD" in err


def test_a_profile_change_must_name_something(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("profile", "001ACME", "--by", AE, "--role", "AE")

    assert code == 1
    assert "nothing to change" in capsys.readouterr().err
    assert temporal.connected == 0


# --- Rejections and missing workflows ---------------------------------------------------------


def test_a_rejected_action_prints_the_workflows_reason(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.reject_with = "the kickoff plan is recorded already"

    code = run("kickoff", "001ACME", "--by", CE, "--role", "CE", "--cadence", "weekly")

    assert code == 1
    assert capsys.readouterr().err == (
        "dealcycle: rejected: the kickoff plan is recorded already\n"
    )


async def test_an_unknown_account_or_a_closed_one_takes_no_action() -> None:
    missing: Any = FakeTemporal(exists=False)
    with pytest.raises(CommandError, match="there is no workflow 'account-001NOPE'"):
        await accounts.complete_step(missing, "001NOPE", "qbr", actor=AE, role=Role.AE)

    churned: Any = FakeTemporal(status=WorkflowExecutionStatus.COMPLETED)
    with pytest.raises(CommandError, match="account-001GONE is completed"):
        await accounts.report_usage(churned, "001GONE", active_users=1, version="1")

    trial: Any = FakeTemporal(workflow_type="TrialWorkflow")
    with pytest.raises(CommandError, match="account-006X is a TrialWorkflow, not an Account"):
        await accounts.change_cadence(trial, "account-006X", "weekly", actor=CE, role=Role.CE)

    deal: Any = FakeTemporal(workflow_type="OpportunityWorkflow")
    with pytest.raises(
        CommandError, match=r"opportunity-006X is an OpportunityWorkflow, not an AccountWorkflow$"
    ):
        await accounts.change_cadence(deal, "opportunity-006X", "weekly", actor=CE, role=Role.CE)

    assert missing.updates == churned.signals == trial.updates == deal.updates == []


# --- The plan file ----------------------------------------------------------------------------

FULL_PLAN: dict[str, Any] = {
    "contacts": {
        "champion": "Dana (VP Eng)",
        "economic_buyer": "Sam (CTO)",
        "advocate": "Lee",
        "admin": "Kim",
    },
    "use_cases": ["CI caching", "SSO"],
    "health": "yellow",
    "expansion_opportunities": ["data team"],
    "risks": ["budget freeze"],
    "product_feedback_themes": ["audit logs"],
    "objectives": ["roll out to 3 teams"],
    "next_steps": "QBR in May",
    "link": "https://docs.example.com/acme-2027-q2",
}


def write_plan(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_plan_sends_the_file_as_the_quarters_plan(
    temporal: FakeTemporal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_plan(tmp_path, FULL_PLAN)

    code = run(
        "plan", "001ACME", "--quarter", "2027-Q2", "--file", str(path), "--by", AE, "--role", "AE"
    )

    assert code == 0
    _, update, request = the_update(temporal)
    assert update == "submit_account_plan"
    assert request == SubmitAccountPlan(
        quarter="2027-Q2",
        actor=AE,
        role=Role.AE,
        contacts=PlanContacts("Dana (VP Eng)", "Sam (CTO)", "Lee", "Kim"),
        use_cases=["CI caching", "SSO"],
        health="yellow",
        expansion_opportunities=["data team"],
        risks=["budget freeze"],
        product_feedback_themes=["audit logs"],
        objectives=["roll out to 3 teams"],
        next_steps="QBR in May",
        link="https://docs.example.com/acme-2027-q2",
    )


def test_missing_plan_sections_are_passed_on_empty_for_the_workflow_to_name(
    tmp_path: Path,
) -> None:
    path = write_plan(tmp_path, {"contacts": {"champion": "Dana"}, "use_cases": ["SSO"]})

    plan = accounts.load_account_plan(path, quarter="2027-Q2", actor=CE, role=Role.CE)

    assert plan.contacts == PlanContacts("Dana", "", "", "")
    assert plan.use_cases == ["SSO"]
    assert (plan.health, plan.next_steps, plan.link) == ("", "", "")
    assert plan.risks == plan.objectives == plan.expansion_opportunities == []
    assert plan.product_feedback_themes == []


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('{"use_cases": ["SSO",]}', r"is not valid JSON: .* \(line 1, column \d+\)"),
        ("", "is not valid JSON"),
        ("[1, 2]", "must be a JSON object, not a list"),
        ({**FULL_PLAN, "use_cases": "SSO"}, "'use_cases' must be a list of strings, not a string"),
        ({**FULL_PLAN, "risks": ["a", 2]}, "'risks' must be a list of strings, not a list with"),
        ({**FULL_PLAN, "health": 3}, "'health' must be a string, not a number"),
        ({**FULL_PLAN, "link": None}, "'link' must be a string, not null"),
        ({**FULL_PLAN, "contacts": ["Dana"]}, "'contacts' must be a JSON object, not a list"),
        (
            {**FULL_PLAN, "contacts": {"champion": 7}},
            "'contacts.champion' must be a string, not a number",
        ),
        (
            {**FULL_PLAN, "contacts": {"sponsor": "Dana"}},
            "'contacts' has unknown key 'sponsor'; the keys are: champion, economic_buyer",
        ),
        ({**FULL_PLAN, "usecases": []}, "unknown key 'usecases'; the keys are: contacts,"),
        # Not a section: it was listed as one, taken and dropped without a word.
        ({**FULL_PLAN, "via": "slack"}, r"unknown key 'via'; the keys are: [a-z_, ]+, link$"),
    ],
)
def test_a_bad_plan_file_names_the_problem(tmp_path: Path, content: object, complaint: str) -> None:
    path = write_plan(tmp_path, content)

    with pytest.raises(CommandError, match=complaint):
        accounts.load_account_plan(path, quarter="2027-Q2", actor=CE, role=Role.CE)


def test_a_missing_plan_file_is_an_error_before_connecting(
    temporal: FakeTemporal, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"

    code = run(
        "plan",
        "001ACME",
        "--quarter",
        "2027-Q2",
        "--file",
        str(missing),
        "--by",
        AE,
        "--role",
        "AE",
    )

    assert code == 1
    assert capsys.readouterr().err == f"dealcycle: plan file {missing} does not exist\n"
    assert temporal.connected == 0


def test_a_plan_file_that_is_not_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe\x00{")

    with pytest.raises(CommandError, match=f"cannot read plan file {path}"):
        accounts.load_account_plan(path, quarter="2027-Q2", actor=CE, role=Role.CE)


# --- Start ------------------------------------------------------------------------------------

# Renewal dates are bounded (within 10 years of today): a year or so ahead of today.
RENEWAL_DAY = (datetime.now(UTC) + timedelta(days=400)).date()
START = [
    "start", "001ACME", "--name", "Acme", "--tier", "2", "--renewal-date",
    RENEWAL_DAY.isoformat(), "--seats", "40", "--ae", AE, "--ce", CE,
]  # fmt: skip


def test_start_brings_in_a_customer_with_its_whole_profile(
    temporal: FakeTemporal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.exists = False

    code = run(*START, "--region", "US East / EMEA", "--stage", "adoption", "--cadence", "monthly")

    assert code == 0
    [(start, options)] = temporal.starts
    assert start == AccountStart(
        "001ACME",
        "Acme",
        profile=AccountProfile(
            "001ACME",
            "Acme",
            tier=2,
            region="US East / EMEA",
            ae_owner=AE,
            ce_owner=CE,
            seats=40,
            renewal_date=midnight(RENEWAL_DAY.year, RENEWAL_DAY.month, RENEWAL_DAY.day),
        ),
        stage=LifecycleStage.ADOPTION,
        cadence="monthly",
        config=settings.account_config(),
    )
    assert (options["id"], options["task_queue"]) == ("account-001ACME", settings.task_queue)
    assert capsys.readouterr().out.startswith("started account-001ACME (adoption)\n")


def test_start_leaves_a_running_account_as_it_is(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(*START)

    assert code == 1
    assert "account-001ACME is already running; nothing changed" in capsys.readouterr().err
    assert temporal.starts == []


def test_start_checks_the_workflows_start_rules(settings: Settings) -> None:
    with pytest.raises(CommandError, match="renewal date 2026-01-31 is in the past"):
        accounts.account_start_for(
            settings,
            account_id="001ACME",
            account_name="Acme",
            tier=1,
            renewal_date=midnight(2026, 1, 31),
            seats=10,
            ae_owner=AE,
            ce_owner=CE,
            now=NOW,
        )


def test_start_with_a_past_renewal_date_starts_nothing(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.exists = False
    past = [*START]
    past[past.index(RENEWAL_DAY.isoformat())] = "2001-06-30"

    code = run(*past)

    assert code == 1
    assert "renewal date 2001-06-30 is in the past" in capsys.readouterr().err
    assert temporal.starts == []


# --- The account's status ---------------------------------------------------------------------


def step_view(key: str, **changes: Any) -> StepView:
    fields: dict[str, Any] = {
        "key": key,
        "kind": "training",
        "title": f"Training {key}",
        "owner": CE,
        "role": "CE",
        "due_at": datetime(2026, 3, 9, 17, 0, tzinfo=UTC),
        "status": "pending",
        "overdue": False,
        "completed_by": None,
        "reminders_sent": 0,
        "escalated": False,
    }
    fields.update(changes)
    return StepView(**fields)


def account_state(**changes: Any) -> AccountState:
    fields: dict[str, Any] = {
        "account_id": "001ACME",
        "account_name": "Acme",
        "hand_offs": [
            AccountHandOff(
                "006WON", "001ACME", "Acme", "new", 40, AE, CE, 2, "US East / EMEA",
                datetime(2026, 1, 15, 16, 45, tzinfo=UTC),
            )
        ],
        "stage": LifecycleStage.ONBOARDING,
        "profile": AccountProfile(
            "001ACME", "Acme", tier=2, region="US East / EMEA", ae_owner=AE, ce_owner=CE,
            seats=40, renewal_date=midnight(2027, 1, 15),
        ),
        "missing_profile": [],
        "roadmap": [
            step_view("training-101", status="done", completed_by=CE),
            step_view("training-102"),
        ],
        "open_steps": [
            step_view("training-102"),
            step_view(
                "kickoff-plan", title="Kickoff plan", overdue=True, status="overdue",
                reminders_sent=2, escalated=True,
            ),
        ],
        "cadence": "bi-weekly",
        "next_check_in_at": datetime(2026, 3, 12, 15, 0, tzinfo=UTC),
        "next_tier": 1,
        "next_tier_from": "2026-Q2",
        "renewal_date": midnight(2027, 1, 15),
        "value_exercise_done": True,
        "renewal_call_recorded": False,
        "license_key_ids": ["lk-1", "lk-2"],
        "health": "yellow",
        "renewals_completed": 1,
        "feature_requests": 3,
        "plans_submitted": 2,
        "recent_activity": [
            AuditEntry(datetime(2026, 3, 1, 10, 0, tzinfo=UTC), CE, "recorded the kickoff plan")
        ],
    }  # fmt: skip
    fields.update(changes)
    return AccountState(**fields)


def test_the_status_shows_the_whole_account() -> None:
    text = render_account(account_state(), "RUNNING", "http://ui:8233", "default")
    lines = text.splitlines()

    assert lines[0] == "account-001ACME  AccountWorkflow  RUNNING"
    assert "Account      Acme (001ACME)" in lines
    assert "Stage        onboarding" in lines
    assert "Profile      Tier 2, 40 seats, self-hosted, region US East / EMEA" in lines
    assert f"AE / CE      {AE} / {CE}" in lines
    assert "Check-ins    bi-weekly, next 2026-03-12 15:00 UTC" in lines
    assert "Tier change  to Tier 1 from 2026-Q2" in lines
    assert "Renewal      2027-01-15  value exercise: done, renewal call: not yet" in lines
    assert "License keys lk-1, lk-2" in lines
    assert "Health       Yellow" in lines
    assert "Counts       renewals 1, account plans 2, feature requests 3" in lines
    assert not any(line.startswith("Missing") for line in lines)
    roadmap = text.split("Onboarding roadmap:\n")[1].split("\n\n")[0]
    assert roadmap.splitlines()[0].endswith("STATUS   COMPLETED BY")
    assert roadmap.splitlines()[2].split()[-2:] == ["done", CE]
    assert "training-102" in roadmap
    open_steps = text.split("Open steps:\n")[1].split("\n\n")[0].splitlines()
    assert open_steps[0].split() == ["STEP", "TITLE", "OWNER", "DUE", "(UTC)", "STATUS"]
    [overdue] = [line for line in open_steps if line.startswith("kickoff-plan")]
    assert f"{CE} (CE)" in overdue
    assert "2026-03-09 17:00  OVERDUE" in overdue
    assert "overdue, reminded 2x, escalated" in overdue
    [pending] = [line for line in open_steps if line.startswith("training-102")]
    assert "OVERDUE" not in pending
    assert "006WON" in text and "HANDED-OFF DEAL" in text
    assert "Recent activity (UTC):" in lines
    assert f"  2026-03-01 10:00  {CE}  recorded the kickoff plan" in lines
    assert lines[-1] == "Temporal UI  http://ui:8233/namespaces/default/workflows/account-001ACME"


def test_the_status_of_a_handed_off_account_names_what_it_lacks() -> None:
    state = account_state(
        stage=LifecycleStage.KICKOFF,
        profile=AccountProfile("001ACME", "Acme", region="US East / EMEA"),
        missing_profile=["tier", "seats", "renewal_date"],
        roadmap=[],
        open_steps=[],
        cadence=None,
        next_check_in_at=None,
        next_tier=None,
        next_tier_from=None,
        renewal_date=None,
        value_exercise_done=False,
        license_key_ids=[],
        recent_activity=[],
    )

    lines = render_account(state, "RUNNING", "http://ui", "default").splitlines()

    assert "Profile      tier ?, seats ?, self-hosted, region US East / EMEA" in lines
    assert "Missing      tier, seats, renewal_date  (`dealcycle account profile`)" in lines
    assert "Check-ins    no cadence yet (set by the kickoff plan)" in lines
    assert "Renewal      -  value exercise: not yet, renewal call: not yet" in lines
    assert "License keys -" in lines
    assert "Onboarding roadmap:" not in lines
    assert "Open steps:" in lines and "  none" in lines
    assert not any(line.startswith("Tier change") for line in lines)
    assert "006WON" in "\n".join(lines)


def test_the_roadmap_shows_only_while_onboarding() -> None:
    text = render_account(
        account_state(stage=LifecycleStage.ADOPTION), "RUNNING", "http://ui", "default"
    )

    assert "Onboarding roadmap:" not in text
    assert "Open steps:" in text


def test_status_and_account_show_print_the_same_table(
    temporal: FakeTemporal, capsys: pytest.CaptureFixture[str]
) -> None:
    temporal.state = account_state()

    assert cli.main(["status", "account-001ACME"]) == 0
    status = capsys.readouterr().out
    assert run("show", "001ACME") == 0
    shown = capsys.readouterr().out

    assert status == shown
    assert status.startswith("account-001ACME  AccountWorkflow  RUNNING\n")
    assert "Stage        onboarding" in status


# --- Against the workflow (time-skipping server) ----------------------------------------------


async def test_start_account_then_kickoff_against_the_account_workflow(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record("Account", {"Id": "001CLI", "Name": "Initech"})
    brought_in = {
        "account_id": "001CLI",
        "account_name": "Initech",
        "tier": 2,
        "renewal_date": midnight(datetime.now(UTC).year + 2, 1, 31),
        "seats": 25,
        "ae_owner": AE,
        "ce_owner": CE,
        "region": "US West / APAC",
    }
    async with harness_factory() as harness:
        client, settings = harness.client, harness.settings
        workflow_id = await accounts.start_account(client, settings, **brought_in)
        harness.track(client.get_workflow_handle(workflow_id))
        assert workflow_id == "account-001CLI"
        with pytest.raises(CommandError, match="account-001CLI is already running; nothing"):
            await accounts.start_account(client, settings, **{**brought_in, "seats": 99})

        with pytest.raises(CommandError, match=f"rejected: {AE} is not the account's CE"):
            await accounts.record_kickoff_plan(
                client, "001CLI", actor=AE, role=Role.CE, cadence="weekly"
            )
        accepted = await accounts.record_kickoff_plan(
            client,
            "001CLI",
            actor=CE,
            role=Role.CE,
            cadence="weekly",
            optional_trainings=["security"],
        )
        assert accepted.startswith("kickoff plan recorded: check-ins weekly")

        shown = await accounts.render_account_status(
            client, workflow_id, settings.temporal_ui_url, settings.temporal_namespace
        )
        lines = shown.splitlines()
        assert lines[0] == "account-001CLI  AccountWorkflow  RUNNING"
        assert "Profile      Tier 2, 25 seats, self-hosted, region US West / APAC" in lines
        assert any(line.startswith("Check-ins    weekly, next ") for line in lines)
        assert any("recorded the kickoff plan (check-ins weekly)" in line for line in lines)


NEW_TEAM = [
    "renewal-outcome", "001ACME", "new_team", "--by", AE, "--role", "AE",
    "--opportunity", "006NEWTEAM", "--team-seats", "20",
]  # fmt: skip


def the_lookup(temporal: FakeTemporal, settings: Settings) -> OpportunityLookup:
    """The one lookup the CLI asked of the worker, on the worker's task queue."""
    [(lookup, options)] = temporal.lookups
    assert options["task_queue"] == settings.task_queue
    assert options["id"].startswith(f"{OPPORTUNITY_LOOKUP_ID_PREFIX}006NEWTEAM-")
    assert options["static_summary"] == opportunity_lookup("006NEWTEAM").summary
    assert isinstance(lookup, OpportunityLookup)
    return lookup


def test_a_new_team_outcome_names_an_opportunity_salesforce_has(
    temporal: FakeTemporal, settings: Settings
) -> None:
    temporal.opportunities.add("006NEWTEAM")

    assert run(*NEW_TEAM) == 0
    assert the_lookup(temporal, settings) == OpportunityLookup("006NEWTEAM")
    assert the_update(temporal) == (
        "account-001ACME",
        "record_renewal_outcome",
        RecordRenewalOutcome(
            "new_team", AE, Role.AE, expansion_opportunity_id="006NEWTEAM", new_team_seats=20
        ),
    )


def test_a_new_team_outcome_with_an_unknown_opportunity_is_refused_before_any_update(
    temporal: FakeTemporal, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*NEW_TEAM) == 1
    assert "Salesforce has no Opportunity '006NEWTEAM'" in capsys.readouterr().err
    assert the_lookup(temporal, settings) == OpportunityLookup("006NEWTEAM")
    assert temporal.updates == []


@pytest.mark.parametrize("no_worker", ["waits", "times-out"])
def test_a_new_team_outcome_no_worker_looks_up_says_so_and_sends_nothing(
    temporal: FakeTemporal,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_worker: str,
) -> None:
    monkeypatch.setattr(opportunity_lookup_module, "LOOKUP_WAIT_SECONDS", 0.05)
    temporal.no_worker = no_worker

    assert run(*NEW_TEAM) == 1
    assert (
        "no worker looked up Opportunity 006NEWTEAM within 0.05 s (is `dealcycle worker` running on"
        f" task queue {settings.task_queue!r}?); nothing was sent to the account"
    ) in capsys.readouterr().err
    [(_, options)] = temporal.lookups
    # The run ends when the CLI stops waiting: nobody would read a later answer.
    assert options["execution_timeout"] == timedelta(seconds=0.05)
    assert temporal.updates == []


async def test_account_show_lists_the_accounts_failed_effects_as_status_does(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`account show` is `status account-…` (README): a write Slack refused for good shows in
    both, with its cause and the command that fixes it, not in `status` alone."""
    salesforce_fake.add_record("Account", {"Id": "001SHOWN", "Name": "Initech"})
    slack_fake.archive_channel("#customer-accounts")
    async with harness_factory() as harness:
        client, settings = harness.client, harness.settings
        workflow_id = await accounts.start_account(
            client,
            settings,
            account_id="001SHOWN",
            account_name="Initech",
            tier=2,
            renewal_date=midnight(datetime.now(UTC).year + 2, 1, 31),
            seats=25,
            ae_owner=AE,
            ce_owner=CE,
        )
        handle = harness.track(client.get_workflow_handle(workflow_id))
        for _ in range(200):
            if (await handle.query(OwedWorkHandlers.effects)).needs_attention:
                break
            await asyncio.sleep(0.05)
        monkeypatch.setenv("DEALCYCLE_TEMPORAL_ADDRESS", client.service_client.config.target_host)
        assert await asyncio.to_thread(cli.main, ["status", workflow_id]) == 0
        status = capsys.readouterr().out
        assert await asyncio.to_thread(run, "show", "001SHOWN") == 0
        shown = capsys.readouterr().out
    for printed in (status, shown):
        assert "Failed effects (1), needs attention:" in printed and "is_archived" in printed
        assert "dealcycle effects retry account-001SHOWN kickoff/announcement" in printed


async def test_the_check_in_just_briefed_is_the_next_one_shown(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    """The CE's brief for tomorrow's check-in arrived: `account show` names that check-in as
    the next one, as the brief did, not the one a cadence after it."""
    async with harness_factory() as harness:
        account = await driven.start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            "001BRIEFED",
            300 * driven.DAY,
            stage=LifecycleStage.ADOPTION,
            tier=2,
            track=harness.track,
        )
        check_in = (await driven.state(account)).next_check_in_at
        assert check_in is not None  # monthly: 28 days on
        await driven.advance_to(harness.env, account, check_in - driven.DAY + timedelta(hours=1))
        now = await harness.env.get_current_time()

        lines = render_account(await driven.state(account), "RUNNING", "http://ui", "default", now)

        assert f"Check-ins    monthly, next {check_in:%Y-%m-%d %H:%M} UTC" in lines.splitlines()
        passed = check_in + timedelta(hours=1)
        await driven.advance_to(harness.env, account, passed)
        view = await driven.state(account)
        later = render_account(view, "RUNNING", "http://ui", "default", passed)
        following = check_in + 28 * driven.DAY
        assert f"Check-ins    monthly, next {following:%Y-%m-%d %H:%M} UTC" in later.splitlines()
