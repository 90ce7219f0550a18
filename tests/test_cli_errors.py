"""The command line's error model, id and payload checks, and the new status tables, without a
server. ``tests/test_end_to_end.py`` runs the same failures through the real ``dealcycle``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.codec import PayloadDecryptionError
from dealcycle.settings import Settings
from schemas.common import DeploymentType, Region, StepStatus
from schemas.intake import FailedHandOff, HandOffDecision, IntakeResult
from schemas.security_review import (
    SecurityReviewPhase,
    SecurityReviewState,
    SecurityRole,
    SecurityStepView,
)
from starter import cli, cli_common
from starter.errors import BROKEN_PIPE, INTERRUPTED, CommandError, describe, one_line, report
from starter.intake import poll_summary
from starter.payloads import MAX_PAYLOAD_BYTES, check_payload_size
from starter.tables import render_intake, render_security_review
from starter.workflow_ids import MAX_WORKFLOW_ID_BYTES, check_workflow_id

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


# --- One line per failure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            RPCError("Blob data size exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b""),
            "the request is too large: Temporal refuses a payload over 2 MB",
        ),
        (
            RPCError(
                "message larger than max (5000123 vs. 4194304)",
                RPCStatusCode.RESOURCE_EXHAUSTED,
                b"",
            ),
            "exceeds gRPC's 4 MB limit (message larger than max (5000123 vs. 4194304))",
        ),
        (
            RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""),
            "cannot reach the Temporal server at 127.0.0.1:17999 (DEALCYCLE_TEMPORAL_ADDRESS)",
        ),
        (
            RPCError(
                "Unable to perform workflow execution update due to unexpected workflow task"
                " failure.",
                RPCStatusCode.FAILED_PRECONDITION,
                b"",
            ),
            "the workflow failed while taking the request, so nothing was recorded",
        ),
        (
            RPCError(
                "Unable to perform workflow execution update due to Workflow Task in failed state.",
                RPCStatusCode.FAILED_PRECONDITION,
                b"",
            ),
            "the workflow is not answering: its workflow task keeps failing",
        ),
        (
            RPCError("WorkflowId length exceeds limit.", RPCStatusCode.INVALID_ARGUMENT, b""),
            "the Temporal server refused the request (INVALID_ARGUMENT): WorkflowId length",
        ),
        (
            # Reading a workflow without the key it was written with: a setting to fix.
            PayloadDecryptionError("payload encrypted with key id 'k1', which is not among"),
            "dealcycle: payload encrypted with key id 'k1', which is not among",
        ),
        (CommandError("rejected: no"), "rejected: no"),
        (FileNotFoundError(2, "No such file or directory", "plan.json"), "directory: plan.json"),
        (ZeroDivisionError("division by zero"), "internal error: ZeroDivisionError: division"),
    ],
)
def test_each_failure_is_one_line_naming_its_cause(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    line: str,
) -> None:
    monkeypatch.setenv("DEALCYCLE_TEMPORAL_ADDRESS", "127.0.0.1:17999")

    assert report(error) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dealcycle: ")
    assert line in err
    assert "Traceback" not in err


def test_a_server_message_is_kept_to_one_short_line() -> None:
    echoed = RPCError("bad id: " + "x" * 5000 + "\nsecond line", RPCStatusCode.INTERNAL, b"")

    line = describe(echoed)

    assert "\n" not in line and len(line) < 500
    assert one_line("a\n  b\tc") == "a b c"


def test_the_traceback_comes_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> None:
        raise KeyError("state")

    with pytest.raises(KeyError) as raised:
        boom()

    assert report(raised.value) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert report(raised.value, debug=True) == 1
    err = capsys.readouterr().err
    assert err.startswith("dealcycle: internal error: KeyError: 'state'\nTraceback")
    assert report(CommandError("rejected: no"), debug=True) == 1
    assert capsys.readouterr().err == "dealcycle: rejected: no\n"


@pytest.mark.parametrize("every", ["0m", "abc", "0.5s", "5 minutes", "25h", "100000d"])
def test_a_bad_intake_interval_is_a_usage_error_naming_the_form_and_bound(
    capsys: pytest.CaptureFixture[str], every: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["intake", "schedule", "--every", every])

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "<lambda>" not in err
    assert (
        f"argument --every: {every!r} is not an interval: give a duration from 1s to 1d, in"
        " seconds or a number with s, m, h, d or w (e.g. 30m, 12h, 7d)"
    ) in err


@pytest.mark.parametrize(
    "argv",
    [
        ["server", "--port", "70000"],
        ["server", "--port", "-1"],
        ["server", "--ui-port", "99999"],
        ["codec-server", "--port", "70000"],
        ["slack", "--port", "65536"],
    ],
)
def test_a_port_out_of_range_is_a_usage_error_naming_the_flag_and_bound(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Not ``internal error: OverflowError: bind(): port must be 0-65535.``"""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert f"argument {argv[1]}: {argv[2]!r} is not a port (1 to 65535)" in err


