"""Owed work: the one way every dealcycle workflow makes an external write.

A workflow's main loop says what is owed (``owe``); this book keeps each piece as an
``Effect`` with a state (pending, done, failed, expired, skipped) in the workflow's own state,
runs it as an activity with the retry policy and time budget of its kind, and reports back by
callback. A permanent failure, or a spent budget, marks that effect failed (or, for a reminder,
expired) and the workflow carries on with everything else: nothing a service refuses ends a
lifecycle. Failed effects are surfaced (the workflow's ``effects`` query, the ``NeedsAttention``
search attribute, one post to the operations channel) and retried by a person, under the
original idempotency key, so the write still lands exactly once.

Effects on one lane (one Slack channel or person, one Salesforce record, one table) run in the
order they were owed; lanes run side by side, so a Salesforce sync retrying for days holds back
no reminder.

Histories recorded before this existed ran every effect inline, one after another; such a run
keeps doing so (``workflow.patched``), so it replays command for command.

A child workflow can be owed work too (``EffectKind.CHILD_WORKFLOW``): the owner gives a
``run_child`` that starts and awaits it; it runs on its own lane (never inline: it lasts weeks),
and a child that fails, is terminated or times out is a failed effect like any other.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    RetryState,
    TimeoutError,
)

with workflow.unsafe.imports_passed_through():
    from schemas import limits
    from schemas import search_attributes as sa
    from schemas.effects import (
        Effect,
        EffectActionAccepted,
        EffectKind,
        EffectState,
        EffectsView,
        EffectView,
        FailedEffectNotice,
        RetryEffect,
        SalesforceFieldUpdate,
        SalesforceTaskRequest,
        SkipEffect,
    )
    from schemas.errors import RuleViolation
    from schemas.metrics import EFFECTS_FAILED
    from workflows.local_first import LOCAL_FIRST_KINDS, LOCAL_FIRST_PATCH, run_local_first
    from workflows.metrics import count

OWED_WORK_PATCH = "effects-as-owed-work"
QUIET_EFFECT_END_PATCH = "effect-end-wakes-main-loop-only-with-news"
"""Runs recorded before: every finished effect, and every lane that ran dry, woke the main
loop, which then found nothing new to do in most passes (an account-year: 195 passes, 112
with this). Waking it later moves where such a run's continue-as-new and completion fall."""
NOTIFY_FAILED_EFFECT = "notify_failed_effect"
SALESFORCE_FIELD_UPDATE = "update_salesforce_record"
"""The activity of a Salesforce field update (``workflows.effects.UPDATE_SALESFORCE_RECORD``,
which imports this module)."""
SALESFORCE_TASK_UPSERT = "create_salesforce_task"
"""The activity of a Salesforce Task upsert (``workflows.effects.CREATE_SALESFORCE_TASK``)."""
SALESFORCE_WRITES = (SALESFORCE_FIELD_UPDATE, SALESFORCE_TASK_UPSERT)
KEEP_RESOLVED = 20
"""How many done, expired and skipped effects a workflow keeps to show; the rest are forgotten
(the state that owed them says they are done, so they are never owed again)."""
KEEP_RESOLVED_CARRIED = 5
"""How many of them a run hands to the next at continue-as-new: the carried state is in the
history twice (the old run's last event, the new run's first), and the rest are in the old
run's history."""
MAX_CAUSE = 600


@dataclass(frozen=True)
class EffectPolicy:
    budget: timedelta
    """Schedule-to-close: past it the effect is ``when_spent``."""
    attempt: timedelta
    """Start-to-close of one attempt; the activities finish well inside it."""
    max_interval: timedelta
    when_spent: EffectState
    optional: bool = False


