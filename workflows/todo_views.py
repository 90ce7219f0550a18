"""Each workflow's open steps, whoever owns them: what its ``open_steps`` query answers and
what its to-do search attributes (``StepOwners``, ``NextDueAt``, ``OverdueSteps``) are kept
from, so the list ``dealcycle todo`` builds and the visibility query that names its
workflows agree."""

from __future__ import annotations

from schemas.account import AccountSnapshot
from schemas.common import StepStatus
from schemas.health import RedAccountSnapshot
from schemas.security_review import SecurityReviewSnapshot
from schemas.todo import OpenStep, OpenSteps, TodoKind
from schemas.trial import TrialSnapshot
from workflows import red_account_rules, security_review_rules, trial_rules

RED_ACCOUNT_STEP = "action_plan"
"""The red-account case's one step: each owner's part of its action plan."""


def trial_open_steps(s: TrialSnapshot) -> OpenSteps:
    return OpenSteps(
        TodoKind.TRIAL,
        f"{s.start.account_name} trial ({s.start.opportunity_id})",
        [
            OpenStep(step.key, step.title, step.owner, step.lead.value, step.due_at)
            for step in trial_rules.open_steps(s)
        ],
    )


def account_open_steps(s: AccountSnapshot) -> OpenSteps:
    return OpenSteps(
        TodoKind.ACCOUNT,
        f"{s.profile.account_name} ({s.profile.account_id})",
        [
            OpenStep(step.key, step.title, step.owner, step.role, step.due_at)
            for step in s.steps
            if step.status is StepStatus.PENDING
        ],
    )


def security_review_open_steps(s: SecurityReviewSnapshot) -> OpenSteps:
    """The steps whose owners can act now (their prerequisites done)."""
    return OpenSteps(
        TodoKind.SECURITY_REVIEW,
        f"{s.start.account_name} security review ({s.start.opportunity_id})",
        [
            OpenStep(step.key, step.title, step.owner, step.role.value, step.due_at)
            for step in s.steps
            if security_review_rules.is_open(s, step)
        ],
    )


def red_account_open_steps(s: RedAccountSnapshot) -> OpenSteps:
    """The AE's and the CE's parts of the action plan still owed, due at its SLA."""
    start = s.start
    owners = {"AE": start.ae_owner, "CE": start.ce_owner}
    due_at = red_account_rules.escalation_at(s)
    missing = red_account_rules.missing_from(s) if s.resolved_at is None else []
    return OpenSteps(
        TodoKind.RED_ACCOUNT,
        f"{start.account_name} red case {start.case_id}",
        [
            OpenStep(
                RED_ACCOUNT_STEP,
                f"Record your part of the action plan ({role.value})",
                owners[role.value],
                role.value,
                due_at,
            )
            for role in missing
        ],
    )
