"""A simulated year of accounts against bare Temporal workflows (``bench.simulated_year``).

Target: a simulated year of N accounts costs at most 1.3x N bare Temporal workflows with the
same timers and activities (wall time and CPU time).

Each account is an established Tier 1 customer brought in at adoption with a complete profile
(100 seats, bi-weekly check-ins, renewal 351 to 379 days out: eight variants, so the renewal
windows do not all open on the same day), living one simulated year on the Java time-skipping
test server from 10 January, noon UTC (of a year without a 29 February, so every run sees the
same calendar). Month and quarter work is calendar-bound, so it falls due for every account
at once, as it does in production. The team does what is asked, the way the three-year test's
driver does (``tests/support/accounts.py``): the day after each month starts, both monthly
renewal assessments, the quarter's plan and its QBR; the day after the renewal window opens,
the value exercise, the renewal call and proposal, and the outcome (renewed), after which the
account continues as new. Nothing goes overdue, so there are no reminders or escalations.

A calibration run (one account per variant, untimed) records, per variant, the updates the
team sends at each checkpoint and, from the account's histories, its wake-ups and the effects
of each (``script_of``). The baseline, ``bench.bare_account_workflow.BareAccountWorkflow``,
replays that script: the same activity calls by name and count, the same search attribute
upserts and continue-as-new, at the same moments, as plain Temporal code. Both kinds then get
the very same updates at the same checkpoints (recorded, so neither is queried while measured),
and each update's effects are awaited before the next (see ``bench.common.settled``).
"""

from __future__ import annotations

import asyncio
import calendar
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from bench.bare_account_workflow import EFFECT_CODES, UPSERT_CODE, BareAccountWorkflow
from bench.common import (
    AE,
    CALLS,
    CALLS_BY_WORKFLOW,
    CE,
    Clock,
    Outcome,
    activity_calls_reach,
    bench_worker,
    bounded,
    settled,
    skip_time,
    tally,
    task_queue,
    time_skipping_env,
)
from bench.payloads import BareAccountInput, BareAccountPosition
from schemas.account import (
    AccountProfile,
    AccountStart,
    AccountState,
    CompleteAccountStep,
    LifecycleStage,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    account_workflow_id,
)
from schemas.common import Role
from tests.support.accounts import a_plan, run_histories
from tests.support.patience import settle
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight

DAY = timedelta(days=1)
YEAR = 365 * DAY
VARIANTS = 8
RENEWAL_DAYS = tuple(351 + 4 * variant for variant in range(VARIANTS))
"""Days from the start to each variant's renewal (midnight UTC): 351 to 379."""
WINDOW_CHECKPOINT = 89 * DAY
"""The team looks at the renewal window the day after it opens (90 days before the renewal)."""
PLANS_PER_YEAR = 4
"""From 10 January: the Q2, Q3, Q4 and next Q1 plans (adoption plans the quarter ahead)."""
SEATS = 100
LOCAL_ACTIVITY_MARKER = "core_local_activity"


# --- The year's calendar -----------------------------------------------------------------------


def anchor_after(moment: datetime) -> datetime:
    """10 January, noon UTC, of the first year after ``moment`` (by a day at least) that has
    no 29 February: every run starts at the same point of an identical calendar."""
    year = moment.year
    while True:
        candidate = datetime(year, 1, 10, 12, tzinfo=UTC)
        if candidate >= moment + DAY and not calendar.isleap(year):
            return candidate
        year += 1


def renewal_date(anchor: datetime, variant: int) -> datetime:
    return midnight(anchor + timedelta(days=RENEWAL_DAYS[variant]))


def checkpoints(anchor: datetime) -> list[datetime]:
    """When the team looks: the day after each month starts, the day after each renewal
    window opens (any variant's), within the year."""
    moments = {renewal_date(anchor, variant) - WINDOW_CHECKPOINT for variant in range(VARIANTS)}
    month = datetime(anchor.year, anchor.month, 1, tzinfo=UTC)
    while month < anchor + YEAR:
        month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        moments.add(month + DAY)
    return sorted(moment for moment in moments if anchor < moment < anchor + YEAR)


async def move_to_anchor(env: WorkflowEnvironment) -> datetime:
    anchor = anchor_after(await env.get_current_time())
    await skip_time(env, anchor - await env.get_current_time())
    return anchor


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await skip_time(env, moment - now)


# --- What the team does ------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    update: str
    """The update's name: ``AccountWorkflow`` and ``BareAccountWorkflow`` share them."""
    request: Any
    calls_after: int
    """The account's activity calls, counted from its start, once this action's effects ran."""


@dataclass(frozen=True)
class Checkpoint:
    offset: timedelta
    """From the year's start (the anchor)."""
    calls_before: int
    actions: tuple[Action, ...]


