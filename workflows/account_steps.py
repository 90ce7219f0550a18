"""The account's steps and audit trail, and what every rule over ``AccountSnapshot`` shares.

The rules of a customer account's lifecycle are pure functions over ``AccountSnapshot``, one
module per concept: ``account_profile_rules``, ``account_onboarding_rules``,
``account_plan_rules``, ``account_renewal_rules``, ``account_feedback_rules``, and
``account_schedule`` for the work that time brings. No Temporal here: the workflow calls
``check_*`` from update validators (they only read, so a rejected action changes nothing) and
``apply_*`` from handlers. This module holds what they share: finding, opening, completing and
skipping steps (and a person completing one), the audit trail, the profile's completeness and
version, license grants, and the checks of who may act."""

from __future__ import annotations

from datetime import datetime

from schemas.account import (
    AccountSnapshot,
    AccountStep,
    AuditEntry,
    CompleteAccountStep,
    LicenseGrant,
    LifecycleStage,
    StepKind,
)
from schemas.common import Role, StepStatus
from schemas.errors import RuleViolation

AUDIT_KEPT = 20


def missing_profile(s: AccountSnapshot) -> list[str]:
    p = s.profile
    missing = []
    if p.tier not in (1, 2, 3):
        missing.append("tier")
    if p.seats < 1:
        missing.append("seats")
    if not p.ae_owner:
        missing.append("AE")
    if not p.ce_owner:
        missing.append("CE")
    if p.renewal_date is None:
        missing.append("renewal date")
    return missing


def profile_changed(s: AccountSnapshot) -> None:
    s.profile_version += 1


def grant_license(s: AccountSnapshot, reason: str, seats: int) -> None:
    assert s.profile.renewal_date is not None
    s.licenses_granted += 1
    s.licenses.append(LicenseGrant(s.licenses_granted, reason, seats, s.profile.renewal_date))


def find(s: AccountSnapshot, key: str) -> AccountStep | None:
    return next((step for step in s.steps if step.key == key), None)


def named(s: AccountSnapshot, key: str) -> AccountStep | None:
    """The step a person names: by its key, or by the key it was opened under before a moved
    renewal date re-keyed it (the Done button of its first prompt still carries that one)."""
    found = find(s, key)
    if found is not None or not key:
        return found
    return next((step for step in s.steps if step.opened_as == key), None)


def open_of(s: AccountSnapshot, kind: StepKind) -> list[AccountStep]:
    return [step for step in s.steps if step.kind is kind and step.status is StepStatus.PENDING]


def add_step(s: AccountSnapshot, step: AccountStep) -> None:
    if find(s, step.key) is None:
        s.steps.append(step)


def complete(step: AccountStep, actor: str, now: datetime, note: str) -> None:
    step.status = StepStatus.DONE
    step.completed_by = actor
    step.completed_at = now
    step.note = note


def skip(step: AccountStep, note: str) -> None:
    step.status = StepStatus.SKIPPED
    step.note = note


def audit(s: AccountSnapshot, now: datetime, actor: str, action: str, via: str = "") -> None:
    s.audit = [*s.audit, AuditEntry(now, actor, action, via)][-AUDIT_KEPT:]


def check_not_churned(s: AccountSnapshot) -> None:
    if s.stage is LifecycleStage.CHURNED:
        raise RuleViolation(f"{s.profile.account_name} churned; nothing more to record")


def check_actor_named(actor: str) -> None:
    if not actor.strip():
        raise RuleViolation("say who you are (--by)")


def check_actor(s: AccountSnapshot, actor: str, role: Role) -> None:
    check_actor_named(actor)
    owner = s.profile.ce_owner if role is Role.CE else s.profile.ae_owner
    if not owner:
        raise RuleViolation(f"the account has no {role.value} yet: complete its profile first")
    if actor != owner:
        raise RuleViolation(f"{actor} is not the account's {role.value} ({owner} is)")


def check_profile_complete(s: AccountSnapshot, what: str) -> None:
    missing = missing_profile(s)
    if missing:
        raise RuleViolation(
            f"cannot {what}: the profile is missing {', '.join(missing)}"
            " (dealcycle account profile)"
        )


def check_complete_step(
    s: AccountSnapshot, request: CompleteAccountStep, *, value_engineering_known: bool = True
) -> AccountStep:
    """The step, or why ``request`` cannot complete it. ``value_engineering_known=False`` (the
    validator, which cannot look the roster up) leaves a value exercise done by someone other
    than its owner to the handler, which asks the roster first
    (``value_engineering_to_look_up``)."""
    check_not_churned(s)
    step = named(s, request.step)
    if step is None:
        open_keys = ", ".join(x.key for x in s.steps if x.status is StepStatus.PENDING) or "none"
        raise RuleViolation(f"unknown step {request.step!r}; the open steps are: {open_keys}")
    if step.kind in _COMPLETED_BY_OWN_ACTION:
        raise RuleViolation(
            f"step {step.key!r} is completed by {_COMPLETED_BY_OWN_ACTION[step.kind]}"
        )
    if step.status is StepStatus.DONE:
        raise RuleViolation(
            f"step {step.key!r} was already completed by {step.completed_by}"
            f" on {step.completed_at.date().isoformat() if step.completed_at else '?'}"
        )
    if step.status is StepStatus.SKIPPED:
        raise RuleViolation(f"step {step.key!r} is closed ({step.note})")
    deferred = not value_engineering_known and step.kind is StepKind.VALUE_REALIZATION
    if request.actor != step.owner and not deferred:
        raise RuleViolation(
            f"step {step.key!r} is owned by {step.owner}, not {request.actor or 'nobody'}"
        )
    return step


def value_engineering_to_look_up(s: AccountSnapshot, request: CompleteAccountStep) -> bool:
    """Whether only the roster of the day can say if the actor may do this value exercise:
    it is open and someone else's (Value Engineering may have rotated since it was given)."""
    step = named(s, request.step)
    return (
        step is not None
        and step.kind is StepKind.VALUE_REALIZATION
        and step.status is StepStatus.PENDING
        and request.actor != step.owner
        and s.stage is not LifecycleStage.CHURNED
    )


def take_over_value_exercise(
    s: AccountSnapshot, request: CompleteAccountStep, value_engineering: str, now: datetime
) -> None:
    """Value Engineering of the day takes over an open exercise given to their predecessor
    (the roster rotated since); anyone else leaves it as it is."""
    step = named(s, request.step)
    if step is None or request.actor != value_engineering or request.actor == step.owner:
        return
    audit(s, now, request.actor, f"took over {step.key} from {step.owner} (Value Engineering)")
    step.owner = request.actor


_COMPLETED_BY_OWN_ACTION = {
    StepKind.KICKOFF_PLAN: "recording the kickoff plan (dealcycle account kickoff)",
    StepKind.ACCOUNT_PLAN: "submitting the plan (dealcycle account plan)",
    StepKind.RENEWAL_ASSESSMENT: "recording the assessment (dealcycle account assessment)",
    StepKind.RENEWAL_OUTCOME: "recording the outcome (dealcycle account renewal-outcome)",
}


def apply_complete_step(s: AccountSnapshot, request: CompleteAccountStep, now: datetime) -> str:
    step = check_complete_step(s, request)
    complete(step, request.actor, now, request.note)
    if step.kind is StepKind.VALUE_REALIZATION and s.renewal is not None:
        s.renewal.value_exercise_done = True
    audit(s, now, request.actor, f"completed {step.key}", request.via)
    return f"{step.key} done"