POLICIES: dict[EffectKind, EffectPolicy] = {
    # A reminder late by hours is noise; the next reminder carries on.
    EffectKind.REMINDER: EffectPolicy(
        timedelta(hours=6), timedelta(seconds=60), timedelta(minutes=5), EffectState.EXPIRED
    ),
    EffectKind.ANNOUNCEMENT: EffectPolicy(
        timedelta(days=1), timedelta(seconds=60), timedelta(minutes=10), EffectState.FAILED
    ),
    # Salesforce is the system of record: outages and API-limit days are waited out.
    EffectKind.SALESFORCE_SYNC: EffectPolicy(
        timedelta(days=3), timedelta(seconds=60), timedelta(minutes=30), EffectState.FAILED
    ),
    EffectKind.LICENSE: EffectPolicy(
        timedelta(days=1), timedelta(seconds=60), timedelta(minutes=10), EffectState.FAILED
    ),
    EffectKind.RECORD: EffectPolicy(
        timedelta(days=3), timedelta(seconds=60), timedelta(minutes=10), EffectState.FAILED
    ),
    EffectKind.NOTICE: EffectPolicy(
        timedelta(hours=1),
        timedelta(seconds=60),
        timedelta(minutes=5),
        EffectState.EXPIRED,
        optional=True,
    ),
    EffectKind.MESSAGE_UPDATE: EffectPolicy(
        timedelta(days=1),
        timedelta(seconds=60),
        timedelta(minutes=10),
        EffectState.EXPIRED,
        optional=True,
    ),
    # A child workflow has no budget here: it ends by its own rules (the times are unused).
    EffectKind.CHILD_WORKFLOW: EffectPolicy(
        timedelta(days=365), timedelta(days=365), timedelta(days=1), EffectState.FAILED
    ),
}


def retry_policy(policy: EffectPolicy) -> RetryPolicy:
    # No attempt limit: the budget (schedule-to-close) bounds the retries instead.
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=policy.max_interval,
    )


