"""What the account's queries show: its state (open steps, the onboarding roadmap) and its
health."""

from __future__ import annotations

from datetime import datetime

from schemas.account import (
    AccountSnapshot,
    AccountState,
    AccountStep,
    LifecycleStage,
    StepKind,
    StepView,
)
from schemas.common import StepStatus
from schemas.health import HealthView
from workflows import health_rules
from workflows.account_schedule import value_exercise_done
from workflows.account_steps import missing_profile


def health_view(s: AccountSnapshot) -> HealthView:
    h = s.vitals
    config = s.config.health
    return HealthView(
        account_id=s.profile.account_id,
        account_name=s.profile.account_name,
        colour=h.colour.value,
        score=h.score,
        readings=dict(h.readings),
        reading_sources=dict(h.reading_sources),
        weights=health_rules.weights(config),
        green_at=config.green_at,
        yellow_at=config.yellow_at,
        history=list(h.history),
        open_case=h.open_case,
        cases_opened=h.cases_opened,
        latest_case=h.latest_case,
    )


def _view(step: AccountStep, now: datetime) -> StepView:
    overdue = step.status is StepStatus.PENDING and step.due_at is not None and now > step.due_at
    return StepView(
        key=step.key,
        kind=step.kind.value,
        title=step.title,
        owner=step.owner,
        role=step.role,
        due_at=step.due_at,
        status=StepStatus.OVERDUE.value if overdue else step.status.value,
        overdue=overdue,
        completed_by=step.completed_by,
        reminders_sent=step.reminders_sent,
        escalated=step.escalated,
    )


def state_view(s: AccountSnapshot, now: datetime) -> AccountState:
    # A change back to today's tier, withdrawing one, changes nothing: not shown as coming.
    tier_changes = s.next_tier is not None and s.next_tier != s.profile.tier
    roadmap = [
        _view(step, now)
        for step in s.steps
        if step.kind is StepKind.TRAINING and s.stage is LifecycleStage.ONBOARDING
    ]
    return AccountState(
        account_id=s.profile.account_id,
        account_name=s.profile.account_name,
        hand_offs=list(s.hand_offs),
        stage=s.stage,
        profile=s.profile,
        missing_profile=missing_profile(s),
        roadmap=roadmap,
        open_steps=[_view(step, now) for step in s.steps if step.status is StepStatus.PENDING],
        cadence=s.cadence.value if s.cadence else None,
        next_check_in_at=s.next_check_in_at,
        briefed_check_in_at=s.briefed_check_in_at if s.next_check_in_at else None,
        next_tier=s.next_tier if tier_changes else None,
        next_tier_from=s.next_tier_from if tier_changes else None,
        renewal_date=s.renewal.renewal_date if s.renewal else s.profile.renewal_date,
        value_exercise_done=value_exercise_done(s),
        renewal_call_recorded=bool(s.renewal and s.renewal.first_call_at),
        renewal_risks=list(s.renewal.assessment_risks) if s.renewal else [],
        license_key_ids=[grant.key_id for grant in s.licenses if grant.key_id],
        health=s.vitals.colour.value,
        renewals_completed=s.renewals_completed,
        feature_requests=s.feature_requests_recorded,
        plans_submitted=s.plans_submitted,
        recent_activity=list(s.audit[-5:]),
    )
