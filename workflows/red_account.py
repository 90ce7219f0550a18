"""``RedAccountWorkflow``: one red-account case, from the post in ``#red-accounts`` to its
resolution. A child of the account's workflow, which tells it (by signal) when the account is
still red for another reason, has been promoted to yellow or green, has churned (the case
closes, reason "churned", and posts nothing more), or when its AE or CE changed hands or its
renewal date moved (the case follows: its thread is told, and its open parts, reminders,
escalation and tracker row go to the new owners).

Updates only change state; the main loop owes the post, the thread replies and the tracker
row, each once, with idempotency keys derived from the case id (``workflows/owed_work.py``).
The replies wait for the post's thread; the tracker row opens with the case and gets its
thread link when the post lands (a post failing for days leaves the case in the tracker). The
tracker's open, updates and close keep their order on one lane.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import schemas.common
    import schemas.effects  # noqa: F401
    from schemas import limits, start_summaries
    from schemas.effects import Effect, EffectKind, SlackPost, SlackPostResult
    from schemas.errors import RuleViolation
    from schemas.health import (
        CASE_SIGNAL,
        CaseActionAccepted,
        CaseSignal,
        RecordActionPlan,
        RecordAsk,
        RedAccountCaseStart,
        RedAccountResult,
        RedAccountState,
        TrackerClose,
        TrackerOpen,
        TrackerUpdate,
    )
    from schemas.metrics import RED_CASES_OPENED
    from schemas.roster import Roster
    from schemas.todo import OpenSteps
    from workflows import effects
    from workflows import red_account_rules as rules
    from workflows.metrics import count
    from workflows.mrkdwn import escape
    from workflows.owed_work import OwedWork, OwedWorkHandlers
    from workflows.roster import RosterLookup
    from workflows.signals import accepted
    from workflows.slack_blocks import step_prompt_blocks
    from workflows.todo_views import red_account_open_steps
    from workflows.visibility import publish_current_details, publish_open_steps
    from workflows.wake_up import WakeUpTimer


REPEATED_PLAN_PATCH = "red-plan-repeat-changes-nothing"
"""Runs that started before: an identical repeat of a role's action plan replaces it and is
posted in the case's thread again."""

NO_THREAD_DMS_PATCH = "red-case-without-thread-dms"
"""Runs that started before: a case whose post was skipped (no thread) sent its reminders and
its escalation to the CE leader nowhere (they were thread replies)."""


EARLY_TRACKER_PATCH = "red-case-tracked-before-its-post"
"""Runs that started before: the case's tracker row opened only once its post had a thread, so
a case whose post was failing (an archived channel, Slack down) was missing from the tracker."""


