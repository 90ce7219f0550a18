"""Client-side operations on customer accounts: bring one in, act on it, show it.

Every function takes a connected ``Client`` and returns what the person should see, or raises
``CommandError`` with a sentence that names the problem. ``ACCOUNT_ID`` arguments take the
Salesforce Account id (``001ACME``) or the workflow id (``account-001ACME``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from dealcycle.settings import Settings
from schemas import search_attributes as sa
from schemas import start_summaries
from schemas.account import (
    ACCOUNT_WORKFLOW_TYPE,
    USAGE_REPORTED_SIGNAL,
    AccountActionAccepted,
    AccountProfile,
    AccountStart,
    AccountState,
    ChangeCadence,
    ChangeTier,
    CompleteAccountStep,
    CompleteOnboarding,
    CompleteProfile,
    ExpandSeats,
    LifecycleStage,
    PlanContacts,
    RecordFeatureRequest,
    RecordKickoffPlan,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    ReportProductionReady,
    SubmitAccountPlan,
    UsageReport,
    account_workflow_id,
)
from schemas.account_changes import MoveRenewalDate, ReassignOwner
from schemas.common import Role
from schemas.errors import RuleViolation
from schemas.limits import VERSION_CHARS
from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
from starter.opportunity_lookup import require_opportunity
from starter.payloads import check_payload_size
from starter.provenance import stamped
from starter.queries import query_workflow, update_workflow
from starter.tables import clock_for, render_account
from starter.trials import CommandError, within_limits, workflow_handle
from workflows.account import AccountWorkflow
from workflows.account_profile_rules import check_start

WORKFLOW_ID_PREFIX = account_workflow_id("")


def workflow_id_for(account: str) -> str:
    """``account-001ACME`` for ``001ACME`` (a workflow id is taken as it is)."""
    return account if account.startswith(WORKFLOW_ID_PREFIX) else account_workflow_id(account)


# --- Start -------------------------------------------------------------------------------------


def account_start_for(
    settings: Settings,
    *,
    account_id: str,
    account_name: str,
    tier: int,
    renewal_date: datetime,
    seats: int,
    ae_owner: str,
    ce_owner: str,
    region: str = "",
    deployment_type: str = "self-hosted",
    stage: LifecycleStage = LifecycleStage.KICKOFF,
    cadence: str = "",
    now: datetime | None = None,
) -> AccountStart:
    """The start of an existing customer brought in, checked by the workflow's own rules."""
    profile = AccountProfile(
        account_id=account_id,
        account_name=account_name,
        tier=tier,
        region=region,
        ae_owner=ae_owner,
        ce_owner=ce_owner,
        seats=seats,
        renewal_date=renewal_date,
        deployment_type=deployment_type,
    )
    start = AccountStart(
        account_id,
        account_name,
        profile=profile,
        stage=stage,
        cadence=cadence,
        config=settings.account_config(),
    )
    try:
        check_start(start, now or datetime.now(UTC))
    except RuleViolation as err:
        raise CommandError(err.message) from None
    return start


async def start_account(client: Client, settings: Settings, **profile: Any) -> str:
    """Start ``AccountWorkflow`` for a customer brought in; return its workflow id.

    ``profile`` is what ``account_start_for`` takes. A running workflow for the account (a
    hand-off started it, or an earlier start) is left as it is: nothing changes.
    """
    start = account_start_for(settings, **profile)
    workflow_id = account_workflow_id(start.account_id)
    known = start.profile or AccountProfile(start.account_id, start.account_name)
    pairs = [
        SearchAttributePair(sa.ACCOUNT_ID, start.account_id),
        SearchAttributePair(sa.AE_OWNER, known.ae_owner),
        SearchAttributePair(sa.CE_OWNER, known.ce_owner),
    ]
    if known.region:
        pairs.append(SearchAttributePair(sa.REGION, known.region))
    shown = start_summaries.account(start)
    try:
        await client.start_workflow(
            AccountWorkflow.run,
            start,
            id=workflow_id,
            task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes(pairs),
            static_summary=shown.summary,
            static_details=shown.details,
            # A churned account that comes back starts again, as a hand-off would start it.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        raise CommandError(
            f"{workflow_id} is already running; nothing changed (see `dealcycle account show"
            f" {start.account_id}`; `dealcycle account profile` fills in what it lacks)"
        ) from None
    return workflow_id


# --- Updates -----------------------------------------------------------------------------------


async def running_account(client: Client, account: str) -> WorkflowHandle[Any, Any]:
    workflow_id = workflow_id_for(account)
    handle, description = await workflow_handle(client, workflow_id, (ACCOUNT_WORKFLOW_TYPE,))
    if description.status is not WorkflowExecutionStatus.RUNNING:
        closed = description.status.name.lower() if description.status else "closed"
        raise CommandError(f"{workflow_id} is {closed}; the account's workflow takes no actions")
    return handle


