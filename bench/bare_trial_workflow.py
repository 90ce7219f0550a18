"""Bench-only: ``BareTrialWorkflow``, the simulated year's baseline.

The trial's sequence of durable waits, search attribute upserts and activity calls, written
as plain Temporal code and driven by the same updates. In a module of its own, importing as
little as ``workflows/trial.py`` does (``temporalio``, schemas passed through), because the
sandbox re-imports a workflow's module for every workflow it runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.payloads import BareTrialInput, BareTrialResult
    from schemas import search_attributes as sa
    from schemas.effects import (
        IssuedLicense,
        LicenseRequest,
        RecordResult,
        SalesforceFieldUpdate,
        SalesforceTaskRequest,
        SalesforceWriteResult,
        SlackPost,
        SlackPostResult,
        TrialOutcomeRecord,
    )
    from schemas.trial import CompleteStep, ExtendTrial, SetTechnicalWin

# The activity names of workflows/effects.py, repeated so this module stays as light as the
# trial's (the bench checks they match).
POST_SLACK_MESSAGE = "post_slack_message"
UPDATE_SALESFORCE_RECORD = "update_salesforce_record"
CREATE_SALESFORCE_TASK = "create_salesforce_task"
ISSUE_LICENSE_KEY = "issue_license_key"
RECORD_TRIAL_OUTCOME = "record_trial_outcome"
START_TO_CLOSE = timedelta(seconds=60)
Fields = dict[str, str | int | float | bool | None]


async def _act(name: str, argument: object, result_type: type) -> object:
    return await workflow.execute_activity(
        name, argument, result_type=result_type, start_to_close_timeout=START_TO_CLOSE
    )


@workflow.defn(name="BenchBareTrialWorkflow")
class BareTrialWorkflow:
    """What a hand-written trial would do with Temporal: no rules engine, no snapshot.

    Same durable waits as ``TrialWorkflow`` on the bench's path (planning reminder timer,
    midpoint, check-in reminder, the movable end), the same five search attribute upserts
    and the same activity calls, in the same order.
    """

    @workflow.init
    def __init__(self, input: BareTrialInput) -> None:
        self._planning_done = 0
        self._check_in_done = False
        self._extensions: list[int] = []
        self._win_changes: list[str] = []
        self._win = "not_started"
        self._changed = False

    @workflow.update
    def complete_step(self, request: CompleteStep) -> str:
        if request.step == "mid_trial_check_in":
            self._check_in_done = True
        else:
            self._planning_done += 1
        self._changed = True
        return f"{request.step}: done."

    @workflow.update
    def extend_trial(self, request: ExtendTrial) -> str:
        self._extensions.append(request.days)
        self._changed = True
        return f"extended by {request.days} day(s)"

    @workflow.update
    def set_technical_win(self, request: SetTechnicalWin) -> str:
        self._win = request.status.value
        self._win_changes.append(request.status.value)
        self._changed = True
        return f"technical win: {request.status.value}"

    @workflow.run
    async def run(self, input: BareTrialInput) -> BareTrialResult:
        day = timedelta(seconds=input.day_seconds)
        opp, key = input.opportunity_id, workflow.info().workflow_id
        workflow.upsert_search_attributes(
            [
                sa.OPPORTUNITY_ID.value_set(opp),
                sa.ACCOUNT_ID.value_set(input.account_id),
                sa.LIFECYCLE_STAGE.value_set("trial_planning"),
                sa.TECHNICAL_WIN_STATUS.value_set(self._win),
                sa.CE_OWNER.value_set(input.ce_owner),
                sa.AE_OWNER.value_set(input.ae_owner),
            ]
        )
        reminder = input.planning_item_due_seconds + input.overdue_reminder_delay_seconds
        try:
            await workflow.wait_condition(
                lambda: self._planning_done >= input.planning_items,
                timeout=timedelta(seconds=reminder),
            )
        except TimeoutError:
            pass  # the bench completes planning first; reminders are not modelled here
        started = workflow.now()
        ends = started + day * input.length_days
        midpoint = started + (ends - started) / 2
        check_in_reminder = midpoint + timedelta(
            seconds=input.check_in_due_seconds + input.overdue_reminder_delay_seconds
        )
        workflow.upsert_search_attributes([sa.LIFECYCLE_STAGE.value_set("trial_running")])
        keys = [await self._license(key, input, ends, 0)]
        await self._salesforce(key, "dates", opp, {"Trial_End_Date__c": _day(ends)})
        await self._slack(key, "started", input.channel, f"Trial started for {opp}.")
        prompted = False
        while True:
            self._changed = False
            for status in self._win_changes:
                workflow.upsert_search_attributes([sa.TECHNICAL_WIN_STATUS.value_set(status)])
                await self._salesforce(key, "win", opp, {"Technical_Win_Status__c": status})
                await self._slack(key, "win", input.channel, f"Technical win: {status}.")
            self._win_changes.clear()
            for days in self._extensions:
                ends += day * days
                keys.append(await self._license(key, input, ends, len(keys)))
                await self._slack(key, "extended", input.channel, f"Extended to {_day(ends)}.")
                await self._salesforce(key, "dates", opp, {"Trial_End_Date__c": _day(ends)})
            self._extensions.clear()
            now = workflow.now()
            if not prompted and now >= midpoint:
                await self._slack(key, "check-in", input.ce_owner, "Mid-trial check-in due.")
                await _act(
                    CREATE_SALESFORCE_TASK,
                    SalesforceTaskRequest(f"{key}/task", opp, "Check-in", _day(now)),
                    SalesforceWriteResult,
                )
                prompted = True
            if now >= ends:
                break
            wake = ends if prompted else midpoint
            if prompted and not self._check_in_done:
                wake = min(wake, check_in_reminder)
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=wake - now)
            except TimeoutError:
                pass
        outcome = "technical_win" if self._win == "won" else "no_decision"
        workflow.upsert_search_attributes([sa.LIFECYCLE_STAGE.value_set("trial_ended")])
        await _act(
            RECORD_TRIAL_OUTCOME,
            TrialOutcomeRecord(
                f"{key}/outcome",
                opp,
                input.account_id,
                outcome,
                self._win,
                started,
                ends,
                input.ce_owner,
                input.ae_owner,
            ),
            RecordResult,
        )
        await self._salesforce(key, "outcome", opp, {"Trial_Outcome__c": outcome})
        await self._slack(key, "outcome", input.channel, f"Trial ended: {outcome}.")
        return BareTrialResult(opp, outcome, keys)

    async def _license(self, key: str, input: BareTrialInput, ends: datetime, n: int) -> str:
        issued = await _act(
            ISSUE_LICENSE_KEY,
            LicenseRequest(
                f"{key}/license/{n}",
                input.account_id,
                input.account_name,
                "trial",
                input.seats,
                ends,
            ),
            IssuedLicense,
        )
        assert isinstance(issued, IssuedLicense)
        return issued.key_id

    async def _salesforce(self, key: str, what: str, record_id: str, fields: Fields) -> None:
        await _act(
            UPDATE_SALESFORCE_RECORD,
            SalesforceFieldUpdate(f"{key}/{what}/sf", "Opportunity", record_id, fields),
            SalesforceWriteResult,
        )

    async def _slack(self, key: str, what: str, channel: str, text: str) -> None:
        await _act(
            POST_SLACK_MESSAGE, SlackPost(f"{key}/{what}/slack", channel, text), SlackPostResult
        )


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
