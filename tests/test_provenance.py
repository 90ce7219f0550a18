"""A CLI action records that it came from the CLI, and by which OS user, beside ``--by``:
in the trial's completed step, the account's audit, and what ``dealcycle status`` shows."""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import limits
from schemas.common import Role
from schemas.errors import RuleViolation
from schemas.opportunity import LinkTdd, ReceiveQuestionnaire, StartOpportunityTrial
from schemas.trial import CompleteStep, TrialInput, TrialStart, trial_workflow_id
from starter.cli import main
from starter.provenance import acting_via, stamped
from tests.support.accounts import start_account
from tests.test_opportunity_workflow import AE as OPP_AE
from tests.test_opportunity_workflow import CE as OPP_CE
from tests.test_opportunity_workflow import start_opportunity
from workflows.account import AccountWorkflow
from workflows.opportunity import OpportunityWorkflow
from workflows.trial import TrialWorkflow

CE, AE = "U0CE00001", "U0AE00001"
VIA = f"cli:{getpass.getuser()}"


async def cli(harness: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``dealcycle ARGS`` against the test server, as a person would run it (its own loop)."""
    target = harness.client.service_client.config.target_host
    monkeypatch.setenv("DEALCYCLE_TEMPORAL_ADDRESS", target)
    monkeypatch.setenv("DATABASE_URL", harness.settings.database_url)
    return await asyncio.to_thread(main, list(args))


async def test_a_step_completed_from_the_cli_records_the_os_user_beside_by(
    harness_factory: Any,
    salesforce_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with harness_factory() as h:
        salesforce_fake.add_record("Opportunity", {"Id": "006VIA", "Name": "Acme 006VIA"})
        start = TrialStart("006VIA", "001ACME", "Acme", CE, AE, durations=h.settings.durations)
        handle = h.track(
            await h.client.start_workflow(
                TrialWorkflow.run,
                TrialInput(start=start),
                id=trial_workflow_id("006VIA"),
                task_queue=h.task_queue,
            )
        )
        args = ["step", "complete", handle.id, "technical_landscape", "--by", CE, "--role", "CE"]
        assert await cli(h, monkeypatch, *args) == 0
        # Sent from elsewhere (no via): nothing claims the CLI.
        await handle.execute_update(
            TrialWorkflow.complete_step, CompleteStep("user_survey", AE, Role.AE)
        )
        state = await handle.query(TrialWorkflow.state)
        capsys.readouterr()
        assert await cli(h, monkeypatch, "status", handle.id) == 0
        shown = capsys.readouterr().out
    by_cli, by_other = (
        next(step for step in state.steps if step.key == key)
        for key in ("technical_landscape", "user_survey")
    )
    assert (by_cli.completed_by, by_cli.completed_via) == (CE, VIA)
    assert (by_other.completed_by, by_other.completed_via) == (AE, "")
    assert f"{CE} via {VIA}" in shown


async def test_an_account_action_from_the_cli_is_audited_with_where_it_came_from(
    harness_factory: Any,
    salesforce_fake: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with harness_factory() as h:
        account = await start_account(
            h.client, h.env, h.task_queue, h.settings, salesforce_fake, "001VIA",
            timedelta(days=300), track=h.track,
        )  # fmt: skip
        kickoff = [
            "account",
            "kickoff",
            "001VIA",
            "--cadence",
            "weekly",
            "--by",
            CE,
            "--role",
            "CE",
        ]
        assert await cli(h, monkeypatch, *kickoff) == 0
        state = await account.query(AccountWorkflow.state)
        capsys.readouterr()
        assert await cli(h, monkeypatch, "account", "show", "001VIA") == 0
        shown = capsys.readouterr().out
    [entry] = [e for e in state.recent_activity if "kickoff" in e.action]
    assert (entry.actor, entry.via) == (CE, VIA)
    assert f"{CE} via {VIA}" in shown


async def test_an_opportunitys_trial_and_security_review_keep_where_they_were_asked_from(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as h:
        opp = await start_opportunity(h, salesforce_fake, "006VIAKIDS", complex_engagement=False)
        await opp.execute_update(
            OpportunityWorkflow.link_tdd,
            LinkTdd("https://docs.example.com/tdd", OPP_CE, Role.CE, via=VIA),
        )
        await opp.execute_update(
            OpportunityWorkflow.start_trial, StartOpportunityTrial(OPP_CE, Role.CE, via=VIA)
        )
        await opp.execute_update(
            OpportunityWorkflow.receive_questionnaire,
            ReceiveQuestionnaire(OPP_AE, Role.AE, via=VIA),
        )
        state = await opp.query(OpportunityWorkflow.state)
    assert [(e.actor, e.via) for e in state.audit] == [
        (OPP_CE, VIA),
        (OPP_CE, VIA),
        (OPP_AE, VIA),
    ], state.audit


def test_via_is_stamped_only_where_unset_and_is_bounded() -> None:
    with acting_via("cli:alice"):
        assert stamped(CompleteStep("s", CE, Role.CE)).via == "cli:alice"
        assert stamped(CompleteStep("s", CE, Role.CE, via="slack")).via == "slack"
    assert stamped(CompleteStep("s", CE, Role.CE)).via == ""
    with pytest.raises(RuleViolation, match="via: at most 100 characters"):
        limits.check(CompleteStep("s", CE, Role.CE, via="x" * 101), datetime.now(UTC))