async def _update(client: Client, account: str, update: str, request: object) -> str:
    """Send a CE/AE action; a rejection (nothing written) names the workflow's reason."""
    request = stamped(request)
    within_limits(request)
    handle = await running_account(client, account)
    check_payload_size(request)
    try:
        accepted: AccountActionAccepted = await update_workflow(
            client, handle, update, request, AccountActionAccepted
        )
    except WorkflowUpdateFailedError as err:
        reason = err.cause.message if isinstance(err.cause, ApplicationError) else str(err.cause)
        raise CommandError(f"rejected: {reason}") from None
    return accepted.message


async def record_kickoff_plan(
    client: Client,
    account: str,
    *,
    actor: str,
    role: Role,
    cadence: str,
    optional_trainings: Sequence[str] = (),
    onboarding_integration_help: bool = False,
    upcoming_initiatives: Sequence[str] = (),
) -> str:
    request = RecordKickoffPlan(
        actor,
        role,
        cadence,
        list(optional_trainings),
        onboarding_integration_help,
        list(upcoming_initiatives),
    )
    return await _update(client, account, "record_kickoff_plan", request)


async def report_production_ready(
    client: Client, account: str, *, actor: str, role: Role, note: str = ""
) -> str:
    request = ReportProductionReady(actor, role, note)
    return await _update(client, account, "report_production_ready", request)


async def complete_step(
    client: Client, account: str, step: str, *, actor: str, role: Role, note: str = ""
) -> str:
    request = CompleteAccountStep(step, actor, role, note)
    return await _update(client, account, "complete_step", request)


async def snooze_step(client: Client, account: str, request: SnoozeStep) -> str:
    return await _update(client, account, SNOOZE_STEP_UPDATE, request)


async def complete_onboarding(
    client: Client, account: str, *, actor: str, role: Role, note: str = ""
) -> str:
    request = CompleteOnboarding(actor, role, note)
    return await _update(client, account, "complete_onboarding", request)


async def change_cadence(
    client: Client, account: str, cadence: str, *, actor: str, role: Role
) -> str:
    return await _update(client, account, "change_cadence", ChangeCadence(cadence, actor, role))


async def change_tier(
    client: Client, account: str, tier: int, *, actor: str, role: Role, reason: str
) -> str:
    return await _update(client, account, "change_tier", ChangeTier(tier, actor, role, reason))


def profile_change(
    *,
    actor: str,
    role: Role,
    tier: int = 0,
    seats: int = 0,
    ae_owner: str = "",
    ce_owner: str = "",
    renewal_date: datetime | None = None,
) -> CompleteProfile:
    """The profile fields to fill in; refused when it names none."""
    if not (tier or seats or ae_owner or ce_owner or renewal_date):
        raise CommandError(
            "nothing to change: give at least one of --tier, --seats, --ae, --ce, --renewal-date"
        )
    return CompleteProfile(actor, role, tier, seats, ae_owner, ce_owner, renewal_date)


async def complete_profile(client: Client, account: str, change: CompleteProfile) -> str:
    return await _update(client, account, "complete_profile", change)


async def submit_account_plan(client: Client, account: str, plan: SubmitAccountPlan) -> str:
    return await _update(client, account, "submit_account_plan", plan)


async def record_renewal_assessment(
    client: Client,
    account: str,
    *,
    actor: str,
    role: Role,
    risks: Sequence[str] = (),
    turns_red: bool = False,
) -> str:
    request = RecordRenewalAssessment(actor, role, list(risks), turns_red)
    return await _update(client, account, "record_renewal_assessment", request)


async def record_renewal_call(
    client: Client, account: str, *, actor: str, role: Role, note: str = ""
) -> str:
    request = RecordRenewalCall(actor, role, note)
    return await _update(client, account, "record_renewal_call", request)


async def record_renewal_outcome(
    client: Client,
    account: str,
    outcome: str,
    *,
    actor: str,
    role: Role,
    next_renewal_date: datetime | None = None,
    seats: int = 0,
    expansion_opportunity_id: str = "",
    note: str = "",
    team_seats: int = 0,
    settings: Settings | None = None,
) -> str:
    """With ``settings``, a new team's Opportunity is first looked up in Salesforce (by the
    worker, on its session: one call): the expansion workflow it starts could not write to
    one that does not exist."""
    request = RecordRenewalOutcome(
        outcome, actor, role, next_renewal_date, seats, expansion_opportunity_id, note, team_seats
    )
    if settings is not None and outcome == "new_team" and expansion_opportunity_id.strip():
        within_limits(stamped(request))
        await require_opportunity(client, settings, expansion_opportunity_id)
    return await _update(client, account, "record_renewal_outcome", request)


async def move_renewal_date(
    client: Client, account: str, renewal_date: datetime, *, actor: str, role: Role, reason: str
) -> str:
    request = MoveRenewalDate(renewal_date, actor, role, reason)
    return await _update(client, account, "move_renewal_date", request)


async def reassign_owner(
    client: Client, account: str, role: Role, new_owner: str, *, actor: str, reason: str = ""
) -> str:
    """``role`` is the one that changes hands; ``actor`` its outgoing owner or the CE leader."""
    request = ReassignOwner(role, new_owner, actor, reason)
    return await _update(client, account, "reassign_owner", request)


