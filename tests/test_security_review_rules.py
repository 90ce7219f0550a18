"""The security review's rules, without a server."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.converter import DataConverter

from schemas.common import DeploymentType, Durations, Region, SecurityRoster, StepStatus
from schemas.errors import RuleViolation
from schemas.opportunity import ConcludedByOpportunity, OpportunityEnd
from schemas.security_review import (
    SECURITY_REVIEW_STEPS,
    CompleteSecurityStep,
    DeclineFirstPass,
    EscalateToSecurityPM,
    SecurityReviewInput,
    SecurityReviewPhase,
    SecurityReviewSnapshot,
    SecurityReviewStart,
    SecurityRole,
    security_review_workflow_id,
)
from workflows import security_review_rules as rules

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CE, AE = "U0CE00001", "U0AE00001"
SEC_WEST, SEC_EAST, PM, LEADER = "U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1"
ROSTER = SecurityRoster(SEC_WEST, SEC_EAST, PM, LEADER)


def make_start(**overrides: Any) -> SecurityReviewStart:
    fields: dict[str, Any] = {
        "opportunity_id": "006A",
        "account_id": "001A",
        "account_name": "Acme",
        "ae_owner": AE,
        "ce_owner": CE,
        "region": Region.US_WEST_APAC,
        "deployment_type": None,
        "roster": ROSTER,
    }
    fields.update(overrides)
    return SecurityReviewStart(**fields)


def make_snapshot(**overrides: Any) -> SecurityReviewSnapshot:
    return rules.new_snapshot(make_start(**overrides), T0, "security-review-006A/run1")


def complete(
    s: SecurityReviewSnapshot, step: str, actor: str, at: datetime = T0, **fields: Any
) -> str:
    return rules.apply_complete_step(s, CompleteSecurityStep(step, actor, **fields), at)


def up_to_security_ce_review(s: SecurityReviewSnapshot, at: datetime = T0) -> None:
    complete(s, "grant_access", AE, at)
    complete(s, "note_deployment_type", CE, at, deployment_type=DeploymentType.SELF_HOSTED)
    complete(s, "ce_first_pass", CE, at, note="70% answered")


def keys(s: SecurityReviewSnapshot) -> list[str]:
    return [step.key for step in s.steps]


# --- Start -----------------------------------------------------------------------------------


def test_the_workflow_id_names_the_opportunity() -> None:
    assert security_review_workflow_id("006XYZ") == "security-review-006XYZ"


def test_a_new_review_has_its_steps_owners_and_timeline() -> None:
    s = make_snapshot()
    assert keys(s) == [
        "grant_access",
        "note_deployment_type",
        "ce_first_pass",
        "security_ce_review",
        "answers_returned",
    ]
    owners = {step.key: (step.role, step.owner) for step in s.steps}
    assert owners == {
        "grant_access": (SecurityRole.AE, AE),
        "note_deployment_type": (SecurityRole.CE, CE),
        "ce_first_pass": (SecurityRole.CE, CE),
        "security_ce_review": (SecurityRole.SECURITY_CE, SEC_WEST),
        "answers_returned": (SecurityRole.AE, AE),
    }
    # Default window: 10 days; access 1, deployment type 2, first pass 4, review 8, answers 10.
    assert [step.due_at - T0 for step in s.steps] == [DAY, 2 * DAY, 4 * DAY, 8 * DAY, 10 * DAY]
    assert s.due_at == s.original_due_at == T0 + 10 * DAY
    assert s.security_ce == SEC_WEST and s.phase is SecurityReviewPhase.OPEN
    assert all(step.status is StepStatus.PENDING for step in s.steps)
    assert [step.key for step in rules.waiting_on(s)] == ["grant_access"]


def test_the_regions_security_ce_reviews() -> None:
    s = make_snapshot(region=Region.US_EAST_EMEA)
    assert s.security_ce == SEC_EAST
    assert rules.require_step(s, "security_ce_review").owner == SEC_EAST


def test_the_timeline_scales_with_the_configured_window() -> None:
    s = make_snapshot(durations=Durations(security_review_due_seconds=1000))
    assert [int((step.due_at - T0).total_seconds()) for step in s.steps] == [
        100,
        200,
        400,
        800,
        1000,
    ]


def test_a_known_deployment_type_is_noted_from_the_start() -> None:
    s = make_snapshot(deployment_type=DeploymentType.CLOUD)
    step = rules.require_step(s, "note_deployment_type")
    assert (step.status, step.completed_by, step.completed_at) == (StepStatus.DONE, None, T0)
    assert step.note == "cloud: known from the opportunity"
    assert s.deployment_type is DeploymentType.CLOUD
    with pytest.raises(
        RuleViolation, match=r"already done when the review started \(2026-01-05 09:00 UTC\)"
    ):
        rules.check_complete_step(
            s,
            CompleteSecurityStep(
                "note_deployment_type", CE, deployment_type=DeploymentType.MANAGED
            ),
        )
    complete(s, "grant_access", AE)
    assert [step.key for step in rules.waiting_on(s)] == ["ce_first_pass"]


def test_plain_strings_from_an_untyped_caller_become_enums() -> None:
    s = make_snapshot(region="US East / EMEA", deployment_type="managed")
    assert s.start.region is Region.US_EAST_EMEA and s.security_ce == SEC_EAST
    assert s.deployment_type is DeploymentType.MANAGED


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("Mars", "unknown region 'Mars'; the regions are 'US West / APAC', 'US East / EMEA'"),
        ("us west", "unknown region 'us west'"),
        (None, "the region is missing; it is one of 'US West / APAC', 'US East / EMEA'"),
        ("  ", "the region is missing"),
    ],
)
def test_an_unknown_or_missing_region_is_rejected_with_the_valid_ones(
    region: object, message: str
) -> None:
    start = make_start(region=region)
    with pytest.raises(RuleViolation, match=message):
        rules.check_start(start, T0)
    with pytest.raises(RuleViolation, match="cannot start the security review"):
        rules.new_snapshot(start, T0, "scope")


def test_parse_region_accepts_the_region_names() -> None:
    assert rules.parse_region("US West / APAC") is Region.US_WEST_APAC
    assert rules.parse_region(Region.US_EAST_EMEA) is Region.US_EAST_EMEA
    with pytest.raises(RuleViolation, match="unknown region 'EU'"):
        rules.parse_region("EU")


def test_every_problem_of_a_start_is_named_at_once() -> None:
    start = make_start(
        account_id="",
        ae_owner=CE,
        deployment_type="on-prem",
        roster=SecurityRoster("", SEC_EAST, "", LEADER),
        durations=Durations(security_review_due_seconds=0),
    )
    with pytest.raises(RuleViolation) as rejected:
        rules.check_start(start, T0)
    message = rejected.value.message
    assert message.startswith("cannot start the security review: account_id is empty")
    for part in (
        "unknown deployment type 'on-prem'; it is one of 'self-hosted', 'managed', 'cloud'",
        "the CE and the AE must be different people",
        "the roster names no Security CE for US West / APAC",
        "the roster names no Security PM",
        "security_review_due_seconds must be positive, not 0",
    ):
        assert part in message


def test_a_good_start_passes_the_check() -> None:
    rules.check_start(make_start(), T0)  # no exception: nothing to report
    assert make_snapshot().start == make_start()


# --- Steps -----------------------------------------------------------------------------------


def test_a_full_review_in_order_records_who_and_when() -> None:
    s = make_snapshot()
    complete(s, "grant_access", AE, T0 + DAY / 2, note="shared via OneTrust")
    message = complete(
        s, "note_deployment_type", CE, T0 + DAY, deployment_type=DeploymentType.SELF_HOSTED
    )
    assert message.startswith("Note the preferred deployment type: done. Next: CE first pass")
    # Times read as everywhere else the CLI prints them, not as ISO text with microseconds.
    assert message.endswith("(CE U0CE00001, due 2026-01-09 09:00 UTC).")
    complete(s, "ce_first_pass", CE, T0 + 3 * DAY)
    complete(s, "security_ce_review", SEC_WEST, T0 + 6 * DAY)
    assert [step.key for step in rules.waiting_on(s)] == ["answers_returned"]
    message = complete(s, "answers_returned", AE, T0 + 7 * DAY)
    assert message == "Answers returned to the customer: done. The security review is complete."
    assert s.phase is SecurityReviewPhase.ANSWERED and s.answered_at == T0 + 7 * DAY
    assert s.deployment_type is DeploymentType.SELF_HOSTED
    access = rules.require_step(s, "grant_access")
    assert (access.completed_by, access.completed_at, access.note) == (
        AE,
        T0 + DAY / 2,
        "shared via OneTrust",
    )
    assert rules.require_step(s, "note_deployment_type").note == "self-hosted"
    result = rules.result_of(s)
    assert (result.security_ce, result.due_at, result.escalated_to_pm, result.answered_at) == (
        SEC_WEST,
        T0 + 10 * DAY,
        False,
        T0 + 7 * DAY,
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (CompleteSecurityStep("nonsense", AE), "unknown step 'nonsense'; the steps are: grant"),
        (
            CompleteSecurityStep("security_pm_review", PM),
            "exists only once the review is escalated to the Security PM",
        ),
        (
            CompleteSecurityStep("grant_access", CE),
            "U0CE00001 cannot complete 'grant_access': it belongs to the AE, U0AE00001",
        ),
        (
            CompleteSecurityStep("grant_access", SEC_WEST),
            "U0SECWEST1 cannot complete 'grant_access': it belongs to the AE, U0AE00001",
        ),
        (CompleteSecurityStep("grant_access", " "), "the actor is empty"),
        (
            CompleteSecurityStep("security_ce_review", CE),
            "cannot complete 'security_ce_review': it belongs to the Security CE, U0SECWEST1",
        ),
        (
            CompleteSecurityStep("note_deployment_type", CE, deployment_type=DeploymentType.CLOUD),
            "'note_deployment_type' cannot be completed yet: waiting for grant_access"
            r" \(AE U0AE00001\)",
        ),
        (
            CompleteSecurityStep("security_ce_review", SEC_WEST),
            "'security_ce_review' cannot be completed yet: waiting for grant_access"
            r" \(AE U0AE00001\), note_deployment_type \(CE U0CE00001\), ce_first_pass"
            r" \(CE U0CE00001\)",
        ),
        (
            CompleteSecurityStep("answers_returned", AE),
            "waiting for grant_access .*, security_ce_review \\(Security CE U0SECWEST1\\)",
        ),
        (
            CompleteSecurityStep("grant_access", AE, deployment_type=DeploymentType.CLOUD),
            "a deployment type is noted with 'note_deployment_type', not with 'grant_access'",
        ),
    ],
)
def test_bad_step_completions_are_rejected_and_change_nothing(
    request_: CompleteSecurityStep, message: str
) -> None:
    s = make_snapshot()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_complete_step(s, request_, T0)
    assert s == before


def test_the_deployment_type_must_be_named_and_known() -> None:
    s = make_snapshot()
    complete(s, "grant_access", AE)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="say which deployment type"):
        rules.apply_complete_step(s, CompleteSecurityStep("note_deployment_type", CE), T0)
    bad = CompleteSecurityStep("note_deployment_type", CE, deployment_type="on-prem")  # type: ignore[arg-type]
    with pytest.raises(RuleViolation, match="unknown deployment type 'on-prem'"):
        rules.apply_complete_step(s, bad, T0)
    assert s == before


def test_a_step_cannot_be_completed_twice() -> None:
    s = make_snapshot()
    complete(s, "grant_access", AE, T0 + DAY)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="already done by U0AE00001"):
        complete(s, "grant_access", AE, T0 + 2 * DAY)
    assert s == before


def test_the_ce_may_decline_the_first_pass_with_a_reason() -> None:
    s = make_snapshot()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="needs a reason"):
        rules.apply_decline_first_pass(s, DeclineFirstPass(CE, "  "), T0)
    with pytest.raises(
        RuleViolation,
        match="U0AE00001 cannot decline 'ce_first_pass': it belongs to the CE, U0CE00001",
    ):
        rules.apply_decline_first_pass(s, DeclineFirstPass(AE, "busy"), T0)
    assert s == before

    # Declining needs no access: the CE can say so as soon as the questionnaire arrives.
    message = rules.apply_decline_first_pass(s, DeclineFirstPass(CE, "FedRAMP questions"), T0)
    assert message.startswith("CE first pass (optional): declined (FedRAMP questions).")
    step = rules.require_step(s, "ce_first_pass")
    assert (step.status, step.completed_by, step.note) == (
        StepStatus.SKIPPED,
        CE,
        "FedRAMP questions",
    )
    with pytest.raises(RuleViolation, match="was declined by U0CE00001"):
        complete(s, "ce_first_pass", CE)
    with pytest.raises(RuleViolation, match="was declined by U0CE00001"):
        rules.check_decline_first_pass(s, DeclineFirstPass(CE, "again"))
    complete(s, "grant_access", AE)
    complete(s, "note_deployment_type", CE, deployment_type=DeploymentType.CLOUD)
    assert [step.key for step in rules.waiting_on(s)] == ["security_ce_review"]


def test_a_taken_first_pass_cannot_be_declined() -> None:
    s = make_snapshot()
    up_to_security_ce_review(s)
    with pytest.raises(RuleViolation, match="'ce_first_pass' is already done"):
        rules.check_decline_first_pass(s, DeclineFirstPass(CE, "changed my mind"))


# --- Escalation to the Security PM -----------------------------------------------------------


@pytest.mark.parametrize("actor", [CE, SEC_WEST])
def test_the_ce_or_the_security_ce_escalates_and_the_due_date_moves(actor: str) -> None:
    s = make_snapshot()
    up_to_security_ce_review(s)
    message = rules.apply_escalate(s, EscalateToSecurityPM(actor, "full review needed"), T0 + DAY)
    extra = 5 * DAY  # Durations.security_pm_extra_seconds
    assert message == (
        f"Escalated to the Security PM {PM}: answers are now due"
        " 2026-01-20 09:00 UTC (was 2026-01-15 09:00 UTC)."
    )
    assert s.due_at == T0 + 10 * DAY + extra and s.original_due_at == T0 + 10 * DAY
    assert keys(s)[3:] == ["security_ce_review", "security_pm_review", "answers_returned"]
    pm_step = rules.require_step(s, "security_pm_review")
    assert (pm_step.role, pm_step.owner, pm_step.due_at) == (
        SecurityRole.SECURITY_PM,
        PM,
        T0 + 8 * DAY + extra,
    )
    assert rules.require_step(s, "security_ce_review").due_at == T0 + 8 * DAY
    assert rules.require_step(s, "answers_returned").due_at == T0 + 15 * DAY
    assert s.escalation is not None
    assert (s.escalation.actor, s.escalation.reason, s.escalation.announced) == (
        actor,
        "full review needed",
        False,
    )

    # The PM reviews after the Security CE, and the answers wait for the PM.
    with pytest.raises(RuleViolation, match="waiting for security_ce_review"):
        complete(s, "security_pm_review", PM)
    complete(s, "security_ce_review", SEC_WEST, T0 + 7 * DAY)
    with pytest.raises(
        RuleViolation,
        match=r"waiting for security_pm_review \(Security PM U0SECPM01\)",
    ):
        complete(s, "answers_returned", AE)
    complete(s, "security_pm_review", PM, T0 + 12 * DAY)
    complete(s, "answers_returned", AE, T0 + 13 * DAY)
    result = rules.result_of(s)
    assert (result.escalated_to_pm, result.escalation_reason, result.due_at) == (
        True,
        "full review needed",
        T0 + 15 * DAY,
    )


def test_escalation_may_come_before_the_first_steps_are_done() -> None:
    s = make_snapshot()
    rules.apply_escalate(s, EscalateToSecurityPM(CE, "customer asked for the PM"), T0)
    assert s.due_at == T0 + 15 * DAY


@pytest.mark.parametrize(
    ("actor", "reason", "message"),
    [
        (
            AE,
            "why",
            "U0AE00001 cannot involve the Security PM: only the CE \\(U0CE00001\\) or the"
            " Security CE \\(U0SECWEST1\\) can",
        ),
        (SEC_EAST, "why", "U0SECEAST1 cannot involve the Security PM"),
        (PM, "why", "U0SECPM01 cannot involve the Security PM"),
        ("", "why", "the actor is empty"),
        (CE, " ", "needs a reason"),
    ],
)
def test_bad_escalations_are_rejected_and_change_nothing(
    actor: str, reason: str, message: str
) -> None:
    s = make_snapshot()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_escalate(s, EscalateToSecurityPM(actor, reason), T0)
    assert s == before


def test_a_second_escalation_is_rejected() -> None:
    s = make_snapshot()
    rules.apply_escalate(s, EscalateToSecurityPM(SEC_WEST, "full review"), T0 + DAY)
    before = copy.deepcopy(s)
    with pytest.raises(
        RuleViolation,
        match=r"already escalated to the Security PM \(by U0SECWEST1 at .*: full review\)",
    ):
        rules.apply_escalate(s, EscalateToSecurityPM(CE, "more time"), T0 + 2 * DAY)
    assert s == before


def test_escalation_after_the_security_ce_review_is_rejected() -> None:
    s = make_snapshot()
    up_to_security_ce_review(s)
    complete(s, "security_ce_review", SEC_WEST, T0 + 5 * DAY)
    before = copy.deepcopy(s)
    with pytest.raises(
        RuleViolation,
        match=r"the Security CE review is already done \(by U0SECWEST1 at .*\); escalate before",
    ):
        rules.apply_escalate(s, EscalateToSecurityPM(SEC_WEST, "too late"), T0 + 6 * DAY)
    assert s == before


def test_every_action_is_rejected_once_the_answers_are_returned() -> None:
    s = make_snapshot()
    up_to_security_ce_review(s)
    complete(s, "security_ce_review", SEC_WEST)
    complete(s, "answers_returned", AE, T0 + 2 * DAY)
    before = copy.deepcopy(s)
    actions: list[Callable[[], object]] = [
        lambda: rules.check_complete_step(s, CompleteSecurityStep("answers_returned", AE)),
        lambda: rules.check_decline_first_pass(s, DeclineFirstPass(CE, "late")),
        lambda: rules.check_escalate(s, EscalateToSecurityPM(CE, "late")),
    ]
    for action in actions:
        with pytest.raises(RuleViolation, match=r"is answered .*no further actions"):
            action()
    assert s == before
    assert rules.waiting_on(s) == [] and rules.next_wake_up(s) is None


# --- Time ------------------------------------------------------------------------------------


def test_overdue_is_derived_from_the_due_time() -> None:
    s = make_snapshot()
    step = rules.require_step(s, "grant_access")
    assert rules.status_at(step, T0 + DAY) is StepStatus.PENDING
    assert rules.status_at(step, T0 + DAY + timedelta(seconds=1)) is StepStatus.OVERDUE
    complete(s, "grant_access", AE, T0 + 2 * DAY)
    assert rules.status_at(step, T0 + 3 * DAY) is StepStatus.DONE
    view = rules.state_view(s, "security-review-006A", T0 + 3 * DAY)
    statuses = {step.key: step.status for step in view.steps}
    assert statuses["grant_access"] is StepStatus.DONE
    assert statuses["note_deployment_type"] is StepStatus.OVERDUE
    assert statuses["ce_first_pass"] is StepStatus.PENDING
    assert view.waiting_on == ["note_deployment_type"]


def test_only_steps_the_owner_can_act_on_are_reminded_then_escalated_once() -> None:
    s = make_snapshot()  # access due T0+1d: reminded a day later, then every two days
    assert rules.next_wake_up(s) == T0 + 2 * DAY
    assert rules.reminders_due(s, T0 + 2 * DAY - timedelta(seconds=1)) == []
    moments = [T0 + 2 * DAY, T0 + 4 * DAY, T0 + 6 * DAY, T0 + 8 * DAY]
    actions = []
    for moment in moments:
        due = rules.reminders_due(s, moment)
        assert [step.key for step in due] == ["grant_access"]  # later steps wait on it
        actions.append("leader" if rules.escalates_now(s, due[0]) else "owner")
        rules.record_reminder(s, due[0], moment)
        assert rules.next_wake_up(s) == moment + 2 * DAY
    # Two reminders (escalate_after_reminders), then the CE leader once, then the owner again.
    assert actions == ["owner", "owner", "leader", "owner"]
    access = rules.require_step(s, "grant_access")
    assert (access.reminders_sent, access.escalated_to_leader) == (3, True)


def test_a_step_opened_late_is_reminded_a_delay_after_it_opened() -> None:
    s = make_snapshot()
    complete(s, "grant_access", AE, T0 + 3 * DAY)  # deployment type was due at T0+2d
    step = rules.require_step(s, "note_deployment_type")
    assert rules.opened_at(s, step) == T0 + 3 * DAY
    assert rules.next_reminder_at(s, step) == T0 + 4 * DAY
    assert rules.next_wake_up(s) == T0 + 4 * DAY


def test_escalate_after_reminders_comes_from_the_configuration() -> None:
    s = make_snapshot(durations=Durations(escalate_after_reminders=0))
    step = rules.require_step(s, "grant_access")
    assert rules.escalates_now(s, step)
    rules.record_reminder(s, step, T0 + 2 * DAY)
    assert (step.reminders_sent, step.escalated_to_leader) == (0, True)
    assert not rules.escalates_now(s, step)


def test_state_view_reports_escalation_and_who_is_up_next() -> None:
    s = make_snapshot(deployment_type=DeploymentType.MANAGED)
    complete(s, "grant_access", AE)
    rules.apply_escalate(s, EscalateToSecurityPM(CE, "HIPAA"), T0 + DAY)
    view = rules.state_view(s, "security-review-006A", T0 + DAY)
    assert (view.escalated_to_pm, view.escalation_reason, view.escalated_by) == (
        True,
        "HIPAA",
        CE,
    )
    assert (view.due_at, view.original_due_at) == (T0 + 15 * DAY, T0 + 10 * DAY)
    assert (view.region, view.security_ce, view.security_pm) == (Region.US_WEST_APAC, SEC_WEST, PM)
    assert view.deployment_type is DeploymentType.MANAGED
    assert view.waiting_on == ["ce_first_pass"]
    assert [step.key for step in view.steps] == [d.key for d in SECURITY_REVIEW_STEPS]
    assert view.as_of == T0 + DAY and view.answered_at is None


def test_the_snapshot_survives_the_payload_converter_as_continue_as_new_carries_it() -> None:
    s = make_snapshot()
    complete(s, "grant_access", AE, T0 + DAY, note="granted")
    rules.apply_decline_first_pass(s, DeclineFirstPass(CE, "not comfortable"), T0 + DAY)
    rules.apply_escalate(s, EscalateToSecurityPM(SEC_WEST, "full review"), T0 + 2 * DAY)
    rules.record_reminder(s, rules.require_step(s, "note_deployment_type"), T0 + 3 * DAY)
    converter = DataConverter.default.payload_converter
    [payload] = converter.to_payloads([SecurityReviewInput(carried=s)])
    [carried] = converter.from_payloads([payload], [SecurityReviewInput])
    assert carried == SecurityReviewInput(carried=s)
    assert carried.carried.start.region is Region.US_WEST_APAC
    assert carried.carried.steps[2].status is StepStatus.SKIPPED


def test_the_opportunity_concludes_its_review_once_and_it_reminds_no_more() -> None:
    s = make_snapshot()
    abandoned = ConcludedByOpportunity("opportunity-006A", OpportunityEnd.ABANDONED, "no budget")
    assert not rules.conclude(
        s, ConcludedByOpportunity("opportunity-006B", OpportunityEnd.LOST), T0
    )
    assert rules.conclude(s, abandoned, T0 + timedelta(days=1))
    assert (s.phase, s.conclusion_reason) == (
        SecurityReviewPhase.CONCLUDED,
        "the opportunity was abandoned: no budget",
    )
    assert not rules.conclude(s, abandoned, T0 + timedelta(days=2))
    assert s.concluded_at == T0 + timedelta(days=1)
    assert rules.reminders_due(s, T0 + timedelta(days=60)) == []
    assert rules.next_wake_up(s) is None
    with pytest.raises(RuleViolation, match="was concluded"):
        rules.check_decline_first_pass(s, DeclineFirstPass(CE, "not comfortable"))
    assert rules.result_of(s).conclusion_reason == "the opportunity was abandoned: no budget"
