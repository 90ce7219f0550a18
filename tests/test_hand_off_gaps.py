"""A repeat of a known deal fills what the account does not know, and nothing more: the rules
of ``workflows.hand_off_gaps``, without a server."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from schemas.account import AccountSnapshot, LifecycleStage
from tests.test_account_rules import AE, CE, T0, make_hand_off, make_snapshot
from workflows import hand_off_gaps as gaps
from workflows.account_onboarding_rules import KICKOFF_PLAN_STEP
from workflows.account_profile_rules import apply_hand_off
from workflows.account_schedule import advance
from workflows.account_steps import missing_profile

LATER = T0 + timedelta(hours=2)
FROM_INTAKE = make_hand_off(ae_owner="", ce_owner="", deployment_type="", amount=80000.0)
"""What the intake reads from Salesforce: no Slack members, and here no deployment."""


def handed_off_by_the_intake() -> AccountSnapshot:
    s = make_snapshot(with_profile=False)
    assert apply_hand_off(s, FROM_INTAKE, T0)
    advance(s, T0)
    assert missing_profile(s) == ["AE", "CE"]
    return s


def repeats(s: AccountSnapshot) -> list[str]:
    return [entry.action for entry in s.audit if "again" in entry.action]


def test_the_opportunitys_repeat_fills_the_owners_and_the_kickoff_opens_with_one_key() -> None:
    s = handed_off_by_the_intake()
    version = s.profile_version
    from_opportunity = make_hand_off(deployment_type="cloud")
    assert gaps.fills_gaps(s, from_opportunity)
    assert gaps.apply_repeat(s, from_opportunity, LATER)
    assert (s.profile.ae_owner, s.profile.ce_owner) == (AE, CE)
    assert s.profile.deployment_type == "cloud"  # no deal had said it
    assert s.profile.seats == 50 and s.profile_version == version + 1
    [deal] = s.hand_offs
    assert (deal.ae_owner, deal.ce_owner, deal.amount, deal.deployment_type) == (
        AE,
        CE,
        80000.0,
        "cloud",
    )
    assert repeats(s) == ["deal 006A handed off again: filled in AE, CE, deployment"]
    advance(s, LATER)
    [kickoff] = [step for step in s.steps if step.key == KICKOFF_PLAN_STEP]
    assert kickoff.owner == CE
    assert [grant.seats for grant in s.licenses] == [50]

    # Again, from either side: nothing new, nothing changes.
    for again in (from_opportunity, FROM_INTAKE):
        assert not gaps.fills_gaps(s, again)
        assert not gaps.apply_repeat(s, again, LATER)
    advance(s, LATER)
    assert [grant.seats for grant in s.licenses] == [50]
    assert len(repeats(s)) == 1 and s.profile_version == version + 1


def test_a_repeat_never_overwrites_what_the_account_knows() -> None:
    s = make_snapshot(with_profile=False)
    assert apply_hand_off(s, make_hand_off(ce_owner="", deployment_type="managed"), T0)
    known = s.profile
    other = make_hand_off(
        ae_owner="U0OTHERAE",
        tier=3,
        seats=999,
        region="US West / APAC",
        deployment_type="cloud",
    )
    assert gaps.apply_repeat(s, other, LATER)
    assert s.profile == replace(known, ce_owner=CE)
    assert s.profile.deployment_type == "managed"  # the first deal said it
    assert repeats(s) == ["deal 006A handed off again: filled in CE"]


def test_a_repeat_fills_an_unknown_tier_seats_and_region() -> None:
    s = make_snapshot(with_profile=False)
    bare = make_hand_off(ae_owner="", ce_owner="", tier=0, seats=0, region="")
    assert apply_hand_off(s, bare, T0)
    assert gaps.apply_repeat(s, make_hand_off(ae_owner="", ce_owner=""), LATER)
    assert (s.profile.tier, s.profile.seats, s.profile.region) == (2, 50, "US East / EMEA")
    assert repeats(s) == ["deal 006A handed off again: filled in tier, seats, region"]
    assert missing_profile(s) == ["AE", "CE"]


def test_a_repeated_expansion_adds_no_seats_and_grants_no_key() -> None:
    s = make_snapshot()  # established: 50 seats, its kickoff key owed
    advance(s, T0)
    expansion = make_hand_off(opportunity_id="006MORE", kind="expansion", seats=20, region="")
    assert apply_hand_off(s, expansion, T0)
    assert (s.profile.seats, len(s.licenses)) == (70, 2)
    # The region was known from the start; the repeat knows nothing else the account lacks.
    assert not gaps.apply_repeat(s, replace(expansion, region="US East / EMEA"), LATER)
    assert not gaps.apply_repeat(s, expansion, LATER)
    assert (s.profile.seats, len(s.licenses), repeats(s)) == (70, 2, [])


def test_a_repeat_takes_no_ce_who_is_already_the_ae_and_fills_nothing_once_churned() -> None:
    s = handed_off_by_the_intake()
    assert gaps.apply_repeat(s, make_hand_off(ce_owner=""), LATER)
    assert not gaps.apply_repeat(s, make_hand_off(ce_owner=AE), LATER)
    assert s.profile.ce_owner == ""
    s.stage = LifecycleStage.CHURNED
    assert not gaps.fills_gaps(s, make_hand_off())