@dataclass
class Variant:
    """One renewal date's year, recorded from a real ``AccountWorkflow`` run."""

    number: int
    anchor: datetime
    """The calibration year's start: the requests name its quarters and dates."""
    checkpoints: list[Checkpoint] = field(default_factory=list)
    calls: int = 0
    """Activity calls over the whole year."""
    script: list[str] = field(default_factory=list)
    """Its wake-ups and their effects, for ``BareAccountWorkflow``."""
    runs: int = 0

    @property
    def updates(self) -> int:
        return sum(len(checkpoint.actions) for checkpoint in self.checkpoints)

    @property
    def timers_fired(self) -> int:
        return sum(1 for segment in self.script if segment.startswith("T"))


def asked(view: AccountState) -> list[tuple[str, Any]]:
    """What the account's team does about its open steps today (as the three-year test's
    ``do_what_is_asked``, the renewal outcome always a plain renewal)."""
    requests: list[tuple[str, Any]] = []
    for step in view.open_steps:
        if step.kind == "renewal_assessment":
            role = Role(step.role)
            risks = ["budget review in Q3"] if role is Role.AE else []
            requests.append(
                ("record_renewal_assessment", RecordRenewalAssessment(step.owner, role, risks))
            )
        elif step.kind == "account_plan":
            quarter = step.key.removeprefix("account-plan-")
            requests.append(("submit_account_plan", a_plan(quarter, CE)))
        elif step.kind in ("qbr", "value_realization", "renewal_proposal"):
            if step.kind == "renewal_proposal":
                requests.append(("record_renewal_call", RecordRenewalCall(AE, Role.AE, "kickoff")))
            requests.append(("complete_step", CompleteAccountStep(step.key, step.owner, Role.CE)))
        elif step.kind == "renewal_outcome":
            requests.append(
                ("record_renewal_outcome", RecordRenewalOutcome("renewed", AE, Role.AE))
            )
    return requests


_DATED = re.compile(r"\b(\d{4})-(?=Q[1-4]\b|\d\d-\d\d\b)")


def shift_years(request: Any, years: int) -> Any:
    """The request for a year ``years`` later in the same calendar: its quarters
    (``2027-Q2``) and dates (``2027-12-27``, in step keys) move on by as many years."""
    if not years:
        return request

    def shift(text: str) -> str:
        return _DATED.sub(lambda match: f"{int(match[1]) + years}-", text)

    changes: dict[str, Any] = {}
    for item in fields(request):
        value = getattr(request, item.name)
        if isinstance(value, str):
            changes[item.name] = shift(value)
        elif isinstance(value, list) and all(isinstance(entry, str) for entry in value):
            changes[item.name] = [shift(entry) for entry in value]
    return replace(request, **changes)


# --- The two kinds -----------------------------------------------------------------------------


def account_start(account_id: str, anchor: datetime, variant: int) -> AccountStart:
    profile = AccountProfile(
        account_id=account_id,
        account_name=f"Account {account_id}",
        tier=1,
        region="US East / EMEA",
        ae_owner=AE,
        ce_owner=CE,
        seats=SEATS,
        renewal_date=renewal_date(anchor, variant),
    )
    return AccountStart(
        account_id,
        profile.account_name,
        profile=profile,
        stage=LifecycleStage.ADOPTION,
        cadence="bi-weekly",
    )


Starter = Callable[[Client, str, str, datetime, Variant], Awaitable[WorkflowHandle[Any, Any]]]


async def start_account(
    client: Client, queue: str, key: str, anchor: datetime, variant: Variant
) -> WorkflowHandle[Any, Any]:
    account_id = f"001{key}"
    started = await client.start_workflow(
        AccountWorkflow.run,
        account_start(account_id, anchor, variant.number),
        id=account_workflow_id(account_id),
        task_queue=queue,
    )
    # No run id: the updates follow the account across continue-as-new.
    return client.get_workflow_handle(started.id, first_execution_run_id=started.result_run_id)


async def start_bare(
    client: Client, queue: str, key: str, anchor: datetime, variant: Variant
) -> WorkflowHandle[Any, Any]:
    account_id = f"001{key}"
    started = await client.start_workflow(
        BareAccountWorkflow.run,
        BareAccountInput(
            account_id,
            f"Account {account_id}",
            CE,
            AE,
            SEATS,
            1,
            renewal_date(anchor, variant.number),
            anchor,
            variant.script,
        ),
        id=f"bare-account-{account_id}",
        task_queue=queue,
    )
    return client.get_workflow_handle(started.id, first_execution_run_id=started.result_run_id)


@dataclass(frozen=True)
class Kind:
    name: str
    workflow: type
    start: Starter


