"""The quarterly account plan, and the tier that says when it is due and who it is shared with
(a tier change takes effect from the next quarter)."""

from __future__ import annotations

from datetime import datetime

from schemas.account import (
    AccountSnapshot,
    AccountStep,
    ChangeTier,
    PlanSubmission,
    StepKind,
    SubmitAccountPlan,
)
from schemas.common import CustomerHealth, StepStatus
from schemas.errors import RuleViolation
from schemas.salesforce_fields import find_field
from workflows.account_calendar import next_quarter, parse_quarter, quarter_of, quarter_start
from workflows.account_steps import (
    audit,
    check_actor,
    check_not_churned,
    check_profile_complete,
    complete,
    find,
    open_of,
)

PLAN_SECTIONS = (
    "use_cases",
    "expansion_opportunities",
    "risks",
    "product_feedback_themes",
    "objectives",
)
PLAN_CONTACTS = ("champion", "economic_buyer", "advocate", "admin")


def check_account_plan(s: AccountSnapshot, request: SubmitAccountPlan) -> AccountStep:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    parse_quarter(request.quarter)
    missing = [
        f"contacts.{name}"
        for name in PLAN_CONTACTS
        if not str(getattr(request.contacts, name, "") or "").strip()
    ]
    missing += [
        name
        for name in PLAN_SECTIONS
        if not [item for item in getattr(request, name) if str(item).strip()]
    ]
    for name in ("health", "next_steps", "link"):
        if not getattr(request, name).strip():
            missing.append(name)
    if missing:
        raise RuleViolation(
            "the account plan is missing sections: " + ", ".join(missing) + "; nothing was saved"
        )
    try:
        CustomerHealth(request.health.strip().lower())
    except ValueError:
        raise RuleViolation(
            f"plan health {request.health!r} must be green, yellow or red"
        ) from None
    if not request.link.startswith(("https://", "http://")):
        raise RuleViolation(f"plan link {request.link!r} must be an http(s) URL")
    if s.onboarding_completed_at is None:
        raise RuleViolation(
            "the first account plan comes after onboarding completes; until then the"
            " onboarding plan is the roadmap"
        )
    step = find(s, f"account-plan-{request.quarter}")
    if step is None:
        first = s.first_planning_quarter
        since_first = first is not None and parse_quarter(request.quarter) >= parse_quarter(first)
        # A quarter already opened whose finished plan a continue-as-new let go of: over.
        over = since_first and _quarter_is_over(s, request.quarter)
        opens = f" (it opens {quarter_start(request.quarter).date().isoformat()})"
        raise RuleViolation(
            f"no account plan is open for {request.quarter}"
            + (" (its quarter is over)" if over else opens if since_first else "")
            + "; open: "
            + (", ".join(x.key for x in open_of(s, StepKind.ACCOUNT_PLAN)) or "none")
            + ("" if since_first else f" (the first is for {first})")
        )
    if step.status is StepStatus.SKIPPED:
        raise RuleViolation(f"the {request.quarter} plan is closed ({step.note})")
    return step


def _quarter_is_over(s: AccountSnapshot, quarter: str) -> bool:
    """A later quarter's plan has opened since."""
    latest = s.planned_quarters[-1] if s.planned_quarters else None
    return latest is not None and parse_quarter(quarter) < parse_quarter(latest)


def check_plan_quarter_current(s: AccountSnapshot, request: SubmitAccountPlan) -> None:
    """A plan is replaced only while its quarter is the current one: a past quarter's, sent
    again, would write its next steps and link over the current plan's in Salesforce. Asked
    for by the validator only: replacements accepted before replay as they were."""
    if _quarter_is_over(s, request.quarter):
        raise RuleViolation(
            f"the {request.quarter} plan is closed: its quarter is over and the"
            f" {s.planned_quarters[-1]} plan is the current one (its next steps and link are"
            " the ones in Salesforce)"
        )


def check_plan_link_fits(request: SubmitAccountPlan) -> None:
    """The link fits Salesforce's Account Plan Link: a longer one would be clipped there, a
    link that leads nowhere. Asked for by the validator only: plans accepted before replay as
    they were."""
    field = find_field("Account", "Account_Plan_Link__c")
    assert field is not None and field.length is not None
    if len(request.link) > field.length:
        raise RuleViolation(
            f"plan link is {len(request.link)} characters: Salesforce's Account Plan Link"
            f" holds at most {field.length}; give a shorter link to the plan"
        )


def apply_account_plan(s: AccountSnapshot, request: SubmitAccountPlan, now: datetime) -> str:
    step = check_account_plan(s, request)
    resubmitted = step.status is StepStatus.DONE
    if not resubmitted:
        complete(step, request.actor, now, "")
    s.plans_submitted += 1
    s.plans.append(PlanSubmission(request, s.profile.tier, now, s.plans_submitted))
    audit(s, now, request.actor, f"submitted the {request.quarter} account plan", request.via)
    audience = (
        "the 2:2 review and the internal QBR" if s.profile.tier == 1 else "the CE leader (1:1)"
    )
    verb = "replaced" if resubmitted else "recorded"
    return f"{request.quarter} account plan {verb}; shared with {audience}"


def check_change_tier(s: AccountSnapshot, request: ChangeTier, now: datetime) -> None:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    check_profile_complete(s, "change the tier")
    if request.tier not in (1, 2, 3):
        raise RuleViolation(f"tier must be 1, 2 or 3, not {request.tier}")
    if not request.reason.strip():
        raise RuleViolation("a tier change needs a reason")
    upcoming = s.next_tier if s.next_tier is not None else s.profile.tier
    if request.tier == upcoming:
        raise RuleViolation(f"the account is already tier {request.tier} from next quarter")


def apply_change_tier(s: AccountSnapshot, request: ChangeTier, now: datetime) -> str:
    check_change_tier(s, request, now)
    # Back to today's tier: the pending change is withdrawn. (It stays recorded as a change to
    # the same tier, which the quarter applies as the runs before did: the views leave it out.)
    withdrawn = s.next_tier if request.tier == s.profile.tier else None
    withdrawn_from = s.next_tier_from
    s.next_tier = request.tier
    s.next_tier_from = next_quarter(quarter_of(now))
    audit(
        s,
        now,
        request.actor,
        f"tier {request.tier} from {s.next_tier_from}: {request.reason}",
        request.via,
    )
    if withdrawn is not None:
        return (
            f"the account stays Tier {request.tier}: the change to Tier {withdrawn} from"
            f" {withdrawn_from} is withdrawn"
        )
    return f"tier {request.tier} takes effect from {s.next_tier_from}"