def test_an_interrupt_exits_130_saying_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert report(KeyboardInterrupt()) == INTERRUPTED == 130
    assert capsys.readouterr().err == ""
    assert BROKEN_PIPE == 141


# --- Through main ------------------------------------------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Settings]:
    """Each attempt to connect, refused with an error the CLI does not expect."""
    attempts: list[Settings] = []
    settings = Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path / "state")})

    async def connect(settings: Settings) -> Any:
        attempts.append(settings)
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli_common, "connect", connect)
    monkeypatch.setattr(cli_common, "read_settings", lambda: settings)
    monkeypatch.setattr(cli_common, "configure_logging", lambda *_args: None)
    monkeypatch.delenv("DEALCYCLE_LOG_LEVEL", raising=False)
    return attempts


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["status", ""], "WORKFLOW_ID is empty; give one, e.g. trial-006ACME"),
        (["status", " "], "WORKFLOW_ID is empty"),
        (["status", "x" * 5000], "WORKFLOW_ID is 5,000 bytes long; Temporal allows at most 1,000"),
        (["status", "trial-a\nb"], "contains a control character"),
        (["account", "show", ""], "ACCOUNT_ID is empty; give one, e.g. 001ACME"),
        (["health", "0" * 1001], "ACCOUNT_ID is 1,001 bytes long"),
        (["red", "show", ""], "ACCOUNT_ID|CASE_ID is empty"),
        # Empty is not "every account": a shell variable left unset listed the whole tracker.
        (["red", "list", "--account", ""], "--account is empty; give one, e.g. 001ACME"),
        (["deal-closed", ""], "OPPORTUNITY_ID is empty"),
        (
            ["deal-closed", "bad id!"],
            "opportunity_id: an id of letters, digits, . _ - (got 'bad id!')",
        ),
        (
            ["step", "complete", "", "user_survey", "--by", "U0AE00001", "--role", "AE"],
            "WORKFLOW_ID is empty",
        ),
    ],
)
def test_a_bad_id_is_refused_before_connecting(
    connections: list[Settings],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    complaint: str,
) -> None:
    assert cli.main(argv) == 1

    err = capsys.readouterr().err
    assert err.startswith("dealcycle: ") and err.count("\n") == 1
    assert complaint in err
    assert connections == []


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_debug(
    connections: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["status", "trial-006ACME"]) == 1
    assert capsys.readouterr().err == "dealcycle: internal error: ZeroDivisionError: boom\n"

    assert cli.main(["--debug", "status", "trial-006ACME"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dealcycle: internal error: ZeroDivisionError: boom\nTraceback")
    assert len(connections) == 2


def test_debug_from_the_log_level_shows_the_traceback(
    connections: list[Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEALCYCLE_LOG_LEVEL", "debug")

    assert cli.main(["status", "trial-006ACME"]) == 1
    assert "Traceback" in capsys.readouterr().err


# --- Ids and payloads --------------------------------------------------------------------------


def test_workflow_ids_up_to_temporals_limit_in_bytes_pass() -> None:
    assert MAX_WORKFLOW_ID_BYTES == 1000
    assert check_workflow_id("t" * 1000) == "t" * 1000
    assert check_workflow_id("é" * 500) == "é" * 500
    with pytest.raises(CommandError, match="is 1,002 bytes long; Temporal allows at most 1,000"):
        check_workflow_id("é" * 501)
    with pytest.raises(CommandError, match="the workflow id is empty"):
        check_workflow_id("")


def test_a_payload_over_temporals_limit_is_refused_with_its_size() -> None:
    check_payload_size({"use_cases": ["u" * (MAX_PAYLOAD_BYTES - 100)]})
    with pytest.raises(
        CommandError, match=r"the request is 3\.0 MB; Temporal accepts at most 2 MB"
    ):
        check_payload_size({"use_cases": ["u" * 3 * 1024 * 1024]})


# --- Status tables of the other workflow types -------------------------------------------------


def security_step(key: str, role: SecurityRole, owner: str, **changes: Any) -> SecurityStepView:
    fields: dict[str, Any] = {
        "title": key.replace("_", " "),
        "due_at": NOW + timedelta(days=1),
        "status": StepStatus.PENDING,
        "completed_by": None,
        "completed_at": None,
        "note": "",
        "reminders_sent": 0,
        "escalated_to_leader": False,
    }
    return SecurityStepView(key=key, role=role, owner=owner, **{**fields, **changes})


def security_review_state(**changes: Any) -> SecurityReviewState:
    due = NOW + timedelta(days=10)
    step = security_step(
        "grant_access", SecurityRole.AE, "U0AE00001", reminders_sent=2, escalated_to_leader=True
    )
    done = security_step(
        "note_deployment_type",
        SecurityRole.CE,
        "U0CE00001",
        status=StepStatus.DONE,
        completed_by="U0CE00001",
        completed_at=NOW,
    )
    fields: dict[str, Any] = {
        "workflow_id": "security-review-006ACME",
        "opportunity_id": "006ACME",
        "account_id": "001ACME",
        "account_name": "Acme",
        "ae_owner": "U0AE00001",
        "ce_owner": "U0CE00001",
        "region": Region.US_WEST_APAC,
        "security_ce": "U0SECWEST1",
        "security_pm": "U0SECPM01",
        "deployment_type": DeploymentType("cloud"),
        "phase": SecurityReviewPhase.OPEN,
        "received_at": NOW,
        "due_at": due,
        "original_due_at": due,
        "escalated_to_pm": False,
        "escalation_reason": None,
        "escalated_by": None,
        "steps": [step, done],
        "waiting_on": ["grant_access"],
        "answered_at": None,
        "as_of": NOW,
    }
    return SecurityReviewState(**{**fields, **changes})


def test_a_security_review_shows_as_a_table_of_its_steps() -> None:
    lines = render_security_review(
        security_review_state(), "RUNNING", "http://ui", "default", now=NOW
    ).splitlines()

    assert lines[0] == "security-review-006ACME  SecurityReviewWorkflow  RUNNING"
    assert "Security     CE U0SECWEST1, PM U0SECPM01" in lines
    assert "Due          2026-03-12 09:30 UTC" in lines
    assert "Waiting on   grant_access" in lines
    header = next(line for line in lines if line.startswith("STEP"))
    assert header.split()[:3] == ["STEP", "ROLE", "OWNER"] and "COMPLETED BY" in header
    rows = {line.split()[0]: line for line in lines[lines.index(header) + 2 :] if line}
    assert "pending, reminded 2x, escalated" in rows["grant_access"]
    assert rows["note_deployment_type"].split()[-3:] == ["U0CE00001", "2026-03-02", "09:30"]
    assert (
        lines[-1] == "Temporal UI  http://ui/namespaces/default/workflows/security-review-006ACME"
    )


def test_an_escalated_security_review_says_by_whom_and_the_due_date_it_moved_from() -> None:
    moved = NOW + timedelta(days=15)
    state = security_review_state(
        due_at=moved, escalated_to_pm=True, escalation_reason="legal", escalated_by="U0CE00001"
    )

    lines = render_security_review(state, "RUNNING", "http://ui", "default").splitlines()

    assert "Due          2026-03-17 09:30 UTC (moved from 2026-03-12 09:30)" in lines
    assert "Escalated    to the Security PM by U0CE00001: legal" in lines


def test_an_intake_run_shows_the_deals_it_handed_off() -> None:
    result = IntakeResult(["006NEW"], ["006OLD"], NOW)

    lines = render_intake(
        "closed-won-intake-run-1", "COMPLETED", (NOW, NOW), result, "", "http://ui", "default"
    ).splitlines()

    assert lines[0] == "closed-won-intake-run-1  ClosedWonIntakeWorkflow  COMPLETED"
    assert "Watermark    2026-03-02T09:30:00+00:00" in lines
    assert lines[lines.index("DEAL    HANDED OFF") + 2 :][:2] == [
        "006NEW  by this run",
        "006OLD  before",
    ]
    failed = render_intake("x", "FAILED", (NOW, None), None, "poll failed", "u", "n")
    assert "Failed       poll failed" in failed.splitlines()


def test_an_intake_run_that_left_deals_behind_says_which_and_why() -> None:
    """A run that completed can still leave a deal behind (its hand-off kept failing): the
    run's view and the schedule's status name it, not only ``intake run``'s output."""
    result = IntakeResult(
        ["006NEW"],
        [],
        NOW,
        skipped=["006OLD"],
        decisions=[
            HandOffDecision("006NEW", "account-001A", "started"),
            HandOffDecision("006OLD", "account-001B", "skipped", "account-001B ended"),
        ],
        failed=[FailedHandOff("006STUCK", "RuntimeError: frontend unavailable")],
        decisions_left_out=700,
        handed_off_count=701,
        without_account=["006NOACC"],
    )

    lines = render_intake("run-1", "COMPLETED", (NOW, NOW), result, "", "http://ui", "n")

    rows = [" ".join(line.split()) for line in lines.splitlines()]
    assert "006OLD skipped: account-001B ended" in rows
    assert "006STUCK NOT handed off: RuntimeError: frontend unavailable" in rows
    assert "006NOACC no AccountId in Salesforce" in rows
    assert "… 700 more by this run" in rows
    assert poll_summary(result) == (
        "handed off 701, skipped 1, 1 with no account; NOT handed off 1 (the next poll tries"
        " again): 006STUCK: RuntimeError: frontend unavailable"
    )