ACCOUNT = Kind("account", AccountWorkflow, start_account)
BARE = Kind("bare", BareAccountWorkflow, start_bare)


# --- Calibration: one real account per variant -------------------------------------------------


def local_activity_type(event: HistoryEvent) -> str | None:
    """The activity a local-activity marker records (the SDK core's marker), else None."""
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name != LOCAL_ACTIVITY_MARKER:
        return None
    data = attributes.details["data"].payloads[0].data
    activity_type: str = json.loads(data)["activity_type"]
    return activity_type


def script_of(histories: Sequence[WorkflowHistory], anchor: datetime) -> list[str]:
    """The account's wake-ups and their effects, in ``BareAccountWorkflow``'s notation."""
    segments: list[list[str]] = []  # [trigger, effects, "!" or ""]
    fire_at: dict[int, datetime] = {}
    for history in histories:
        for event in history.events:
            kind = event.event_type
            if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
                segments.append(["S", "", ""])
            elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
                timeout = event.timer_started_event_attributes.start_to_fire_timeout
                fire_at[event.event_id] = (
                    event.event_time.ToDatetime(tzinfo=UTC) + timeout.ToTimedelta()
                )
            elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
                at = fire_at[event.timer_fired_event_attributes.started_event_id]
                segments.append([f"T{(at - anchor).total_seconds():.6f}", "", ""])
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                attributes = event.workflow_execution_update_accepted_event_attributes
                segments.append([f"U{attributes.accepted_request.input.name}", "", ""])
            elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                if name not in EFFECT_CODES:
                    raise RuntimeError(f"the bare account cannot replay activity {name!r}")
                segments[-1][1] += EFFECT_CODES[name]
            elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
                local = local_activity_type(event)
                if local is not None:
                    if local not in EFFECT_CODES:
                        raise RuntimeError(f"the bare account cannot replay activity {local!r}")
                    segments[-1][1] += EFFECT_CODES[local].upper()
            elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
                segments[-1][1] += UPSERT_CODE
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                segments[-1][2] = "!"
            elif kind in (
                EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
                EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
            ):
                raise RuntimeError(f"the bare account cannot replay {EventType.Name(kind)}")
    return [f"{trigger}:{effects}{can}" for trigger, effects, can in segments]


async def calibrate() -> list[Variant]:
    """Live the year once per variant with the real workflow, recording what the team sent
    at each checkpoint, the activity calls that followed, and the account's wake-ups."""
    async with time_skipping_env() as env:
        client = env.client
        anchor = await move_to_anchor(env)
        variants = [Variant(number, anchor) for number in range(VARIANTS)]
        queue = task_queue("year-calibration")
        async with bench_worker(client, queue, [AccountWorkflow], max_cached_workflows=100):
            handles = [
                await start_account(client, queue, f"calibration{v.number}", anchor, v)
                for v in variants
            ]
            await asyncio.gather(*(settle(handle) for handle in handles))

            async def look(
                variant: Variant, handle: WorkflowHandle[Any, Any], at: datetime
            ) -> None:
                await settle(handle)
                before = CALLS_BY_WORKFLOW[handle.id]
                view = await handle.query(AccountWorkflow.state)
                actions = []
                for name, request in asked(view):
                    try:
                        await handle.execute_update(name, request)
                    except WorkflowUpdateFailedError:
                        # Asked from a view read mid-wake-up (a value exercise handed to the
                        # roster's Value Engineering a moment after it opened): ask again.
                        await settle(handle)
                        fresh = await handle.query(AccountWorkflow.state)
                        step = getattr(request, "step", None)
                        [request] = [
                            again
                            for asked_name, again in asked(fresh)
                            if asked_name == name and getattr(again, "step", None) == step
                        ]
                        await handle.execute_update(name, request)
                    await settle(handle)
                    actions.append(Action(name, request, CALLS_BY_WORKFLOW[handle.id]))
                if actions:
                    variant.checkpoints.append(Checkpoint(at - anchor, before, tuple(actions)))

            for moment in checkpoints(anchor):
                await skip_to(env, moment)
                pairs = zip(variants, handles, strict=True)
                await asyncio.gather(*(look(v, h, moment) for v, h in pairs))
            await skip_to(env, anchor + YEAR)
            await asyncio.gather(*(settle(handle) for handle in handles))
            for variant, handle in zip(variants, handles, strict=True):
                view = await handle.query(AccountWorkflow.state)
                if view.renewals_completed != 1 or view.plans_submitted != PLANS_PER_YEAR:
                    raise RuntimeError(
                        f"calibration variant {variant.number}: {view.renewals_completed}"
                        f" renewals, {view.plans_submitted} plans; expected 1 and"
                        f" {PLANS_PER_YEAR}"
                    )
                variant.calls = CALLS_BY_WORKFLOW[handle.id]
                histories = await run_histories(handle, client)
                variant.runs = len(histories)
                variant.script = script_of(histories, anchor)
                scripted = sum(
                    len(segment.partition(":")[2].rstrip("!").replace(UPSERT_CODE, ""))
                    for segment in variant.script
                )
                if scripted != variant.calls:
                    raise RuntimeError(
                        f"calibration variant {variant.number}: {variant.calls} activity calls,"
                        f" {scripted} in its script"
                    )
    return variants


