"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.account import AccountState, LifecycleStage, StepView, account_workflow_id
from schemas.trial import TrialState


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def render_trial(state: TrialState, temporal_status: str, ui_url: str, namespace: str) -> str:
    lines = [
        f"{state.workflow_id}  TrialWorkflow  {temporal_status}",
        f"Account      {state.account_name} ({state.account_id})",
        f"Opportunity  {state.opportunity_id}",
        f"CE / AE      {state.ce_owner} / {state.ae_owner}",
        f"Phase        {state.phase.value}",
        f"Tech. win    {state.technical_win.value}",
    ]
    if state.started_at:
        extended = f" (extended {len(state.extensions)}x)" if state.extensions else ""
        period = f"{when(state.started_at)} -> {when(state.ends_at)} UTC"
        lines.append(f"Trial        {period}{extended}")
    if state.override_reason:
        lines.append(f"Override     {state.override_reason}")
    if state.license_key_ids:
        lines.append(f"License keys {', '.join(state.license_key_ids)}")
    if state.outcome:
        lines.append(f"Outcome      {state.outcome.value} at {when(state.ended_at)}")
    lines.append("")
    rows = [
        [
            step.key,
            step.lead.value,
            step.owner,
            when(step.due_at),
            step.status.value,
            step.completed_by or "-",
            when(step.completed_at),
        ]
        for step in state.steps
    ]
    lines.append(
        table(["STEP", "LEAD", "OWNER", "DUE (UTC)", "STATUS", "COMPLETED BY", "AT (UTC)"], rows)
    )
    lines.append("")
    lines.append(f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{state.workflow_id}")
    return "\n".join(lines)


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "-"


def _steps(steps: Sequence[StepView], with_completed: bool = False) -> str:
    headers = ["STEP", "TITLE", "OWNER", "DUE (UTC)", "STATUS"]
    rows = [
        [
            step.key,
            step.title,
            f"{step.owner} ({step.role})" if step.owner else step.role,
            when(step.due_at) + ("  OVERDUE" if step.overdue else ""),
            step.status
            + (f", reminded {step.reminders_sent}x" if step.reminders_sent else "")
            + (", escalated" if step.escalated else ""),
        ]
        + ([step.completed_by or "-"] if with_completed else [])
        for step in steps
    ]
    return table(headers + (["COMPLETED BY"] if with_completed else []), rows)


def render_account(state: AccountState, temporal_status: str, ui_url: str, namespace: str) -> str:
    workflow_id = account_workflow_id(state.account_id)
    profile = state.profile
    lines = [
        f"{workflow_id}  AccountWorkflow  {temporal_status}",
        f"Account      {state.account_name} ({state.account_id})",
        f"Stage        {state.stage.value}",
    ]
    if profile is None:
        lines.append("Profile      not known yet")
    else:
        tier = f"Tier {profile.tier}" if profile.tier else "tier ?"
        seats = f"{profile.seats} seats" if profile.seats else "seats ?"
        lines += [
            f"Profile      {tier}, {seats}, {profile.deployment_type},"
            f" region {profile.region or '-'}",
            f"AE / CE      {profile.ae_owner or '-'} / {profile.ce_owner or '-'}",
        ]
    if state.missing_profile:
        lines.append(
            f"Missing      {', '.join(state.missing_profile)}  (`dealcycle account profile`)"
        )
    if state.cadence:
        lines.append(f"Check-ins    {state.cadence}, next {when(state.next_check_in_at)} UTC")
    else:
        lines.append("Check-ins    no cadence yet (set by the kickoff plan)")
    if state.next_tier is not None:
        lines.append(f"Tier change  to Tier {state.next_tier} from {state.next_tier_from or '-'}")
    renewal_date = state.renewal_date or (profile.renewal_date if profile else None)
    lines.append(
        f"Renewal      {day(renewal_date)}  value exercise:"
        f" {'done' if state.value_exercise_done else 'not yet'}, renewal call:"
        f" {'recorded' if state.renewal_call_recorded else 'not yet'}"
    )
    lines += [
        f"License keys {', '.join(state.license_key_ids) or '-'}",
        f"Health       {state.health.capitalize()}",
        f"Counts       renewals {state.renewals_completed}, account plans"
        f" {state.plans_submitted}, feature requests {state.feature_requests}",
        "",
    ]
    if state.stage == LifecycleStage.ONBOARDING:
        roadmap = _steps(state.roadmap, with_completed=True) if state.roadmap else "  none"
        lines += ["Onboarding roadmap:", roadmap, ""]
    lines += ["Open steps:", _steps(state.open_steps) if state.open_steps else "  none", ""]
    rows = [
        [deal.opportunity_id, deal.kind, when(deal.closed_at), deal.ae_owner or "-"]
        for deal in state.hand_offs
    ]
    if rows:
        lines += [table(["HANDED-OFF DEAL", "KIND", "CLOSED (UTC)", "AE"], rows), ""]
    else:
        lines += ["Handed-off deals: none", ""]
    if state.recent_activity:
        lines.append("Recent activity:")
        lines += [
            f"  {when(entry.at)}  {entry.actor}  {entry.action}" for entry in state.recent_activity
        ]
        lines.append("")
    lines.append(f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{workflow_id}")
    return "\n".join(lines)
