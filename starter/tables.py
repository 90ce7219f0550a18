"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from schemas.account import AccountState, LifecycleStage, StepView, account_workflow_id
from schemas.common import StepStatus
from schemas.health import CHURNED_CASE_SIGNAL_KIND, HealthView, RedAccountState
from schemas.intake import IntakeResult
from schemas.security_review import SecurityReviewState
from schemas.trial import TrialState
from starter.provenance import by_via


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


def clock_for(temporal_status: str) -> datetime | None:
    """The moment a workflow's steps are judged at: now while it runs; a closed workflow's
    steps stay as it left them (a concluded review's open steps are not overdue)."""
    return datetime.now(UTC) if temporal_status == "RUNNING" else None


def status_now(status: str, due_at: datetime | None, now: datetime | None) -> str:
    """A step's status as of ``now`` (``None``: as the workflow answered). A workflow answers
    its ``state`` query as of its last wake-up, and it wakes for a step's first reminder, not
    at its due date: a pending step that fell due since is overdue, as ``dealcycle todo``
    (which judges by the clock too) says."""
    if now is not None and status == StepStatus.PENDING and due_at is not None and due_at < now:
        return StepStatus.OVERDUE.value
    return status


def render_security_review(
    state: SecurityReviewState,
    temporal_status: str,
    ui_url: str,
    namespace: str,
    now: datetime | None = None,
) -> str:
    lines = [
        f"{state.workflow_id}  SecurityReviewWorkflow  {temporal_status}",
        f"Account      {state.account_name} ({state.account_id})",
        f"Opportunity  {state.opportunity_id}  ({state.region.value})",
        f"CE / AE      {state.ce_owner} / {state.ae_owner}",
        f"Security     CE {state.security_ce or '-'}, PM {state.security_pm or '-'}",
        f"Deployment   {state.deployment_type.value if state.deployment_type else 'not known yet'}",
        f"Phase        {state.phase.value}",
        f"Received     {when(state.received_at)} UTC",
    ]
    moved = (
        f" (moved from {when(state.original_due_at)})"
        if state.due_at != state.original_due_at
        else ""
    )
    lines.append(f"Due          {when(state.due_at)} UTC{moved}")
    if state.escalated_to_pm:
        lines.append(
            f"Escalated    to the Security PM by {state.escalated_by or '?'}:"
            f" {state.escalation_reason or '-'}"
        )
    if state.answered_at:
        lines.append(f"Answered     {when(state.answered_at)} UTC")
    if state.conclusion_reason:
        lines.append(
            f"Concluded    {when(state.concluded_at)} UTC, unanswered: {state.conclusion_reason}"
        )
    lines.append(f"Waiting on   {', '.join(state.waiting_on) or '-'}")
    lines.append("")
    rows = [
        [
            step.key,
            str(step.role),
            step.owner or "-",
            when(step.due_at),
            status_now(step.status.value, step.due_at, now)
            + (f", reminded {step.reminders_sent}x" if step.reminders_sent else "")
            + (", escalated" if step.escalated_to_leader else ""),
            by_via(step.completed_by or "-", step.completed_via),
            when(step.completed_at),
        ]
        for step in state.steps
    ]
    lines.append(
        table(["STEP", "ROLE", "OWNER", "DUE (UTC)", "STATUS", "COMPLETED BY", "AT (UTC)"], rows)
    )
    lines.append("")
    lines.append(f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{state.workflow_id}")
    return "\n".join(lines)


def render_intake(
    workflow_id: str,
    temporal_status: str,
    period: tuple[datetime | None, datetime | None],
    result: IntakeResult | None,
    failure: str,
    ui_url: str,
    namespace: str,
) -> str:
    """One run of the Closed Won poll: it keeps no state to query, so its result is shown."""
    lines = [
        f"{workflow_id}  ClosedWonIntakeWorkflow  {temporal_status}",
        f"Run          {when(period[0])} -> {when(period[1])} UTC",
    ]
    if failure:
        lines.append(f"Failed       {failure}")
    if result is not None:
        lines.append(f"Watermark    {result.watermark.isoformat() if result.watermark else '-'}")
        why = {decision.opportunity_id: decision.why for decision in result.decisions}
        rows = (
            [[deal, "by this run"] for deal in result.handed_off]
            + [[deal, "before"] for deal in result.already_handed_off]
            + [[deal, f"skipped: {why.get(deal, '')}"] for deal in result.skipped]
            + [[f.opportunity_id, f"NOT handed off: {f.why}"] for f in result.failed]
            + [[deal, "no AccountId in Salesforce"] for deal in result.without_account]
        )
        if result.decisions_left_out:
            rows.append(["…", f"{result.decisions_left_out} more by this run"])
        lines += ["", table(["DEAL", "HANDED OFF"], rows) if rows else "Deals        none"]
    lines += ["", f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{workflow_id}"]
    return "\n".join(lines)


def render_trial(
    state: TrialState,
    temporal_status: str,
    ui_url: str,
    namespace: str,
    now: datetime | None = None,
) -> str:
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
    if state.conclusion_reason:
        lines.append(f"Concluded    by {state.concluded_by or '?'}: {state.conclusion_reason}")
    if state.opportunity_workflow_id:
        lines.append(f"Adopted by   {state.opportunity_workflow_id}")
    lines.append("")
    rows = [
        [
            step.key,
            step.lead.value,
            step.owner,
            when(step.due_at),
            status_now(step.status.value, step.due_at, now),
            by_via(step.completed_by or "-", step.completed_via),
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


def _steps(steps: Sequence[StepView], now: datetime | None, with_completed: bool = False) -> str:
    headers = ["STEP", "TITLE", "OWNER", "DUE (UTC)", "STATUS"]
    rows = []
    for step in steps:
        status = status_now(step.status, step.due_at, now)
        rows.append(
            [
                step.key,
                step.title,
                f"{step.owner} ({step.role})" if step.owner else step.role,
                when(step.due_at) + ("  OVERDUE" if status == StepStatus.OVERDUE.value else ""),
                status
                + (f", reminded {step.reminders_sent}x" if step.reminders_sent else "")
                + (", escalated" if step.escalated else ""),
            ]
            + ([step.completed_by or "-"] if with_completed else [])
        )
    return table(headers + (["COMPLETED BY"] if with_completed else []), rows)


def _next_check_in(state: AccountState, now: datetime | None) -> datetime | None:
    """The check-in the CE was briefed for until it has passed (the workflow has moved on to
    the one after, whose brief comes next), then the one after."""
    briefed = state.briefed_check_in_at
    if briefed is not None and now is not None and briefed > now:
        return briefed
    return state.next_check_in_at


def render_account(
    state: AccountState,
    temporal_status: str,
    ui_url: str,
    namespace: str,
    now: datetime | None = None,
) -> str:
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
        lines.append(f"Check-ins    {state.cadence}, next {when(_next_check_in(state, now))} UTC")
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
    if state.renewal_risks:
        lines.append(f"Risks        {'; '.join(state.renewal_risks)}")
    lines += [
        f"License keys {', '.join(state.license_key_ids) or '-'}",
        f"Health       {state.health.capitalize()}",
        f"Counts       renewals {state.renewals_completed}, account plans"
        f" {state.plans_submitted}, feature requests {state.feature_requests}",
        "",
    ]
    if state.stage == LifecycleStage.ONBOARDING:
        roadmap = _steps(state.roadmap, now, with_completed=True) if state.roadmap else "  none"
        lines += ["Onboarding roadmap:", roadmap, ""]
    lines += ["Open steps:", _steps(state.open_steps, now) if state.open_steps else "  none", ""]
    rows = [
        [deal.opportunity_id, deal.kind, when(deal.closed_at), deal.ae_owner or "-"]
        for deal in state.hand_offs
    ]
    if rows:
        lines += [table(["HANDED-OFF DEAL", "KIND", "CLOSED (UTC)", "AE"], rows), ""]
    else:
        lines += ["Handed-off deals: none", ""]
    if state.recent_activity:
        lines.append("Recent activity (UTC):")
        lines += [
            f"  {when(entry.at)}  {by_via(entry.actor, entry.via)}  {entry.action}"
            for entry in state.recent_activity
        ]
        lines.append("")
    lines.append(f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{workflow_id}")
    return "\n".join(lines)


# --- Health and red accounts -------------------------------------------------------------------


def span(seconds: float) -> str:
    """A duration to the minute: ``3d 4h``, ``5h 12m``, ``7m``."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _colour_by_score(view: HealthView, score: float) -> str:
    if score >= view.green_at:
        return "green"
    return "yellow" if score >= view.yellow_at else "red"


def render_health(view: HealthView, temporal_status: str) -> str:
    """What ``dealcycle health ACCOUNT_ID`` prints."""
    workflow_id = account_workflow_id(view.account_id)
    lines = [
        f"{workflow_id}  health  {temporal_status}",
        f"Account      {view.account_name} ({view.account_id})",
    ]
    colour = view.colour.capitalize()
    if view.history:
        last = view.history[-1]
        by = "from the score" if last.by == "score" else f"set by {last.by}"
        colour += f", {by} at {when(last.at)} UTC: {last.reason}"
    lines.append(f"Health       {colour}")
    if view.score is None:
        lines.append("Score        no readings yet")
    else:
        lines.append(
            f"Score        {view.score:g} ({_colour_by_score(view, view.score)} by the thresholds)"
        )
    lines.append(
        f"Thresholds   green at {view.green_at:g} or more, yellow at {view.yellow_at:g} or more,"
        f" red below {view.yellow_at:g}"
    )
    opened = f"{view.cases_opened} opened so far"
    if view.open_case:
        lines.append(
            f"Open case    {view.open_case}  ({opened}; `dealcycle red show {view.account_id}`)"
        )
    else:
        lines.append(f"Open case    none ({opened})")
    lines.append("")
    inputs = [*view.weights, *(name for name in view.readings if name not in view.weights)]
    rows = [
        [
            name,
            _number(view.readings.get(name)),
            f"{view.weights[name]:.0%}" if name in view.weights else "-",
            view.reading_sources.get(name) or "-",
        ]
        for name in inputs
    ]
    lines += [table(["INPUT", "READING", "WEIGHT", "SOURCE"], rows), ""]
    if view.history:
        rows = [
            [when(change.at), str(change.colour), change.by, _number(change.score), change.reason]
            for change in view.history
        ]
        lines += ["Colour history:", table(["WHEN (UTC)", "COLOUR", "BY", "SCORE", "WHY"], rows)]
    else:
        lines.append("Colour history: no changes yet")
    return "\n".join(lines)


class TrackerRow(Protocol):
    """A row of the Account Tracker (``activities.red_accounts.StoredRedAccountCase``)."""

    @property
    def case_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def account_name(self) -> str: ...
    @property
    def tier(self) -> int: ...
    @property
    def ae_owner(self) -> str: ...
    @property
    def ce_owner(self) -> str: ...
    @property
    def reasons(self) -> Sequence[str]: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def action_plan_complete(self) -> bool: ...
    @property
    def escalated(self) -> bool: ...
    @property
    def resolved_colour(self) -> str | None: ...
    @property
    def resolution(self) -> str | None: ...
    @property
    def time_to_resolution_seconds(self) -> int | None: ...


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def render_tracker(rows: Sequence[TrackerRow], now: datetime) -> str:
    """The Account Tracker: an open case's age, a resolved one's time to resolution."""

    def status_and_time(row: TrackerRow) -> list[str]:
        if row.status == "open":
            return ["open", span((now - row.opened_at).total_seconds())]
        resolved = f"resolved {row.resolved_colour}" if row.resolved_colour else row.status
        if row.resolution == CHURNED_CASE_SIGNAL_KIND:  # closed red: the customer left
            resolved = "churned"
        seconds = row.time_to_resolution_seconds
        return [resolved, "-" if seconds is None else span(seconds)]

    headers = [
        "CASE", "ACCOUNT", "TIER", "AE", "CE", "OPENED (UTC)", "STATUS",
        "AGE / RESOLVED IN", "PLAN COMPLETE", "ESCALATED", "WHY",
    ]  # fmt: skip
    body = [
        [
            row.case_id,
            f"{row.account_name} ({row.account_id})" if row.account_name else row.account_id,
            str(row.tier) if row.tier else "-",
            row.ae_owner or "-",
            row.ce_owner or "-",
            when(row.opened_at),
            *status_and_time(row),
            _yes(row.action_plan_complete),
            _yes(row.escalated),
            "; ".join(row.reasons) or "-",
        ]
        for row in rows
    ]
    return table(headers, body)


def render_red_case(
    state: RedAccountState, temporal_status: str, ui_url: str, namespace: str
) -> str:
    """What ``dealcycle red show`` prints: one case, from its workflow's state."""
    lines = [
        f"{state.case_id}  RedAccountWorkflow  {temporal_status}",
        f"Account      {state.account_name} ({state.account_id})",
        f"Opened       {when(state.opened_at)} UTC",
        f"Why red      {'; '.join(state.reasons) or '-'}",
    ]
    renewal = state.renewal_date.date().isoformat() if state.renewal_date else "not set"
    lines += [
        f"Owners       AE {state.ae_owner or '-'}, CE {state.ce_owner or '-'}",
        f"Renewal      {renewal}",
    ]
    if state.resolved_at is not None:
        open_for = span((state.resolved_at - state.opened_at).total_seconds())
        how = "closed: the customer churned" if state.churned else state.resolved_colour or "?"
        lines.append(f"Resolved     {when(state.resolved_at)} UTC, {how} (after {open_for})")
    else:
        lines.append("Resolved     not yet")
    thread = {
        None: "not posted yet",
        "": "none: the case's post was skipped",
    }
    lines.append(f"Slack thread {thread.get(state.thread_ts, state.thread_ts)}")
    if state.action_plan_complete:
        plan = "complete"
    else:
        plan = f"waiting for the {' and the '.join(state.missing_from)}"
    lines += [
        f"Action plan  {plan}",
        f"Reminders    {state.reminders_sent} sent",
        f"Escalated    {_yes(state.escalated)}",
        "",
    ]
    if state.action_plan:
        lines.append("Action plan:")
        for entry in state.action_plan:
            lines += [
                f"  {entry.role} {by_via(entry.actor, entry.via)} at {when(entry.at)} UTC",
                f"    current status    {entry.current_status}",
                f"    needs             {entry.needs}",
                f"    intended actions  {entry.intended_actions}",
            ]
    else:
        lines.append("Action plan: nothing recorded yet")
    lines.append("")
    if state.asks:
        lines.append("Asks of the business (UTC):")
        lines += [
            f"  #{ask.number}  {when(ask.at)}  {by_via(ask.actor, ask.via)}  {ask.text}"
            + (f"  {ask.permalink}" if ask.permalink else "")
            for ask in state.asks
        ]
    else:
        lines.append("Asks of the business: none")
    lines += ["", f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{state.case_id}"]
    return "\n".join(lines)
