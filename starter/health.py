"""Client-side operations on customer health and red-account cases.

Every function takes a connected ``Client`` (or, for the Account Tracker, the database URL) and
returns what the person should see, or raises ``CommandError`` with a sentence that names the
problem. ``ACCOUNT`` arguments take the Salesforce Account id (``001ACME``) or the account's
workflow id (``account-001ACME``); the account's actions reuse ``starter.accounts``' helpers.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio.client import Client

from schemas.account import ACCOUNT_WORKFLOW_TYPE
from schemas.common import Role
from schemas.health import (
    HEALTH_SIGNAL,
    RED_ACCOUNT_WORKFLOW_TYPE,
    HealthInput,
    HealthSignal,
    HealthView,
    Reading,
    RecordActionPlan,
    RecordAsk,
    RedAccountState,
    SetHealth,
    red_account_workflow_id,
)
from starter.accounts import WORKFLOW_ID_PREFIX, _update, running_account, workflow_id_for
from starter.queries import query_workflow
from starter.tables import render_health, render_red_case, render_tracker
from starter.trials import CommandError, act, within_limits, workflow_handle
from workflows.account import AccountWorkflow
from workflows.health_rules import check_signal
from workflows.red_account import RedAccountWorkflow

if TYPE_CHECKING:
    from activities.red_accounts import StoredRedAccountCase

CASE_ID_PREFIX = "red-account-"
INPUTS = ", ".join(name.value for name in HealthInput)


# --- Health ------------------------------------------------------------------------------------


async def _health_view(client: Client, account: str) -> tuple[HealthView, str]:
    """The account's ``health`` query (a closed account's too) and its workflow's status."""
    handle, description = await workflow_handle(
        client, workflow_id_for(account), (ACCOUNT_WORKFLOW_TYPE,)
    )
    view: HealthView = await query_workflow(client, handle, AccountWorkflow.health)
    return view, description.status.name if description.status else "UNKNOWN"


async def render_health_status(client: Client, account: str) -> str:
    view, status = await _health_view(client, account)
    return render_health(view, status)


async def set_health(
    client: Client, account: str, colour: str, *, actor: str, role: Role, reason: str
) -> str:
    """The ``set_health`` update; the workflow checks the owner, the reason and the colour."""
    return await _update(client, account, "set_health", SetHealth(colour, actor, role, reason))


def parse_reading(raw: str) -> tuple[str, float]:
    """``usage=35`` as ``("usage", 35.0)``: an argparse type, so a bad reading is a usage
    error before anything is sent (a signal cannot be rejected: the workflow would drop it)."""
    name, equals, value = raw.partition("=")
    name = name.strip().lower()
    if not equals or not name or not value.strip():
        raise argparse.ArgumentTypeError(f"{raw!r} is not INPUT=VALUE, e.g. usage=35 ({INPUTS})")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r}: {value.strip()!r} is not a number from 0 to 100"
        ) from None
    problem = check_signal(HealthSignal(name, number))
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{raw!r}: {problem}")
    return name, number


def health_signal(readings: Sequence[tuple[str, float]], source: str = "") -> HealthSignal:
    """The readings as one signal (the first, carrying the others in ``more``), so the account
    judges its colour once, on all of them: one signal each made it judge every intermediate
    score, and a command whose readings end yellow could open and resolve a red case on the
    way. An input given twice is refused rather than letting the last one win silently."""
    if not readings:
        raise CommandError(f"no readings to send; give --reading INPUT=VALUE ({INPUTS})")
    seen: set[str] = set()
    for name, _ in readings:
        if name in seen:
            raise CommandError(f"{name} is given twice; give one reading per input")
        seen.add(name)
    (first, value), *others = readings
    signal = HealthSignal(
        first, value, source.strip(), more=[Reading(name, number) for name, number in others]
    )
    within_limits(signal)
    problem = check_signal(signal)
    if problem is not None:
        raise CommandError(problem)
    return signal