# --- Measured years ----------------------------------------------------------------------------


async def live_year(
    env: WorkflowEnvironment,
    kind: Kind,
    variants: list[Variant],
    count: int,
    concurrency: int,
    label: str,
    server_pids: Sequence[int] = (),
    keep: bool = True,
) -> Outcome:
    """Start ``count`` workflows of ``kind`` at the next anchor, live their year, check it.

    Timed (wall, CPU): from the first start to every workflow's last effect of the year. With
    ``keep=False`` (warm-up) the workflows are terminated afterwards, so the next year starts
    with nothing left on the server's clock.
    """
    client = env.client
    queue = task_queue(f"year-{kind.name}")
    year = Outcome(kind.name, count)
    before = CALLS.copy()
    anchor = await move_to_anchor(env)
    of = [variants[i % len(variants)] for i in range(count)]
    async with bench_worker(client, queue, [kind.workflow], max_cached_workflows=count + 100):

        async def start(i: int) -> WorkflowHandle[Any, Any]:
            return await kind.start(client, queue, f"{label}{kind.name}{i:05d}", anchor, of[i])

        async def act(job: tuple[WorkflowHandle[Any, Any], Checkpoint]) -> None:
            handle, checkpoint = job
            await settled(handle, checkpoint.calls_before)
            calls = checkpoint.calls_before
            for action in checkpoint.actions:
                await handle.execute_update(action.update, action.request)
                if action.calls_after != calls:
                    await settled(handle, action.calls_after)
                    calls = action.calls_after

        async def finish(i_handle: tuple[int, WorkflowHandle[Any, Any]]) -> None:
            i, handle = i_handle
            await activity_calls_reach(handle.id, of[i].calls)

        # The calibration's requests, for this year's quarters and dates.
        years = anchor.year - variants[0].anchor.year
        this_year = {
            variant.number: [
                replace(
                    checkpoint,
                    actions=tuple(
                        replace(action, request=shift_years(action.request, years))
                        for action in checkpoint.actions
                    ),
                )
                for checkpoint in variant.checkpoints
            ]
            for variant in variants
        }
        with Clock(server_pids) as clock:
            handles = await bounded(range(count), concurrency, start)
            due: dict[timedelta, list[tuple[WorkflowHandle[Any, Any], Checkpoint]]] = {}
            for i, handle in enumerate(handles):
                for checkpoint in this_year[of[i].number]:
                    due.setdefault(checkpoint.offset, []).append((handle, checkpoint))
            for offset in sorted(due):
                await skip_to(env, anchor + offset)
                await bounded(due[offset], concurrency, act)
            await skip_to(env, anchor + YEAR)
            await bounded(list(enumerate(handles)), concurrency, finish)
        year.wall, year.cpu, year.server_cpu = clock.wall, clock.cpu, clock.other_cpu
        await check_year(kind, handles[: len(variants)], of)
        if keep:
            histories = await run_histories(handles[0], client)
            year.runs = len(histories)
            year.history, year.history_bytes = tally(histories)
        else:
            await bounded(handles, concurrency, lambda h: h.terminate("warm-up over"))
    year.calls = CALLS - before
    expected = sum(variant.calls for variant in of)
    if sum(year.calls.values()) != expected:
        raise RuntimeError(
            f"{kind.name}: {sum(year.calls.values())} activity calls, expected {expected}"
        )
    return year


async def check_year(
    kind: Kind, handles: Sequence[WorkflowHandle[Any, Any]], of: Sequence[Variant]
) -> None:
    """The year did what the calibration did (one workflow per variant is asked)."""
    for handle, variant in zip(handles, of[: len(handles)], strict=True):
        if kind is ACCOUNT:
            view = await handle.query(AccountWorkflow.state)
            ok = view.renewals_completed == 1 and view.plans_submitted == PLANS_PER_YEAR
            said = f"{view.renewals_completed} renewals, {view.plans_submitted} plans"
        else:
            position = await handle.query(BareAccountWorkflow.position)
            assert isinstance(position, BareAccountPosition)
            ok = position.cursor == position.script_length and position.run == variant.runs - 1
            said = f"at {position.cursor} of {position.script_length}, run {position.run + 1}"
        if not ok:
            raise RuntimeError(f"{handle.id} (variant {variant.number}) ended its year with {said}")
