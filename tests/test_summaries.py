"""The text the Temporal Web UI shows: static summaries of each start
(``schemas.start_summaries``), activity and timer summaries and current details
(``workflows.summaries``). Pure functions, no Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.account import AccountHandOff, AccountProfile, AccountStart, LifecycleStage
from schemas.common import DeploymentType, Durations, Region, SecurityRoster
from schemas.effects import (
    EffectKind,
    LicenseRequest,
    SalesforceFieldUpdate,
    SalesforceTaskRequest,
    SlackPost,
)
from schemas.health import HealthConfig, RedAccountCaseStart
from schemas.opportunity import OpportunityKind, OpportunityStart
from schemas.start_summaries import (
    SUMMARY_LIMIT,
    account,
    closed_won_intake,
    daily_digest,
    hand_off,
    opportunity,
    red_account_case,
    trial,
)
from schemas.todo import OpenStep, OpenSteps, TodoKind
from schemas.trial import TrialStart
from workflows import summaries
from workflows.summaries import WakeUp, current_details, earliest

T0 = datetime(2027, 1, 4, tzinfo=UTC)
RENEWAL = datetime(2027, 3, 1, tzinfo=UTC)
ROSTER = SecurityRoster("U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1")


def acme(**changes: object) -> AccountProfile:
    fields: dict[str, object] = {
        "account_id": "001ACME",
        "account_name": "Acme Corp",
        "tier": 1,
        "region": "US East / EMEA",
        "ae_owner": "U0AE1",
        "ce_owner": "U0CE1",
        "seats": 100,
        "renewal_date": RENEWAL,
    }
    fields.update(changes)
    return AccountProfile(**fields)  # type: ignore[arg-type]


def test_an_account_brought_in_reads_name_tier_and_renewal() -> None:
    shown = account(AccountStart("001ACME", "Acme Corp", profile=acme()))
    assert shown.summary == "Acme Corp · Tier 1 · renews 2027-03-01"
    assert shown.details.split(" · ") == [
        "**Account**: Acme Corp (001ACME)",
        "**Owners**: AE U0AE1 / CE U0CE1",
        "**Seats**: 100",
        "**Region**: US East / EMEA",
        "**Deployment**: self-hosted",
        "**Stage**: kickoff",
    ]


def test_what_an_account_does_not_know_is_left_out() -> None:
    shown = account(
        AccountStart(
            "001ACME",
            "Acme Corp",
            profile=acme(tier=0, renewal_date=None, ae_owner="", seats=0),
            stage=LifecycleStage.ADOPTION,
        )
    )
    assert shown.summary == "Acme Corp"
    assert "**Owners**: CE U0CE1" in shown.details.split(" · ")
    assert "Seats" not in shown.details


def test_a_handed_off_account_renews_one_contract_term_after_the_close() -> None:
    deal = AccountHandOff(
        "OPP-1", "001ACME", "Acme Corp", "new", 50, "", "", 2, "US West / APAC", T0
    )
    shown = hand_off(deal, term_days=365)
    assert shown.summary == "Acme Corp · Tier 2 · renews 2028-01-04"
    assert "**Handed off by**: OPP-1 (new), closed 2027-01-04" in shown.details.split(" · ")
    assert "Owners" not in shown.details  # the intake knows no Slack members
    # A start with no profile but a hand-off reads the same.
    assert account(AccountStart("001ACME", "Acme Corp", hand_offs=[deal])).summary == (
        shown.summary
    )


def test_trials_opportunities_and_cases_name_what_they_are() -> None:
    start = TrialStart("OPP-1", "001ACME", "Acme Corp", "U0CE1", "U0AE1", length_days=21)
    assert trial(start).summary == "Trial · Acme Corp · OPP-1 · 21 days"
    default = TrialStart("OPP-1", "001ACME", "Acme Corp", "U0CE1", "U0AE1")
    assert (
        trial(default).summary
        == f"Trial · Acme Corp · OPP-1 · {Durations().trial_length_days} days"
    )
    deal = OpportunityStart(
        "OPP-2",
        "001ACME",
        "Acme Corp",
        "U0AE1",
        "U0CE1",
        Region.US_WEST_APAC,
        DeploymentType.CLOUD,
        1,
        OpportunityKind.EXPANSION,
        True,
        ROSTER,
    )
    assert opportunity(deal).summary == "Opportunity · Acme Corp · OPP-2 · expansion · Tier 1"
    assert opportunity(deal).details.endswith(" · **Complex engagement**: yes")
    case = RedAccountCaseStart(
        "red-1",
        "001ACME",
        "Acme Corp",
        1,
        RENEWAL,
        "U0AE1",
        "U0CE1",
        "the champion left and usage halved",
        T0,
        HealthConfig(),
        ROSTER,
        "http://localhost:8233/x",
    )
    shown = red_account_case(case)
    assert shown.summary == "Red account case · Acme Corp · Tier 1 · renews 2027-03-01"
    assert "champion" not in shown.summary + shown.details  # a person's words stay out
    assert closed_won_intake("every 0:15:00").details == "**Runs**: every 0:15:00"
    assert daily_digest(7).details == "**Runs**: daily at 07:00 UTC"


def test_a_summary_is_one_line_of_at_most_200_characters() -> None:
    long = AccountStart("001ACME", "Acme\nCorp " + "x" * 300, profile=acme())
    summary = account(long).summary
    assert len(summary) == SUMMARY_LIMIT and summary.endswith("…") and "\n" not in summary


def post(channel: str, text: str, thread_ts: str | None = None) -> SlackPost:
    return SlackPost("scope/key", channel, text, thread_ts=thread_ts)


def test_a_slack_effect_says_who_hears_what_in_its_first_sentence() -> None:
    overdue = post(
        "U0CE1",
        "Overdue: 'Trial rollout plan' for the Acme trial (OPP-1) was due 2027-01-10. When it"
        " is done: dealcycle step complete trial-OPP-1 trial_rollout_plan --by U0CE1",
    )
    assert summaries.slack_post(overdue, EffectKind.REMINDER) == (
        "remind U0CE1: Overdue: 'Trial rollout plan' for the Acme trial (OPP-1) was due 2027-01-10."
    )
    announce = post("#customer-accounts", "New customer <@U0CE1> <https://x.test/a|Acme>. More")
    assert summaries.slack_post(announce, EffectKind.ANNOUNCEMENT) == (
        "post #customer-accounts: New customer @U0CE1 Acme."
    )
    assert summaries.slack_post(post("#red", "Still red.", "1.2"), EffectKind.ANNOUNCEMENT) == (
        "reply in #red: Still red."
    )
    assert summaries.slack_post(post("U0CE1", "Hi."), EffectKind.ANNOUNCEMENT) == (
        "message U0CE1: Hi."
    )
    rambling = post("#c", "word " * 100)
    assert len(summaries.slack_post(rambling, EffectKind.ANNOUNCEMENT)) < 120


def test_salesforce_and_license_effects_name_the_record() -> None:
    update = SalesforceFieldUpdate("k", "Opportunity", "OPP-1", {"StageName": "Stage 3"})
    assert summaries.salesforce_update(update) == "Salesforce Opportunity OPP-1: set StageName"
    task = SalesforceTaskRequest("k", "001ACME", "T-90 value exercise. Book it.", "2027-01-04")
    assert summaries.salesforce_task(task) == "Salesforce Task: T-90 value exercise."
    license_request = LicenseRequest("k", "001ACME", "Acme Corp", "full", 100, RENEWAL)
    assert summaries.license_key(license_request) == ("issue a full license: Acme Corp, 100 seats")


def test_the_earliest_wake_up_wins_and_ties_keep_the_first_named() -> None:
    assert earliest([]) is None
    first = WakeUp(T0, summaries.reminder("Kickoff plan"))
    same = WakeUp(T0, summaries.opens("T-90 value exercise"))
    later = WakeUp(T0 + timedelta(days=1), "later")
    assert earliest([later, first, same]) == first
    assert first.summary == "next reminder: Kickoff plan"
    assert same.summary == "T-90 value exercise opens"


def test_current_details_list_the_open_steps_soonest_first_and_mark_the_overdue() -> None:
    view = OpenSteps(
        TodoKind.ACCOUNT,
        "Acme Corp",
        [
            OpenStep("later", "Quarterly plan", "U0CE1", "CE", T0 + timedelta(days=9)),
            OpenStep("undated", "Training", "", "", None),
            OpenStep("late", "Kickoff plan", "U0CE1", "CE", T0 - timedelta(days=2)),
        ],
    )
    text = current_details("Acme Corp · Tier 1", "onboarding", view.steps, T0)
    assert text.split("\n\n") == [
        "**Acme Corp · Tier 1** · phase **onboarding** · 3 open steps, 1 overdue",
        "- Kickoff plan · CE U0CE1 · **overdue** since 2027-01-02\n"
        "- Quarterly plan · CE U0CE1 · due 2027-01-13\n"
        "- Training · nobody yet · no due date",
    ]


def test_current_details_without_steps_count_none_and_show_the_notes() -> None:
    assert current_details("H", "open", [], T0) == "**H** · phase **open** · 0 open steps"
    text = current_details("H", "Stage 3 - Solution (open)", None, T0, ["security review open"])
    assert text == "**H** · phase **Stage 3 - Solution (open)**\n\n- security review open"
    many = [OpenStep(f"s{i}", f"Step {i}", "U0CE1", "CE", T0) for i in range(15)]
    assert current_details("H", "p", many, T0).endswith("- … and 3 more")