async def expand_seats(
    client: Client, account: str, seats: int, *, actor: str, role: Role, reason: str
) -> str:
    return await _update(client, account, "expand_seats", ExpandSeats(seats, actor, role, reason))


async def record_feature_request(
    client: Client, account: str, title: str, *, actor: str, role: Role, detail: str = ""
) -> str:
    request = RecordFeatureRequest(title, actor, role, detail)
    return await _update(client, account, "record_feature_request", request)


# --- Signals and state -------------------------------------------------------------------------


async def report_usage(
    client: Client,
    account: str,
    *,
    active_users: int,
    version: str,
    open_support_items: Sequence[str] = (),
    now: datetime | None = None,
) -> str:
    """Send the ``usage_reported`` signal (a feed: the workflow keeps the latest report)."""
    # Only this command sends usage reports (the usage feed sends health readings), and it is
    # told the version they run: an empty one is a mistake, not "unknown", and would be kept
    # as the account's latest report (a signal cannot be refused) and shown in its briefs.
    version = version.strip()
    if not version:
        raise CommandError(
            f"rejected: version: the version the customer runs, 1 to {VERSION_CHARS}"
            " characters (got an empty one)"
        )
    items = [item.strip() for item in open_support_items]
    if not all(items):
        # Kept like the version, and listed in the check-in brief as an empty "; ;" entry.
        raise CommandError(
            "rejected: open_support_items: each support item is 1 to 500 characters"
            " (got an empty one)"
        )
    report = UsageReport(active_users, version, items, now or datetime.now(UTC))
    within_limits(report)
    handle = await running_account(client, account)
    await handle.signal(USAGE_REPORTED_SIGNAL, report)
    return (
        f"sent usage to {handle.id}: {active_users} active users on {version},"
        f" {len(report.open_support_items)} open support items"
    )


async def render_account_status(client: Client, account: str, ui_url: str, namespace: str) -> str:
    handle, description = await workflow_handle(
        client, workflow_id_for(account), (ACCOUNT_WORKFLOW_TYPE,)
    )
    state: AccountState = await query_workflow(client, handle, AccountWorkflow.state)
    status = description.status.name if description.status else "UNKNOWN"
    return render_account(state, status, ui_url, namespace, clock_for(status))


# --- The account plan file ---------------------------------------------------------------------

PLAN_SECTIONS = tuple(
    name
    for name in (f.name for f in fields(SubmitAccountPlan))
    # Who sent it, and from where (``via``), come from the command, never from the file.
    if name not in ("quarter", "actor", "role", "via")
)
PLAN_CONTACTS = tuple(contact.name for contact in fields(PlanContacts))


def load_account_plan(path: Path, *, quarter: str, actor: str, role: Role) -> SubmitAccountPlan:
    """The plan in a JSON file; a missing section is passed on empty, for the workflow's
    validator to name with the others."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"plan file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"cannot read plan file {path}: {err}") from None
    except json.JSONDecodeError as err:
        raise CommandError(
            f"plan file {path} is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    plan = _object(raw, f"plan file {path}", PLAN_SECTIONS)
    contacts = _object(plan.get("contacts", {}), f"{path}: 'contacts'", PLAN_CONTACTS)

    def text(name: str) -> str:
        return _text(plan.get(name, ""), f"{path}: {name!r}")

    def texts(name: str) -> list[str]:
        return _texts(plan.get(name, []), f"{path}: {name!r}")

    def contact(name: str) -> str:
        return _text(contacts.get(name, ""), f"{path}: 'contacts.{name}'")

    return SubmitAccountPlan(
        quarter=quarter,
        actor=actor,
        role=role,
        contacts=PlanContacts(
            champion=contact("champion"),
            economic_buyer=contact("economic_buyer"),
            advocate=contact("advocate"),
            admin=contact("admin"),
        ),
        use_cases=texts("use_cases"),
        health=text("health"),
        expansion_opportunities=texts("expansion_opportunities"),
        risks=texts("risks"),
        product_feedback_themes=texts("product_feedback_themes"),
        objectives=texts("objectives"),
        next_steps=text("next_steps"),
        link=text("link"),
    )


def _kind(value: object) -> str:
    names = {
        str: "a string",
        list: "a list",
        dict: "an object",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }
    return "null" if value is None else names.get(type(value), f"a {type(value).__name__}")


def _object(value: object, what: str, known: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CommandError(f"{what} must be a JSON object, not {_kind(value)}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise CommandError(
            f"{what} has unknown {'keys' if len(unknown) > 1 else 'key'}"
            f" {', '.join(map(repr, unknown))}; the keys are: {', '.join(known)}"
        )
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise CommandError(f"{what} must be a string, not {_kind(value)}")
    return value


def _texts(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        found = _kind(value) if not isinstance(value, list) else "a list with other values"
        raise CommandError(f"{what} must be a list of strings, not {found}")
    return value