async def send_health_signal(client: Client, account: str, signal: HealthSignal) -> str:
    """Send the readings as the ``health_signal`` signal."""
    handle = await running_account(client, account)
    await handle.signal(HEALTH_SIGNAL, signal)
    readings = [(signal.input, signal.value), *((r.input, r.value) for r in signal.more)]
    sent = ", ".join(f"{name} {value:g}" for name, value in readings)
    source = f" (source: {signal.source})" if signal.source else ""
    return f"sent to {handle.id}: {sent}{source}; `dealcycle health {account}` shows the score"


# --- Red-account cases -------------------------------------------------------------------------


async def open_case(client: Client, account: str) -> str:
    """The id of the account's open red-account case, from its ``health`` query."""
    view, _ = await _health_view(client, account)
    if not view.open_case:
        raise CommandError(f"{account} has no open red-account case")
    return view.open_case


async def _case_update(client: Client, account: str, update: str, request: object) -> str:
    """An update of the account's open case; a rejection names the workflow's reason."""
    case_id = await open_case(client, account)
    message = await act(client, case_id, update, request, (RED_ACCOUNT_WORKFLOW_TYPE,))
    return f"{case_id}: {message}"


async def record_action_plan(
    client: Client,
    account: str,
    *,
    actor: str,
    role: Role,
    current_status: str,
    needs: str,
    intended_actions: str,
) -> str:
    """The owner's part of the open case's action plan (the AE's or the CE's)."""
    request = RecordActionPlan(actor, role, current_status, needs, intended_actions)
    return await _case_update(client, account, "record_action_plan", request)


async def record_ask(client: Client, account: str, ask: str, *, actor: str, role: Role) -> str:
    """An ask of the business, posted in the open case's thread."""
    return await _case_update(client, account, "record_ask", RecordAsk(actor, role, ask))


async def _case_id(client: Client, reference: str) -> str:
    """A case id as it is; for an account, its open case, else its latest one."""
    if reference.startswith(CASE_ID_PREFIX):
        return reference
    view, _ = await _health_view(client, reference)
    if view.open_case:
        return view.open_case
    if view.latest_case:
        return view.latest_case
    if view.cases_opened:  # an account whose last case predates ``latest_case``
        return red_account_workflow_id(view.account_id, view.cases_opened)
    raise CommandError(f"{reference} has never had a red-account case")


async def render_case_status(client: Client, reference: str, ui_url: str, namespace: str) -> str:
    """``reference``: a case id (``red-account-001ACME-1-3f9c2a7d10``; older ones
    ``red-account-001ACME-1``) or an account."""
    case_id = await _case_id(client, reference)
    handle, description = await workflow_handle(client, case_id, (RED_ACCOUNT_WORKFLOW_TYPE,))
    state: RedAccountState = await query_workflow(client, handle, RedAccountWorkflow.state)
    status = description.status.name if description.status else "UNKNOWN"
    return render_red_case(state, status, ui_url, namespace)


# --- The Account Tracker -----------------------------------------------------------------------


def read_tracker(
    database_url: str, *, include_closed: bool = False, account: str | None = None
) -> list[StoredRedAccountCase]:
    """The tracker's rows (open cases first, newest first); read only, no migration."""
    from sqlalchemy.exc import SQLAlchemyError

    from activities.red_accounts import list_red_account_cases
    from dealcycle.db.engine import make_engine

    def unreadable(err: SQLAlchemyError) -> CommandError:
        cause = str(getattr(err, "orig", None) or err).splitlines()[0]
        return CommandError(
            f"cannot read the Account Tracker: {cause} (is DATABASE_URL right? the worker"
            " creates the table when it starts)"
        )

    try:
        engine = make_engine(database_url)
    except SQLAlchemyError as err:
        raise unreadable(err) from None
    try:
        return list_red_account_cases(
            engine,
            open_only=not include_closed,
            account_id=account.removeprefix(WORKFLOW_ID_PREFIX) if account else None,
        )
    except SQLAlchemyError as err:
        raise unreadable(err) from None
    finally:
        engine.dispose()


def render_tracker_listing(
    rows: Sequence[StoredRedAccountCase],
    now: datetime,
    *,
    include_closed: bool = False,
    account: str | None = None,
) -> str:
    if rows:
        return render_tracker(rows, now)
    which = "red-account cases" if include_closed else "open red-account cases"
    return f"no {which}{f' for {account}' if account else ''}"