def _clip(text: str, limit: int = MAX_CAUSE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cause_of(err: ActivityError, policy: EffectPolicy) -> tuple[EffectState, str]:
    cause = err.cause
    # The budget is spent either by the timeout itself or when the next retry would pass it.
    if isinstance(cause, TimeoutError) or err.retry_state is RetryState.TIMEOUT:
        last = cause.cause if isinstance(cause, TimeoutError) else cause
        why = f"; last error: {_describe(last)}" if last is not None else ""
        return policy.when_spent, _clip(f"not done within its budget of {_span(policy)}{why}")
    if cause is None:
        return EffectState.FAILED, _clip(str(err))
    return EffectState.FAILED, _clip(_describe(cause))


def _span(policy: EffectPolicy) -> str:
    seconds = int(policy.budget.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day{'s' if seconds != 86400 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour{'s' if seconds != 3600 else ''}"
    return f"{seconds} seconds"


def _describe(error: BaseException) -> str:
    if isinstance(error, ApplicationError) and error.type:
        return f"{error.type}: {error.message}"
    return str(error) or type(error).__name__


def _child_failure(err: ChildWorkflowError) -> str:
    cause = err.cause
    what = f"{err.workflow_type} {err.workflow_id}"
    if cause is None:
        return _clip(f"{what}: {err}")
    return _clip(f"{what} did not complete: {_describe(cause)}")


Hook = Callable[[Any], bool | None]
"""Gets an effect's result (None when it was skipped or expired). Returning False says the
result changes nothing the main loop acts on now, so it need not wake (any other return wakes
it)."""
ChildRunner = Callable[["Effect", Any, "type | None"], Awaitable[Any]]
"""Starts the child an effect names (its ``activity``) with the argument, awaits it and returns
its result; raises ``ChildWorkflowError`` when it fails."""


class OwedWork:
    """The effect book of one workflow run (see the module docstring)."""

    def __init__(
        self,
        book: list[Effect],
        scope: str,
        on_change: Callable[[], None],
        fix_command: Callable[[str], str] | None = None,
        run_child: ChildRunner | None = None,
        wakes_when_idle: Callable[[], bool] = lambda: True,
        refuses_retry: Callable[[Effect], str] = lambda _: "",
    ) -> None:
        """``on_change`` wakes the owner's main loop: when an effect's result reached a hook
        that had a use for it (``Hook``), an effect failed, a person retried or skipped one,
        and, when ``wakes_when_idle()`` says the main loop waits for it, when the last effect
        in flight finished. ``refuses_retry(effect)``: why the owner's state wants that effect
        no more (empty: a retry is welcome); checked by the retry's validator alone."""
        self._run_child = run_child
        self._refuses_retry = refuses_retry
        self._wakes_when_idle = wakes_when_idle
        self._book = book
        self._by_key = {effect.key: effect for effect in book}
        self._scope = scope
        self._on_change = on_change
        self._hooks: dict[str, tuple[Hook, type | None]] = {}
        self._lanes: dict[str, deque[Effect]] = {}
        self._arguments: dict[str, object] = {}
        # Effects carried over pending (a retry asked for just before continue-as-new).
        self._resume: list[Effect] = [e for e in book if e.state is EffectState.PENDING]
        self._inline: bool | None = None
        self._quiet = False
        self._tries_locally: bool | None = None
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._published_attention: bool | None = None
        # Salesforce field writes of this run, in the order owed, and per record the latest
        # that landed for each field: a retry must not put back a value written over since.
        self._write_order: dict[str, int] = {}
        self._landed: dict[str, dict[str, tuple[int, str]]] = {}
        # Writes carried from an earlier run keep their order among themselves, before this
        # run's: a carried write retried here that lands is newer than the carried ones before.
        carried = [e for e in book if e.activity in SALESFORCE_WRITES]
        for index, effect in enumerate(carried):
            self._write_order[effect.key] = index - len(carried)

    # --- What the main loop calls ------------------------------------------------------------

    def key(self, *parts: object) -> str:
        return "/".join([self._scope, *(str(part) for part in parts)])

    async def owe(
        self,
        key: str,
        kind: EffectKind,
        activity: str,
        argument: object,
        *,
        lane: str,
        summary: str = "",
        result_type: type | None = None,
        then: Hook | None = None,
    ) -> None:
        """Owe the activity ``activity(argument)`` under the idempotency key ``key``.

        Owing a key already in the book changes nothing (it refreshes ``then``): callers owe
        from state and may owe the same thing on every pass. ``then`` gets the result when the
        effect is done, or None when it was skipped or expired.
        """
        known = self._by_key.get(key)
        if known is not None:
            if then is not None:
                if known.state in (EffectState.SKIPPED, EffectState.EXPIRED):
                    then(None)
                elif known.state is not EffectState.DONE:
                    self._hooks[key] = (then, result_type)
            return
        policy = POLICIES[kind]
        effect = Effect(
            key=key,
            name=key.removeprefix(self._scope + "/"),
            kind=kind,
            activity=activity,
            lane=lane,
            summary=_clip(summary, 200),
            optional=policy.optional,
            changed_at=workflow.now(),
        )
        self._book.append(effect)
        self._by_key[key] = effect
        self._arguments[key] = argument
        if isinstance(argument, SalesforceFieldUpdate | SalesforceTaskRequest):
            self._write_order[key] = len(self._write_order)
        if then is not None:
            self._hooks[key] = (then, result_type)
        await self._start(effect)

    async def resume(self) -> None:
        """Run the effects a person asked to retry."""
        queued, self._resume = self._resume, []
        for effect in queued:
            await self._start(effect)

    def idle(self) -> bool:
        """Nothing in flight: safe to continue as new (what is waiting is carried)."""
        return self._running == 0

    def settled(self) -> bool:
        """Nothing in flight or waiting, and nothing failed that a person still has to retry
        or skip: the workflow may finish."""
        return self._running == 0 and not self._resume and not self.needs_attention()

    def children_running(self) -> bool:
        """A child workflow is owed and not finished (its run cannot be carried by
        continue-as-new: the child reports to this run)."""
        return any(
            e.kind is EffectKind.CHILD_WORKFLOW and e.state is EffectState.PENDING
            for e in self._book
        )

    def needs_attention(self) -> bool:
        return any(e.state is EffectState.FAILED and not e.optional for e in self._book)

    def publish_attention(self) -> None:
        wanted = self.needs_attention()
        if wanted != self._published_attention:
            if wanted or self._published_attention is not None:
                workflow.upsert_search_attributes([sa.NEEDS_ATTENTION.value_set(wanted)])
            self._published_attention = wanted

    # --- What people do: the ``retry_effect`` / ``skip_effect`` updates ----------------------

    def find(self, name_or_key: str) -> Effect | None:
        return self._by_key.get(name_or_key) or self._by_key.get(self.key(name_or_key))

    def check_retry(self, request: RetryEffect) -> Effect:
        """The validator's check: the handler's, the owner still wants the effect, and no newer
        value would be overwritten."""
        effect = self._retryable(request)
        if why := self._retry_refusal(effect):
            raise self._skip_instead(effect, why)
        return effect

    def _retry_refusal(self, effect: Effect) -> str:
        """Why ``check_retry`` would refuse a retry of ``effect`` (empty: it would not); the
        ``effects`` view shows it, so the CLI says to skip such an effect, not to retry it."""
        if why := self._refuses_retry(effect):
            return why
        overwritten = self._overwritten(effect)
        if overwritten:
            return (
                f"effect {effect.name} is out of date: {overwritten}, and a retry would put"
                " back the older value"
            )
        return ""

    def _overwritten(self, effect: Effect) -> str:
        """What later writes set over ``effect``'s fields ("StageName of Opportunity 006X was
        written since by stage/3"), in this run or (noted at continue-as-new) an earlier one."""
        newer = self._written_since(effect)
        if not newer:
            return effect.overwritten
        record = effect.lane.removeprefix("salesforce:").replace("/", " ")
        what = (
            ", ".join(sorted(newer))
            if effect.activity == SALESFORCE_TASK_UPSERT
            else f"{', '.join(sorted(newer))} of {record}"
        )
        names = sorted(set(newer.values()))
        return f"{what} was written since by {', '.join(names)}"

    @staticmethod
    def _skip_instead(effect: Effect, why: str) -> RuleViolation:
        return RuleViolation(
            f"{why}; skip it instead: dealcycle effects skip {workflow.info().workflow_id}"
            f" {effect.name} --reason … --by U…"
        )

    def _retryable(self, request: RetryEffect) -> Effect:
        return self._failed_or_expired(request, request.effect, request.actor, "retried")

    def _fields_written(self, effect: Effect) -> set[str]:
        """What a Salesforce write sets: a field update its fields, a Task upsert its Task (a
        revision, ``task_key``, the Task written first); nothing for any other effect."""
        argument = self._arguments.get(effect.key)
        if isinstance(argument, SalesforceFieldUpdate):
            return set(argument.fields)
        if isinstance(argument, SalesforceTaskRequest):
            return {f"the Task {argument.task_key or argument.idempotency_key}"}
        if effect.activity not in SALESFORCE_WRITES or not effect.request:
            return set()
        request = json.loads(effect.request)
        if effect.activity == SALESFORCE_TASK_UPSERT:
            return {f"the Task {request.get('task_key') or request.get('idempotency_key')}"}
        written = request.get("fields")
        return set(written) if isinstance(written, dict) else set()

    def _written_since(self, effect: Effect) -> dict[str, str]:
        """Each field of ``effect`` that a later write to the same record set since (landed,
        or owed and still running: it lands before a retry, which joins the lane's end), with
        that write's name. An effect carried from an earlier run is older than this run's."""
        fields = self._fields_written(effect)
        if not fields:
            return {}
        order = self._write_order.get(effect.key, -1)
        newer = {
            name: by
            for name, (later, by) in self._landed.get(effect.lane, {}).items()
            if name in fields and later > order
        }
        for other in self._book:
            if (
                other.lane == effect.lane
                and other.state is EffectState.PENDING
                and self._write_order.get(other.key, -1) > order
            ):
                newer.update(dict.fromkeys(self._fields_written(other) & fields, other.name))
        return newer

    def retry(self, request: RetryEffect) -> EffectActionAccepted:
        # Not ``check_retry``: a retry accepted by an earlier validator replays as it ran.
        effect = self._retryable(request)
        effect.state = EffectState.PENDING
        effect.runs += 1
        effect.changed_at = workflow.now()
        effect.changed_by = request.actor
        effect.reason = f"retried after: {effect.cause}" if effect.cause else "retried"
        effect.cause = ""
        self._resume.append(effect)
        self._on_change()
        return EffectActionAccepted(
            f"retrying {effect.name} under its original key {effect.key}", effect.state.value
        )

    def check_skip(self, request: SkipEffect) -> Effect:
        effect = self._failed_or_expired(request, request.effect, request.actor, "skipped")
        if not request.reason.strip():
            raise RuleViolation("reason: say why the effect is skipped")
        return effect

    def skip(self, request: SkipEffect) -> EffectActionAccepted:
        effect = self.check_skip(request)
        effect.state = EffectState.SKIPPED
        effect.changed_at = workflow.now()
        effect.changed_by = request.actor
        effect.reason = request.reason.strip()
        effect.request = ""
        self._arguments.pop(effect.key, None)
        hook = self._hooks.pop(effect.key, None)
        if hook is not None:
            hook[0](None)
        self._forget_resolved()
        self._on_change()
        return EffectActionAccepted(f"skipped {effect.name}", effect.state.value)

    def _failed_or_expired(self, request: object, name: str, actor: str, verb: str) -> Effect:
        """The effect a person may retry or skip: one that failed or expired."""
        limits.check(request, workflow.now())
        effect = self._find_or_refuse(name, actor)
        if effect.state not in (EffectState.FAILED, EffectState.EXPIRED):
            raise RuleViolation(
                f"effect {effect.name} is {effect.state.value}: only a failed or expired effect"
                f" can be {verb}"
            )
        return effect

    def _find_or_refuse(self, name_or_key: str, actor: str) -> Effect:
        if not actor.strip():
            raise RuleViolation("actor: say who you are (--by U…)")
        if not name_or_key.strip():
            raise RuleViolation("effect: name the effect (see dealcycle status)")
        effect = self.find(name_or_key.strip())
        if effect is None:
            failed = [e.name for e in self._book if e.state is EffectState.FAILED]
            hint = f"; failed effects: {', '.join(failed[:10])}" if failed else ""
            raise RuleViolation(f"effect {_clip(name_or_key, 200)!r} is not known here{hint}")
        return effect

    def view(self) -> EffectsView:
        effects = [
            EffectView(
                name=e.name,
                key=e.key,
                kind=e.kind.value,
                state=e.state.value,
                cause=e.cause,
                optional=e.optional,
                attempts=e.runs,
                summary=e.summary,
                changed_at=e.changed_at,
                changed_by=e.changed_by,
                reason=e.reason,
                retry_refused=(
                    self._retry_refusal(e)
                    if e.state in (EffectState.FAILED, EffectState.EXPIRED)
                    else ""
                ),
            )
            for e in self._book
        ]
        return EffectsView(workflow.info().workflow_id, effects, self.needs_attention())

    # --- Running ----------------------------------------------------------------------------

    async def _start(self, effect: Effect) -> None:
        if self._inline is None:
            # Decided once per run: a run recorded before owed work replays the old way.
            self._inline = not workflow.patched(OWED_WORK_PATCH)
            # An effect's result the state does not keep (no hook) changes nothing the main
            # loop reads: it sleeps on (decided once per run, like the above).
            self._quiet = not self._inline and workflow.patched(QUIET_EFFECT_END_PATCH)
        if self._inline and effect.kind is not EffectKind.CHILD_WORKFLOW:
            self._running += 1
            try:
                await self._attempt(effect)
            finally:
                self._running -= 1
            return
        queue = self._lanes.get(effect.lane)
        if queue is not None:
            queue.append(effect)
            return
        self._lanes[effect.lane] = deque([effect])
        self._running += 1
        task = asyncio.create_task(self._drain(effect.lane), name=f"lane {effect.lane}")
        # Held until done: the event loop keeps only weak references to tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _local_first(self) -> bool:
        if self._tries_locally is None:
            # Decided once per run: a run recorded before runs every effect as an activity.
            self._tries_locally = workflow.patched(LOCAL_FIRST_PATCH)
        return self._tries_locally

    async def _drain(self, lane: str) -> None:
        queue = self._lanes[lane]
        try:
            while queue:
                effect = queue[0]
                self._running += 1
                try:
                    await self._attempt(effect)
                finally:
                    self._running -= 1
                    queue.popleft()
        finally:
            del self._lanes[lane]
            self._running -= 1
            if not self._quiet or (self._running == 0 and self._wakes_when_idle()):
                self._on_change()

    async def _attempt(self, effect: Effect) -> None:
        policy = POLICIES[effect.kind]
        hook, result_type = self._hooks.get(effect.key, (None, None))
        argument = self._arguments.get(effect.key)
        if argument is None:
            argument = RawValue(
                Payload(metadata={"encoding": b"json/plain"}, data=effect.request.encode())
            )
        try:
            if effect.kind is EffectKind.CHILD_WORKFLOW:
                assert self._run_child is not None, "a child effect needs run_child"
                result = await self._run_child(effect, argument, result_type)
            elif effect.kind in LOCAL_FIRST_KINDS and self._local_first():
                result = await run_local_first(
                    effect,
                    argument,
                    result_type,
                    attempt=policy.attempt,
                    budget=policy.budget,
                    retry_policy=retry_policy(policy),
                )
            else:
                result = await workflow.execute_activity(
                    effect.activity,
                    argument,
                    result_type=result_type,
                    start_to_close_timeout=policy.attempt,
                    schedule_to_close_timeout=policy.budget,
                    retry_policy=retry_policy(policy),
                    summary=effect.summary or effect.name,
                )
        except ActivityError as err:
            self._failed(effect, *_cause_of(err, policy))
            return
        except ChildWorkflowError as err:
            self._failed(effect, EffectState.FAILED, _child_failure(err))
            return
        effect.state = EffectState.DONE
        effect.changed_at = workflow.now()
        # Before the request is dropped: a retried write's fields are only in it.
        self._note_landed(effect)
        effect.request = ""
        self._arguments.pop(effect.key, None)
        self._hooks.pop(effect.key, None)
        news = hook is not None and hook(result) is not False
        self._forget_resolved()
        if not self._inline and (news or not self._quiet):
            # Inline, the main loop is the one awaiting: waking it again would change the
            # commands of a run recorded before owed work.
            self._on_change()

    def _note_landed(self, effect: Effect) -> None:
        order = self._write_order.get(effect.key)
        if order is None:
            return
        landed = self._landed.setdefault(effect.lane, {})
        for name in self._fields_written(effect):
            if order > landed.get(name, (-1, ""))[0]:
                landed[name] = (order, effect.name)

    def _failed(self, effect: Effect, state: EffectState, cause: str) -> None:
        effect.state = state
        effect.cause = cause
        effect.changed_at = workflow.now()
        hook = self._hooks.get(effect.key)
        if state is EffectState.EXPIRED and effect.optional:
            self._arguments.pop(effect.key, None)
            effect.request = ""
        else:
            self._write_down_request(effect)
        if state is EffectState.EXPIRED:
            if hook is not None:
                self._hooks.pop(effect.key)
                hook[0](None)
        workflow.logger.warning(
            "effect %s %s: %s", effect.name, state.value, cause, extra={"effect": effect.key}
        )
        count(EFFECTS_FAILED, effect_kind=effect.kind.value, state=state.value)
        if state is EffectState.FAILED and not effect.optional:
            self._resume_notice(effect)
        self._on_change()

    def _resume_notice(self, effect: Effect) -> None:
        info = workflow.info()
        name = f"{effect.name}/ops/{effect.runs}"
        key = self.key(name)
        if key in self._by_key:
            return
        notice = Effect(
            key=key,
            name=name,
            kind=EffectKind.NOTICE,
            activity=NOTIFY_FAILED_EFFECT,
            lane="ops",
            summary=f"tell operations: {effect.name} failed",
            optional=True,
        )
        argument = FailedEffectNotice(
            idempotency_key=key,
            workflow_id=info.workflow_id,
            workflow_type=info.workflow_type,
            effect=effect.name,
            summary=effect.summary,
            cause=effect.cause,
            state=effect.state.value,
            fix=(
                f"fix the cause, then: dealcycle effects retry {info.workflow_id} {effect.name}"
                f" --by U…  (or: dealcycle effects skip {info.workflow_id} {effect.name}"
                " --reason … --by U…)"
            ),
        )
        notice.changed_at = workflow.now()
        self._book.append(notice)
        self._by_key[key] = notice
        self._arguments[key] = argument
        self._resume.append(notice)

    def carry_over(self) -> None:
        """Before continue-as-new: keep the few last resolved effects only, and write down
        the request of each one still owed."""
        self._forget_resolved(KEEP_RESOLVED_CARRIED)
        for effect in self._book:
            if effect.state in (EffectState.FAILED, EffectState.EXPIRED):
                # The next run does not know what landed here: say it now.
                effect.overwritten = self._overwritten(effect)
            self._write_down_request(effect)

    def _write_down_request(self, effect: Effect) -> None:
        """Keep the argument as JSON in the effect, for a retry that may come after this run.
        Only then: most effects are done at their first attempt and never need it."""
        argument = self._arguments.pop(effect.key, None)
        if argument is not None and not effect.request:
            effect.request = workflow.payload_converter().to_payload(argument).data.decode()

    def _forget_resolved(self, keep: int = KEEP_RESOLVED) -> None:
        resolved = [
            e
            for e in self._book
            if e.state in (EffectState.DONE, EffectState.EXPIRED, EffectState.SKIPPED)
            or (e.optional and e.state is EffectState.FAILED)
        ]
        # The longest resolved go first, whatever order they were owed in.
        resolved.sort(key=lambda e: e.changed_at.timestamp() if e.changed_at else 0.0)
        for effect in resolved[: max(0, len(resolved) - keep)]:
            self._book.remove(effect)
            del self._by_key[effect.key]


class OwedWorkHandlers:
    """The handlers every workflow with owed work has: see its effects, retry or skip one.

    A workflow class inherits these and sets ``self._fx`` in its ``__init__``."""

    _fx: OwedWork

    @workflow.query
    def effects(self) -> EffectsView:
        return self._fx.view()

    @workflow.update
    def retry_effect(self, request: RetryEffect) -> EffectActionAccepted:
        return self._fx.retry(request)

    @retry_effect.validator
    def _check_retry_effect(self, request: RetryEffect) -> None:
        self._fx.check_retry(request)

    @workflow.update
    def skip_effect(self, request: SkipEffect) -> EffectActionAccepted:
        return self._fx.skip(request)

    @skip_effect.validator
    def _check_skip_effect(self, request: SkipEffect) -> None:
        self._fx.check_skip(request)
