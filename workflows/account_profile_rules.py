"""Who the account is: its start, the deals handed off to it, its profile completed by hand
and its seats expanded."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from schemas import limits
from schemas.account import (
    AccountHandOff,
    AccountProfile,
    AccountSnapshot,
    AccountStart,
    CheckInCadence,
    CompleteProfile,
    ExpandSeats,
    KickoffPlan,
    LifecycleStage,
)
from schemas.errors import RuleViolation
from workflows.account_calendar import add_years, midnight
from workflows.account_onboarding_rules import (
    BROUGHT_IN,
    finish_onboarding,
    open_training_steps,
    set_cadence,
    unknown_cadence,
)
from workflows.account_steps import (
    audit,
    check_actor,
    check_actor_named,
    check_not_churned,
    check_profile_complete,
    grant_license,
    missing_profile,
    profile_changed,
)


def _profile_problems(profile: AccountProfile, now: datetime) -> list[str]:
    problems = []
    if profile.tier not in (1, 2, 3):
        problems.append(f"tier must be 1, 2 or 3, not {profile.tier}")
    if profile.seats < 1:
        problems.append(f"seats must be at least 1, not {profile.seats}")
    for name in ("ae_owner", "ce_owner"):
        if not getattr(profile, name).strip():
            problems.append(f"{name} is empty")
    if profile.ae_owner and profile.ae_owner == profile.ce_owner:
        problems.append("the AE and the CE must be different people")
    if profile.renewal_date is None:
        problems.append("renewal_date is missing")
    else:
        problems += _renewal_date_problems(profile.renewal_date, now)
    return problems


def _renewal_date_problems(renewal_date: datetime, now: datetime) -> list[str]:
    if renewal_date.utcoffset() is None:
        return ["renewal_date must carry a time zone"]
    if renewal_date <= now:
        return [
            f"renewal date {renewal_date.date().isoformat()} is in the past"
            f" (today is {now.date().isoformat()})"
        ]
    return []


def check_start(start: AccountStart, now: datetime) -> None:
    limits.check(start, now, "cannot start the account: ")
    problems = []
    if not start.account_id.strip():
        problems.append("account_id is empty")
    if not start.account_name.strip():
        problems.append("account_name is empty")
    if start.stage is LifecycleStage.CHURNED:
        problems.append("a churned customer has no account workflow to start")
    if start.profile is not None:
        problems += _profile_problems(start.profile, now)
        if start.profile.account_id != start.account_id:
            problems.append("the profile is for another account")
    elif start.stage is not LifecycleStage.KICKOFF:
        problems.append(f"a customer brought in at {start.stage.value} needs its profile")
    if start.cadence:
        try:
            CheckInCadence(start.cadence)
        except ValueError:
            problems.append(unknown_cadence(start.cadence))
    if (
        start.stage is LifecycleStage.RENEWAL
        and start.profile is not None
        and start.profile.renewal_date is not None
        and start.profile.renewal_date - now
        > timedelta(days=start.configured.durations.value_exercise_lead_days)
    ):
        problems.append(
            f"the renewal on {start.profile.renewal_date.date().isoformat()} is more than"
            f" {start.configured.durations.value_exercise_lead_days} days away: start at adoption"
        )
    if problems:
        raise RuleViolation("cannot start the account: " + "; ".join(problems))


def new_snapshot(start: AccountStart, now: datetime, effect_scope: str) -> AccountSnapshot:
    check_start(start, now)
    profile = start.profile or AccountProfile(start.account_id, start.account_name)
    s = AccountSnapshot(
        profile=profile,
        config=start.configured,
        effect_scope=effect_scope,
        stage=start.stage,
        started_at=now,
    )
    s.vitals.account_id = start.account_id
    for hand_off in start.hand_offs:
        apply_hand_off(s, hand_off, now)
    if start.stage is LifecycleStage.KICKOFF:
        return s
    # A customer brought in past kickoff: its key exists; its cadence was settled long ago.
    cadence = CheckInCadence(start.cadence or CheckInCadence.MONTHLY.value)
    s.kickoff = KickoffPlan(cadence, [], False, [], BROUGHT_IN, now)
    s.kickoff_announced = True
    set_cadence(s, cadence, now)
    if start.stage is LifecycleStage.ONBOARDING:
        s.production_ready_at = now
        open_training_steps(s, now)
    else:
        finish_onboarding(s, now)
        s.stage = start.stage
    return s


def apply_hand_off(s: AccountSnapshot, hand_off: AccountHandOff, now: datetime) -> bool:
    """Keep one hand-off per deal. The first deal tells a new account who it is; a later
    expansion deal adds its seats (a new key). Returns whether anything changed: a repeat of
    a known deal changes nothing here (``hand_off_gaps`` fills in what it knows)."""
    if any(known.opportunity_id == hand_off.opportunity_id for known in s.hand_offs):
        return False
    s.hand_offs.append(hand_off)
    p = s.profile
    established = not missing_profile(s)
    if not established:
        term = s.config.durations.contract_term_days
        adds_seats = hand_off.kind == "expansion" and p.seats >= 1 and hand_off.seats > 0
        s.profile = replace(
            p,
            tier=p.tier if p.tier in (1, 2, 3) else hand_off.tier,
            seats=p.seats + hand_off.seats if adds_seats else p.seats or hand_off.seats,
            ae_owner=p.ae_owner or hand_off.ae_owner,
            ce_owner=p.ce_owner or hand_off.ce_owner,
            region=p.region or hand_off.region,
            # The deal's CloseDate: the contract runs one term from it.
            renewal_date=p.renewal_date or add_years(midnight(hand_off.closed_at), term),
            deployment_type=hand_off.deployment_type or p.deployment_type,
        )
        profile_changed(s)
    elif (
        hand_off.kind == "expansion"
        and hand_off.seats > 0
        and s.stage is not (LifecycleStage.CHURNED)
    ):
        grant_license(s, f"expansion deal {hand_off.opportunity_id}", p.seats + hand_off.seats)
        s.profile = replace(p, seats=p.seats + hand_off.seats)
        profile_changed(s)
    audit(s, now, "hand-off", f"deal {hand_off.opportunity_id} ({hand_off.kind}) handed off")
    return True


def check_complete_profile(s: AccountSnapshot, request: CompleteProfile, now: datetime) -> None:
    check_not_churned(s)
    check_actor_named(request.actor)
    given = {
        "tier": request.tier != 0,
        "seats": request.seats != 0,
        "AE": bool(request.ae_owner),
        "CE": bool(request.ce_owner),
        "renewal date": request.renewal_date is not None,
    }
    if not any(given.values()):
        raise RuleViolation("nothing to fill in: give tier, seats, AE, CE or renewal date")
    missing = set(missing_profile(s))
    if _past_renewal(s, now) is not None:
        missing.add("renewal date")  # a stale one (an old deal's close + a term) is replaced
    already = [name for name, set_ in given.items() if set_ and name not in missing]
    if already:
        commands = dict.fromkeys(f"`dealcycle account {_CHANGED_BY[name]}`" for name in already)
        raise RuleViolation(
            f"already known: {', '.join(already)}; to change it use {', '.join(commands)}"
        )
    problems = []
    if request.tier and request.tier not in (1, 2, 3):
        problems.append(f"tier must be 1, 2 or 3, not {request.tier}")
    if request.seats and not 1 <= request.seats <= limits.MAX_SEATS:
        problems.append(f"seats must be at least 1, not {request.seats}")
    if request.renewal_date is not None:
        problems += _renewal_date_problems(request.renewal_date, now)
    ae = request.ae_owner or s.profile.ae_owner
    if ae and ae == (request.ce_owner or s.profile.ce_owner):
        problems.append("the AE and the CE must be different people")
    if problems:
        raise RuleViolation("cannot complete the profile: " + "; ".join(problems))


_CHANGED_BY = {
    "tier": "tier",
    "seats": "seats",
    "AE": "reassign",
    "CE": "reassign",
    "renewal date": "renewal-date",
}


def _past_renewal(s: AccountSnapshot, now: datetime) -> datetime | None:
    """The renewal date of a profile not complete yet, when it has passed: one contract term
    after the close of a deal handed off long after (an old deal edited in Salesforce)."""
    renewal = s.profile.renewal_date
    if renewal is None or renewal > now or not missing_profile(s):
        return None
    return renewal


def check_profile_renewal_ahead(
    s: AccountSnapshot, request: CompleteProfile, now: datetime
) -> None:
    """A profile is not completed with a renewal date that has passed: completing it opens the
    kickoff, whose key would expire on that date, and the whole renewal window, overdue. Asked
    for by the validator only: completions accepted before replay as they were."""
    past = _past_renewal(s, now)
    if past is None or request.renewal_date is not None:
        return
    if not missing_profile(replace(s, profile=_completed(s.profile, request))):
        raise RuleViolation(
            f"cannot complete the profile: its renewal date {past.date().isoformat()} (one"
            f" contract term after the deal's close) is in the past (today is"
            f" {now.date().isoformat()}); give the current one (--renewal-date)"
        )


def _completed(p: AccountProfile, request: CompleteProfile) -> AccountProfile:
    return replace(
        p,
        tier=request.tier or p.tier,
        seats=request.seats or p.seats,
        ae_owner=request.ae_owner or p.ae_owner,
        ce_owner=request.ce_owner or p.ce_owner,
        renewal_date=request.renewal_date or p.renewal_date,
    )


def apply_complete_profile(s: AccountSnapshot, request: CompleteProfile, now: datetime) -> str:
    check_complete_profile(s, request, now)
    s.profile = _completed(s.profile, request)
    profile_changed(s)
    audit(s, now, request.actor, "completed the profile", request.via)
    still = missing_profile(s)
    if still:
        return f"profile updated; still missing: {', '.join(still)}"
    return "profile complete"


def check_expand_seats(s: AccountSnapshot, request: ExpandSeats) -> None:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    check_profile_complete(s, "expand seats")
    if not s.profile.seats < request.seats <= limits.MAX_SEATS:
        raise RuleViolation(
            f"a seat expansion needs more seats than today's {s.profile.seats}, not {request.seats}"
        )
    if not request.reason.strip():
        raise RuleViolation("a seat expansion needs a reason")


def apply_expand_seats(s: AccountSnapshot, request: ExpandSeats, now: datetime) -> str:
    check_expand_seats(s, request)
    before = s.profile.seats
    s.profile = replace(s.profile, seats=request.seats)
    profile_changed(s)
    grant_license(s, f"seat expansion: {request.reason}", request.seats)
    audit(s, now, request.actor, f"expanded seats {before} -> {request.seats}", request.via)
    return f"seats {before} -> {request.seats}; a new key follows"
