"""The opportunity's gates and rules, without a server."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.common import DeploymentType, Region, Role, SecurityRoster, TechnicalWinStatus
from schemas.errors import RuleViolation
from schemas.opportunity import (
    AbandonOpportunity,
    AdvanceStage,
    CloseOpportunity,
    CompleteTddPart,
    LinkTdd,
    OpportunityKind,
    OpportunitySnapshot,
    OpportunityStart,
    OpportunityStatus,
    ReceiveQuestionnaire,
    RecordDealReview,
    ReopenOpportunity,
    Stage,
    StartOpportunityTrial,
    TddPart,
)
from schemas.trial import CompleteStep
from workflows import opportunity_rules as rules

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
CE, AE = "U0CE00002", "U0AE00002"
ROSTER = SecurityRoster("U0SECW", "U0SECE", "U0SECPM", "U0LEAD")
TDD = "https://docs.example.com/tdd/acme"


def snapshot(**overrides: Any) -> OpportunitySnapshot:
    fields: dict[str, Any] = {
        "opportunity_id": "006OPP",
        "account_id": "001ACC",
        "account_name": "Acme",
        "ae_owner": AE,
        "ce_owner": CE,
        "region": Region.US_EAST_EMEA,
        "deployment_type": DeploymentType.SELF_HOSTED,
        "tier": 2,
        "kind": OpportunityKind.NEW,
        "complex_engagement": False,
        "roster": ROSTER,
    }
    fields.update(overrides)
    return rules.new_snapshot(OpportunityStart(**fields), NOW, "opportunity-006OPP/run1")


def advance(s: OpportunitySnapshot, stage: Stage) -> str:
    return rules.apply_advance(s, AdvanceStage(stage, AE, Role.AE), NOW)


def rejected(s: OpportunitySnapshot, action: Any, message: str) -> None:
    """The action is refused with ``message`` and the snapshot is unchanged."""
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        action()
    assert s == before


def test_moving_past_stage_2_needs_a_tdd_linked() -> None:
    s = snapshot()
    advance(s, Stage.QUALIFICATION)
    rejected(s, lambda: advance(s, Stage.SOLUTION), "needs a Technical Design Document linked")
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    assert "to Stage 3 - Solution" in advance(s, Stage.SOLUTION)
    assert s.stage is Stage.SOLUTION and s.stage_version == 3


def test_leaving_stage_4_needs_both_tdd_parts() -> None:
    s = snapshot(stage=Stage.VALIDATION)
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    rejected(
        s, lambda: advance(s, Stage.NEGOTIATION), "trial_design and production_design complete"
    )
    rules.apply_tdd_part(s, CompleteTddPart(TddPart.TRIAL_DESIGN, CE, Role.CE), NOW)
    rejected(s, lambda: advance(s, Stage.NEGOTIATION), "the TDD's production_design complete")
    rules.apply_tdd_part(s, CompleteTddPart(TddPart.PRODUCTION_DESIGN, CE, Role.CE), NOW)
    advance(s, Stage.NEGOTIATION)
    assert s.stage is Stage.NEGOTIATION


def test_closed_won_needs_both_tdd_parts_but_closed_lost_only_a_reason() -> None:
    s = snapshot(stage=Stage.VALIDATION)
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    rejected(
        s,
        lambda: rules.apply_close(s, CloseOpportunity(True, AE, Role.AE), NOW),
        "cannot close it won: needs",
    )
    rejected(
        s,
        lambda: rules.apply_close(s, CloseOpportunity(False, AE, Role.AE, " "), NOW),
        "needs a reason",
    )
    rules.apply_close(s, CloseOpportunity(False, AE, Role.AE, "budget cut"), NOW)
    assert (s.stage, s.status, s.closed_reason) == (
        Stage.CLOSED_LOST,
        OpportunityStatus.LOST,
        "budget cut",
    )


def test_closing_won_records_the_stage_and_time() -> None:
    s = snapshot(stage=Stage.NEGOTIATION)
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    for part in TddPart:
        rules.apply_tdd_part(s, CompleteTddPart(part, CE, Role.CE), NOW)
    rules.apply_close(s, CloseOpportunity(True, AE, Role.AE), NOW)
    assert (s.stage, s.status, s.closed_at) == (Stage.CLOSED_WON, OpportunityStatus.WON, NOW)
    rejected(
        s, lambda: rules.apply_reopen(s, ReopenOpportunity(AE, Role.AE, "more"), NOW), "was won"
    )


def test_a_complex_engagement_needs_a_deal_review_before_its_trial() -> None:
    s = snapshot(complex_engagement=True)
    trial = StartOpportunityTrial(CE, Role.CE)
    rejected(s, lambda: rules.apply_start_trial(s, trial, NOW), "needs a Technical Design Document")
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    rejected(
        s,
        lambda: rules.apply_start_trial(s, trial, NOW),
        "record a technical deal review before the trial",
    )
    rules.apply_deal_review(s, RecordDealReview(CE, Role.CE, "SSO and scale reviewed"), NOW)
    rules.apply_start_trial(s, trial, NOW)
    assert s.trial_requested and s.technical_win is TechnicalWinStatus.IN_PROGRESS
    rejected(s, lambda: rules.apply_start_trial(s, trial, NOW), "already started")


def test_a_simple_engagement_trials_without_a_deal_review() -> None:
    s = snapshot()
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    rules.apply_start_trial(s, StartOpportunityTrial(AE, Role.AE, length_days=45), NOW)
    assert s.trial_requested and s.trial_length_days == 45


def test_stages_do_not_move_backwards_without_reopen() -> None:
    s = snapshot(stage=Stage.SOLUTION)
    rejected(s, lambda: advance(s, Stage.QUALIFICATION), "cannot move back from Stage 3 - Solution")
    rejected(s, lambda: advance(s, Stage.SOLUTION), "already in Stage 3")
    rejected(s, lambda: advance(s, Stage.CLOSED_WON), "close the opportunity with `close`")
    rules.apply_reopen(s, ReopenOpportunity(AE, Role.AE, "requalify", Stage.QUALIFICATION), NOW)
    assert s.stage is Stage.QUALIFICATION
    rejected(
        s,
        lambda: rules.apply_reopen(s, ReopenOpportunity(AE, Role.AE, "x", Stage.SOLUTION), NOW),
        "only moves it back",
    )


def test_reopening_past_the_stage_it_left_passes_the_same_gates_as_advancing() -> None:
    s = snapshot()
    rules.apply_abandon(s, AbandonOpportunity(AE, Role.AE, "went dark"), NOW)
    for stage in (Stage.SOLUTION, Stage.NEGOTIATION):
        rejected(
            s,
            lambda stage=stage: rules.check_reopen(s, ReopenOpportunity(AE, Role.AE, "x", stage)),
            f"cannot reopen it at {stage.value}: needs a Technical Design Document linked",
        )
    rules.apply_reopen(s, ReopenOpportunity(AE, Role.AE, "back", Stage.QUALIFICATION), NOW)
    rules.apply_link_tdd(s, LinkTdd(TDD, CE, Role.CE), NOW)
    rules.apply_close(s, CloseOpportunity(False, AE, Role.AE, "lost again"), NOW)
    rejected(
        s,
        lambda: rules.check_reopen(s, ReopenOpportunity(AE, Role.AE, "x", Stage.NEGOTIATION)),
        "needs the TDD's trial_design and production_design complete",
    )
    assert rules.check_reopen(s, ReopenOpportunity(AE, Role.AE, "x", Stage.SOLUTION)) is (
        Stage.SOLUTION
    )
    rules.apply_reopen(s, ReopenOpportunity(AE, Role.AE, "back", Stage.SOLUTION), NOW)
    assert s.stage is Stage.SOLUTION
    # Where it was, it may always go back to, gates or not (it may have started there).
    t = snapshot(stage=Stage.VALIDATION)
    rules.apply_close(t, CloseOpportunity(False, AE, Role.AE, "lost"), NOW)
    assert rules.check_reopen(t, ReopenOpportunity(AE, Role.AE, "back")) is Stage.VALIDATION
    rules.apply_reopen(t, ReopenOpportunity(AE, Role.AE, "back"), NOW)
    assert (t.status, t.stage) == (OpportunityStatus.OPEN, Stage.VALIDATION)


def test_a_tdd_link_needs_a_host_and_no_spaces() -> None:
    s = snapshot()
    for url, why in (
        ("https://", "the TDD link needs a host: 'https://'"),
        ("https:///tdd", "the TDD link needs a host: 'https:///tdd'"),
        (
            "https://docs.example.com/a b",
            "the TDD link has spaces in it: 'https://docs.example.com/a b'",
        ),
        ("https://docs.example.com/\n<!channel>", "the TDD link has spaces in it"),
    ):
        rejected(s, lambda url=url: rules.check_link_tdd_request(s, LinkTdd(url, CE, Role.CE)), why)
    rules.check_link_tdd_request(s, LinkTdd(TDD, CE, Role.CE))


def test_wrong_person_or_role_is_rejected() -> None:
    s = snapshot()
    rejected(
        s,
        lambda: rules.apply_advance(s, AdvanceStage(Stage.QUALIFICATION, CE, Role.AE), NOW),
        "is not the AE",
    )
    rejected(
        s,
        lambda: rules.apply_tdd_part(s, CompleteTddPart(TddPart.TRIAL_DESIGN, AE, Role.AE), NOW),
        "the CE completes the TDD's parts",
    )
    rejected(
        s,
        lambda: rules.apply_complete_step(s, CompleteStep("discovery_call", AE, Role.AE), NOW),
        "led by the CE, not the AE",
    )
    rejected(
        s, lambda: rules.apply_link_tdd(s, LinkTdd("notaurl", CE, Role.CE), NOW), "http\\(s\\) URL"
    )


def test_abandon_and_reopen_keep_who_did_what() -> None:
    s = snapshot(stage=Stage.QUALIFICATION)
    rules.apply_abandon(s, AbandonOpportunity(AE, Role.AE, "went dark"), NOW)
    assert s.status is OpportunityStatus.ABANDONED
    rejected(s, lambda: advance(s, Stage.SOLUTION), "abandoned; reopen it first")
    rules.apply_reopen(s, ReopenOpportunity(CE, Role.CE, "champion is back"), NOW)
    assert (s.status, s.stage) == (OpportunityStatus.OPEN, Stage.QUALIFICATION)
    assert [(entry.actor, entry.action) for entry in s.audit] == [
        (AE, "abandoned it: went dark"),
        (CE, "reopened it at Stage 2 - Qualification: champion is back"),
    ]


def test_a_second_questionnaire_while_one_is_under_way_is_rejected() -> None:
    s = snapshot()
    rules.apply_questionnaire(s, ReceiveQuestionnaire(AE, Role.AE), NOW)
    rejected(
        s, lambda: rules.apply_questionnaire(s, ReceiveQuestionnaire(AE, Role.AE), NOW), "under way"
    )


def test_bad_starts_are_refused_with_every_problem_named() -> None:
    with pytest.raises(
        RuleViolation,
        match=r"tier: a whole number from 1 to 3 \(got 4\); seats: a whole number from 1 to",
    ):
        snapshot(tier=4, seats=0)
    with pytest.raises(RuleViolation, match="cannot start Closed Won"):
        snapshot(stage=Stage.CLOSED_WON)