def _date(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else "not set"


@workflow.defn(name="RedAccountWorkflow")
class RedAccountWorkflow(OwedWorkHandlers):
    @workflow.init
    def __init__(self, start: RedAccountCaseStart) -> None:
        self._changed = False
        self._wake = WakeUpTimer()
        self._tracked: tuple[int, bool, bool, int] = (1, False, False, 0)
        # Raised here, a violation would fail the workflow task for ever: run raises it.
        self._invalid: RuleViolation | None = None
        try:
            self._s = rules.new_snapshot(start, workflow.now())
        except RuleViolation as err:
            self._invalid = err
            self._fx = OwedWork([], start.case_id, self._mark_changed)
            return
        self._fx = OwedWork(
            self._s.effects, start.case_id, self._mark_changed, refuses_retry=self._refuses_retry
        )
        self._roster = RosterLookup(
            lambda: Roster.carried(self._s.start.roster), self._remember_roster
        )

    def _remember_roster(self, roster: Roster) -> None:
        self._s.start = dataclasses.replace(self._s.start, roster=roster.security())

    def _mark_changed(self) -> None:
        self._changed = True

    def _refuses_retry(self, effect: Effect) -> str:
        """Nothing more is posted for a churned customer's case: a retry of a failed post
        would announce it red, or remind and escalate, for a customer who left."""
        if not self._s.churned or effect.activity != effects.POST_SLACK_MESSAGE:
            return ""
        return f"the customer churned and case {self._s.start.case_id} is closed"

    @workflow.signal(name=CASE_SIGNAL)
    def case_signal(self, signal: CaseSignal | None = None) -> None:
        checked = accepted(CASE_SIGNAL, signal, CaseSignal)
        if checked is None or self._invalid is not None:
            return
        problem = rules.case_signal_problem(self._s, checked)
        if problem is not None:
            workflow.logger.warning("signal %s dropped: %s", CASE_SIGNAL, problem)
            return
        self._changed |= rules.apply_case_signal(self._s, checked)

    @workflow.update
    def record_action_plan(self, request: RecordActionPlan) -> CaseActionAccepted:
        repeated = rules.repeated_action_plan(self._s, request)
        if repeated is not None and workflow.patched(REPEATED_PLAN_PATCH):
            # A retried command is harmless: the part stays as recorded (and posted once),
            # the main loop is not woken for it.
            return CaseActionAccepted(repeated, rules.action_plan_complete(self._s))
        message = rules.apply_action_plan(self._s, request, workflow.now())
        self._changed = True
        return CaseActionAccepted(message, rules.action_plan_complete(self._s))

    @record_action_plan.validator
    def _check_action_plan(self, request: RecordActionPlan) -> None:
        limits.check(request, workflow.now())
        rules.check_action_plan(self._s, request)

    @workflow.update
    def record_ask(self, request: RecordAsk) -> CaseActionAccepted:
        message = rules.apply_ask(self._s, request, workflow.now())
        self._changed = True
        return CaseActionAccepted(message, rules.action_plan_complete(self._s))

    @record_ask.validator
    def _check_ask(self, request: RecordAsk) -> None:
        limits.check(request, workflow.now())
        rules.check_ask(self._s, request)

    @workflow.query
    def open_steps(self) -> OpenSteps:
        return red_account_open_steps(self._s)

    @workflow.query
    def state(self) -> RedAccountState:
        return dataclasses.replace(rules.state_view(self._s), effects=self._fx.view().effects)

    @workflow.run
    async def run(self, start: RedAccountCaseStart) -> RedAccountResult:
        if self._invalid is not None:
            raise self._invalid
        s = self._s
        count(RED_CASES_OPENED)
        while True:
            self._changed = False
            await self._catch_up()
            view = red_account_open_steps(s)
            publish_open_steps(view)
            phase = "resolved" if s.resolved_at else "escalated" if s.escalated else "open"
            publish_current_details(start_summaries.red_account_case(s.start).summary, phase, view)
            if s.tracker_closed and self._fx.settled():
                break
            await self._wake.until(lambda: self._changed, rules.next_named_wake_up(s))
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert s.resolved_at is not None and s.resolved_colour is not None
        return RedAccountResult(
            start.case_id, s.resolved_colour.value, start.opened_at, s.resolved_at
        )

    def _key(self, *parts: object) -> str:
        return "/".join([self._s.start.case_id, *(str(part) for part in parts)])

    def _posted(self, result: SlackPostResult | None) -> None:
        # The thread's parent: a skipped (or expired) post leaves "" so it is not owed again,
        # and the replies that needed its thread are not posted.
        self._s.thread_ts = result.ts if result is not None else ""

    async def _reply(
        self,
        key: str,
        text: str,
        kind: EffectKind = EffectKind.ANNOUNCEMENT,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """A reply in the case's thread; callers wait until the parent post is done."""
        assert self._s.thread_ts is not None
        if not self._s.thread_ts:
            return  # the case's post was skipped: there is no thread to reply in
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key(key),
                self._s.start.config.red_accounts_channel,
                text,
                self._s.thread_ts,
                blocks=blocks,
            ),
            kind=kind,
        )

    def _without_thread(self) -> bool:
        """The case's post was skipped, so there is no thread: its reminders and escalation
        go to their people by DM (runs from before: nowhere)."""
        return self._s.thread_ts == "" and workflow.patched(NO_THREAD_DMS_PATCH)

    def _no_thread_note(self) -> str:
        start = self._s.start
        return (
            f"The case ({start.case_id}) has no thread: its post in"
            f" {start.config.red_accounts_channel} was skipped;"
            f" `dealcycle red show {start.account_id}` shows it."
        )

    async def _remind_by_dm(self) -> None:
        """This round's reminder to each owner whose part of the action plan is missing."""
        s, start = self._s, self._s.start
        for role in rules.missing_from(s):
            owner = start.ae_owner if role.value == "AE" else start.ce_owner
            prompt = (
                f"Reminder: record your part ({role.value}) of the action plan for the red"
                f" account {escape(start.account_name)} ({start.account_id})."
            )
            await effects.post_slack(
                self._fx,
                SlackPost(
                    self._key("reminder", s.reminders_sent + 1, role.value),
                    owner,
                    f"{prompt} {self._no_thread_note()} `dealcycle red plan"
                    f" {start.account_id} --by {owner} --role {role.value} ...`",
                    blocks=self._action_plan_buttons(prompt),
                ),
                kind=EffectKind.REMINDER,
            )

    def _action_plan_buttons(self, text: str) -> list[dict[str, Any]]:
        """The reminder with the Slack app's action-plan form and the case's Web UI page."""
        case_id = workflow.info().workflow_id
        # The account's page is the case's neighbour in the Web UI.
        workflows_url = self._s.start.account_workflow_url.rsplit("/", 1)[0]
        return step_prompt_blocks(
            text,
            workflow_id=case_id,
            step="action_plan",
            kind="red_account",
            url=f"{workflows_url}/{case_id}",
            done=False,
            form="action_plan",
            snooze=False,
        )

    async def _tracker(self, activity: str, row: Any, summary: str) -> None:
        # One lane for the case's row: an update or the close never runs before the open.
        await effects.record(
            self._fx, activity, row, summary, lane=f"tracker:{self._s.start.case_id}"
        )

    async def _catch_up(self) -> None:
        s = self._s
        start = s.start
        self._roster.new_wake_up()
        await self._fx.resume()
        now = workflow.now()
        if s.thread_ts is None:
            await effects.post_slack(
                self._fx,
                SlackPost(
                    self._key("post"),
                    start.config.red_accounts_channel,
                    f":red_circle: {escape(start.account_name)} ({start.account_id}) is red."
                    f" Tier {start.tier}, renewal {_date(start.renewal_date)},"
                    f" AE <@{start.ae_owner}>, CE <@{start.ce_owner}>."
                    f" Why: {escape(start.reason)}. Case {start.case_id}:"
                    f" {start.account_workflow_url}"
                    f" AE and CE: record status, needs and intended actions with"
                    f" `dealcycle red plan {start.account_id}`; asks of the business go in"
                    " this thread.",
                ),
                then=self._posted,
            )
        # The replies below need the post's thread (or to know it was skipped); the tracker row
        # does not: it opens with the case, its thread linked when the post lands (runs from
        # before: it waited for the thread).
        threaded = s.thread_ts is not None
        if not s.tracker_opened and (threaded or workflow.patched(EARLY_TRACKER_PATCH)):
            await self._tracker(
                effects.OPEN_RED_ACCOUNT_CASE,
                TrackerOpen(
                    idempotency_key=self._key("tracker", "open"),
                    case_id=start.case_id,
                    account_id=start.account_id,
                    account_name=start.account_name,
                    tier=start.tier,
                    ae_owner=start.ae_owner,
                    ce_owner=start.ce_owner,
                    reason=start.reason,
                    opened_at=start.opened_at,
                    slack_channel=start.config.red_accounts_channel,
                    slack_ts=s.thread_ts or "",
                    workflow_url=start.account_workflow_url,
                ),
                f"open red-account case {start.case_id} in the tracker",
            )
            s.tracker_opened = True
            s.tracker_slack_ts = s.thread_ts or ""
        if threaded:
            for entry in s.plans:
                if not entry.posted:
                    await self._reply(
                        f"plan/{entry.role.value}/{entry.at.isoformat()}",
                        f"Action plan from the {entry.role.value} <@{entry.actor}>."
                        f" Status: {escape(entry.current_status)} Needs: {escape(entry.needs)}"
                        f" Intended actions: {escape(entry.intended_actions)}",
                    )
                    entry.posted = True
            for ask in s.asks:
                if not ask.posted:
                    await self._reply(
                        f"ask/{ask.number}",
                        f"Ask #{ask.number} (<@{ask.actor}>): {escape(ask.text)}",
                    )
                    ask.posted = True
            for note in s.notes:
                if not note.posted:
                    await self._reply(f"note/{note.number}", note.text)
                    note.posted = True
        if s.resolved_at is None and rules.escalation_due(s, now):
            s.escalated = True
            s.last_reminded_at = now  # the escalation is this round's reminder
        elif s.resolved_at is None and rules.reminder_due(s, now):
            # Due only once the thread is known (see ``rules.next_reminder_at``).
            missing = ", ".join(
                f"<@{start.ae_owner if role.value == 'AE' else start.ce_owner}>"
                for role in rules.missing_from(s)
            )
            if self._without_thread():
                await self._remind_by_dm()
                s.reminders_sent += 1
            else:
                await self._reply(
                    f"reminder/{s.reminders_sent + 1}",
                    f"Reminder: {missing}, record your part of the action plan"
                    f" (`dealcycle red plan {start.account_id} --by YOU --role AE|CE ...`).",
                    kind=EffectKind.REMINDER,
                    blocks=self._action_plan_buttons(
                        f"Reminder: {missing}, record your part of the action plan."
                    ),
                )
                if s.thread_ts:  # a case whose post was skipped has no thread: nothing posted
                    s.reminders_sent += 1
            s.last_reminded_at = now
        if threaded and s.escalated and not s.escalation_posted:
            missing = " and ".join(
                f"<@{start.ae_owner if role.value == 'AE' else start.ce_owner}>"
                for role in rules.missing_from(s)
            )
            leader = (await self._roster.current()).ce_leader
            escalation = (
                f"Escalation to <@{leader}>: the action plan for"
                f" {escape(start.account_name)} is past its SLA; still missing from {missing}."
            )
            if self._without_thread():
                await effects.post_slack(
                    self._fx,
                    SlackPost(
                        self._key("escalation", "dm"),
                        leader,
                        f"{escalation} {self._no_thread_note()}",
                    ),
                )
            else:
                await self._reply("escalation", escalation)
            s.escalation_posted = True
        if s.tracker_opened:
            await self._track()
        if threaded and s.resolved_at is not None and not s.resolution_posted and s.churned:
            # The customer left: the account announced it; the thread stays quiet.
            s.resolution_posted = True
        if threaded and s.resolved_at is not None and not s.resolution_posted:
            assert s.resolved_colour is not None
            await self._reply(
                "resolution",
                rules.resolution_post(
                    start.account_name,
                    s.resolved_colour.value,
                    s.resolved_by or "",
                    s.resolution_reason,
                ),
            )
            s.resolution_posted = True
        if s.resolution_posted and s.tracker_opened and not s.tracker_closed:
            assert s.resolved_at is not None and s.resolved_colour is not None
            await self._tracker(
                effects.CLOSE_RED_ACCOUNT_CASE,
                TrackerClose(
                    idempotency_key=self._key("tracker", "close"),
                    case_id=start.case_id,
                    resolved_at=s.resolved_at,
                    resolved_colour=s.resolved_colour.value,
                    resolved_by=s.resolved_by or "",
                    resolution=s.resolution_reason,
                ),
                f"close red-account case {start.case_id} ({s.resolved_colour.value})",
            )
            s.tracker_closed = True
        self._fx.publish_attention()

    async def _track(self) -> None:
        """Keep the tracker row's reasons, action plan and escalation current, and link its
        thread once the case's post lands after the row opened."""
        s = self._s
        now = (len(s.reasons), rules.action_plan_complete(s), s.escalated, s.owner_changes)
        # Only a row opened before its post landed (``EARLY_TRACKER_PATCH``) lacks the thread.
        link = s.thread_ts or ""
        if link == s.tracker_slack_ts:
            link = ""
            if now == self._tracked or s.resolved_at is not None:
                return
        version = f"{now[0]}-{int(now[1])}-{int(now[2])}"
        # Owners as opened leave the row's owners (and the keys written before) as they were.
        owners = ("", "")
        if s.owner_changes:
            version += f"-owners-{s.owner_changes}"
            owners = (s.start.ae_owner, s.start.ce_owner)
        if link:
            version = "thread"  # the post lands once: the key is the case's for ever
        await self._tracker(
            effects.UPDATE_RED_ACCOUNT_CASE,
            TrackerUpdate(
                self._key("tracker", version),
                s.start.case_id,
                list(s.reasons),
                now[1],
                now[2],
                *owners,
                slack_ts=link,
            ),
            f"update red-account case {s.start.case_id}: {len(s.reasons)} reason(s),"
            f" action plan {'complete' if now[1] else 'incomplete'},"
            f" {'escalated' if now[2] else 'not escalated'}" + (", thread linked" if link else ""),
        )
        self._tracked = now
        if link:
            s.tracker_slack_ts = link
