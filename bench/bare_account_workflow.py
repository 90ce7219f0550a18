"""Bench-only: ``BareAccountWorkflow``, the baseline of the simulated year of accounts.

An account-year's durable waits, search attribute upserts and activity calls, written as plain
Temporal code (``workflow.wait_condition`` with a timeout, ``workflow.execute_activity``) and
driven by the same updates as ``AccountWorkflow``, without dealcycle's rules, snapshot or
effects bookkeeping. What to do when is not worked out here: it is replayed from a script
recorded from a real ``AccountWorkflow`` run (``bench.year_of_accounts.script_of``), so both
kinds make the same calls, by name and count, at the same moments.

The script is one string per wake-up, ``<trigger>:<effects>`` with an optional ``!``:

- trigger ``S``: a run starts (the first, or the one after a continue-as-new);
  ``T<seconds>``: a timer fires, that many seconds after ``input.base``;
  ``U<name>``: the update ``name`` arrives;
- effects, in order, one letter each: ``s`` Slack post, ``m`` Slack message update, ``f``
  Salesforce field update, ``t`` Salesforce task, ``k`` license key, ``p`` account plan
  record, ``r`` feature request record, ``u`` search attribute upsert;
- an effect's letter in upper case: it ran as a local activity (a marker, not an activity);
- ``!``: the run then continues as new (the account does at each renewal).

Between wake-ups it waits, like the account, on one condition ("an update arrived") with a
timeout until the next scripted timer. In a module of its own, importing as little as
``workflows/account.py`` does (``temporalio``, payloads passed through), because the sandbox
re-imports a workflow's module for every workflow run.
"""

from __future__ import annotations

from collections import deque
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import schemas.common  # noqa: F401  (the update payloads' Role)
    from bench.payloads import BareAccountInput, BareAccountPosition
    from schemas import search_attributes as sa
    from schemas.account import (
        CompleteAccountStep,
        RecordFeatureRequest,
        RecordRenewalAssessment,
        RecordRenewalCall,
        RecordRenewalOutcome,
        SubmitAccountPlan,
    )
    from schemas.effects import (
        AccountPlanRecord,
        FeatureRequestRecord,
        IssuedLicense,
        LicenseRequest,
        RecordResult,
        SalesforceFieldUpdate,
        SalesforceTaskRequest,
        SalesforceWriteResult,
        SlackMessageUpdate,
        SlackPost,
        SlackPostResult,
    )
    from schemas.roster import Roster

# The activity names of workflows/effects.py, repeated so this module stays as light as the
# account's (the bench checks they match).
POST_SLACK_MESSAGE = "post_slack_message"
UPDATE_SLACK_MESSAGE = "update_slack_message"
UPDATE_SALESFORCE_RECORD = "update_salesforce_record"
CREATE_SALESFORCE_TASK = "create_salesforce_task"
ISSUE_LICENSE_KEY = "issue_license_key"
RECORD_ACCOUNT_PLAN = "record_account_plan"
RECORD_FEATURE_REQUEST = "record_feature_request"
LOOK_UP_ROSTER = "look_up_roster"
EFFECT_CODES = {
    POST_SLACK_MESSAGE: "s",
    UPDATE_SLACK_MESSAGE: "m",
    UPDATE_SALESFORCE_RECORD: "f",
    CREATE_SALESFORCE_TASK: "t",
    ISSUE_LICENSE_KEY: "k",
    RECORD_ACCOUNT_PLAN: "p",
    RECORD_FEATURE_REQUEST: "r",
    LOOK_UP_ROSTER: "l",
}
UPSERT_CODE = "u"
START_TO_CLOSE = timedelta(seconds=60)


_LOCAL = ContextVar("bench_bare_local", default=False)
"""Whether the effect being replayed ran as a local activity in the recorded account."""


async def _act(name: str, argument: object, result_type: type) -> object:
    if _LOCAL.get():
        return await workflow.execute_local_activity(
            name, argument, result_type=result_type, start_to_close_timeout=START_TO_CLOSE
        )
    return await workflow.execute_activity(
        name, argument, result_type=result_type, start_to_close_timeout=START_TO_CLOSE
    )


def _trigger(segment: str) -> str:
    return segment.partition(":")[0]


@workflow.defn(name="BenchBareAccountWorkflow")
class BareAccountWorkflow:
    """What a hand-written account would do with Temporal: no rules engine, no snapshot."""

    @workflow.init
    def __init__(self, input: BareAccountInput) -> None:
        self._input = input
        self._cursor = input.cursor
        self._arrived: deque[str] = deque(input.arrived or ())
        self._plan: SubmitAccountPlan | None = input.plan
        self._feature: RecordFeatureRequest | None = input.feature
        self._upserts = 0

    def _arrive(self, name: str) -> str:
        self._arrived.append(name)
        return f"{name}: noted"

    @workflow.update
    def record_renewal_assessment(self, request: RecordRenewalAssessment) -> str:
        return self._arrive("record_renewal_assessment")

    @workflow.update
    def submit_account_plan(self, request: SubmitAccountPlan) -> str:
        self._plan = request
        return self._arrive("submit_account_plan")

    @workflow.update
    def complete_step(self, request: CompleteAccountStep) -> str:
        return self._arrive("complete_step")

    @workflow.update
    def record_renewal_call(self, request: RecordRenewalCall) -> str:
        return self._arrive("record_renewal_call")

    @workflow.update
    def record_renewal_outcome(self, request: RecordRenewalOutcome) -> str:
        return self._arrive("record_renewal_outcome")

    @workflow.update
    def record_feature_request(self, request: RecordFeatureRequest) -> str:
        self._feature = request
        return self._arrive("record_feature_request")

    @workflow.query
    def position(self) -> BareAccountPosition:
        return BareAccountPosition(self._cursor, len(self._input.script), self._input.run)

    @workflow.run
    async def run(self, input: BareAccountInput) -> None:
        script = input.script
        while True:
            while self._cursor < len(script):
                segment = script[self._cursor]
                trigger = _trigger(segment)
                if trigger.startswith("T") and workflow.now() < self._at(trigger):
                    break
                if trigger.startswith("U"):
                    if not self._arrived:
                        break
                    arrived = self._arrived.popleft()
                    if arrived != trigger[1:]:
                        raise ApplicationError(
                            f"script out of step: {arrived} arrived, {trigger[1:]} expected",
                            non_retryable=True,
                        )
                await self._effects(segment)
                self._cursor += 1
                if segment.endswith("!"):
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    workflow.continue_as_new(
                        replace(
                            input,
                            cursor=self._cursor,
                            run=input.run + 1,
                            arrived=list(self._arrived),
                            # Only what a carried update needs, so a year's input stays lean.
                            plan=self._plan if self._arrived else None,
                            feature=self._feature if self._arrived else None,
                        )
                    )
            if self._arrived:
                expected = script[self._cursor] if self._cursor < len(script) else "its end"
                raise ApplicationError(
                    f"script out of step: {self._arrived[0]} arrived before {expected}",
                    non_retryable=True,
                )
            timeout = self._next_timeout()
            try:
                await workflow.wait_condition(lambda: bool(self._arrived), timeout=timeout)
            except TimeoutError:
                pass

    def _at(self, trigger: str) -> datetime:
        return self._input.base + timedelta(seconds=float(trigger[1:]))

    def _next_timeout(self) -> timedelta | None:
        for segment in self._input.script[self._cursor :]:
            trigger = _trigger(segment)
            if trigger.startswith("T"):
                timeout = self._at(trigger) - workflow.now()
                return timeout if timeout > timedelta(0) else None
        return None

    async def _effects(self, segment: str) -> None:
        effects = segment.partition(":")[2].rstrip("!")
        for number, code in enumerate(effects):
            key = f"{workflow.info().workflow_id}/{self._input.run}/{self._cursor}/{number}"
            if code == UPSERT_CODE:
                self._upsert()
            else:
                # An upper-case code ran as a local activity in the recorded account.
                token = _LOCAL.set(code.isupper())
                try:
                    await self._activity(code.lower(), key)
                finally:
                    _LOCAL.reset(token)

    def _upsert(self) -> None:
        i = self._input
        self._upserts += 1
        if self._upserts == 1:
            workflow.upsert_search_attributes(
                [
                    sa.ACCOUNT_ID.value_set(i.account_id),
                    sa.LIFECYCLE_STAGE.value_set("adoption"),
                    sa.CUSTOMER_HEALTH.value_set("green"),
                    sa.CE_OWNER.value_set(i.ce_owner),
                    sa.AE_OWNER.value_set(i.ae_owner),
                ]
            )
        elif self._upserts == 2:
            workflow.upsert_search_attributes(
                [sa.ACCOUNT_TIER.value_set(i.tier), sa.RENEWAL_DATE.value_set(i.renewal_date)]
            )
        else:
            stage = "renewal" if self._upserts % 2 else "adoption"
            workflow.upsert_search_attributes([sa.LIFECYCLE_STAGE.value_set(stage)])

    async def _activity(self, code: str, key: str) -> None:
        i = self._input
        now = workflow.now()
        day = now.date().isoformat()
        name = f"{i.account_name} ({i.account_id})"
        argument: Any
        if code == "s":
            await _act(
                POST_SLACK_MESSAGE,
                SlackPost(key, i.ce_owner, f"{name}: work is due on {day}."),
                SlackPostResult,
            )
        elif code == "l":
            await workflow.execute_activity(
                LOOK_UP_ROSTER, result_type=Roster, start_to_close_timeout=START_TO_CLOSE
            )
        elif code == "m":
            argument = SlackMessageUpdate(
                key, i.ce_owner, f"{now.timestamp():.6f}", f"{name}: done."
            )
            await _act(UPDATE_SLACK_MESSAGE, argument, type(None))
        elif code == "f":
            argument = SalesforceFieldUpdate(
                key, "Account", i.account_id, {"Tier__c": str(i.tier), "Renewal_Date__c": day}
            )
            await _act(UPDATE_SALESFORCE_RECORD, argument, SalesforceWriteResult)
        elif code == "t":
            argument = SalesforceTaskRequest(key, i.account_id, f"Due: {name}", day)
            await _act(CREATE_SALESFORCE_TASK, argument, SalesforceWriteResult)
        elif code == "k":
            argument = LicenseRequest(
                key, i.account_id, i.account_name, "full", i.seats, i.renewal_date
            )
            await _act(ISSUE_LICENSE_KEY, argument, IssuedLicense)
        elif code == "p":
            await _act(RECORD_ACCOUNT_PLAN, self._plan_record(key, now), RecordResult)
        elif code == "r":
            await _act(RECORD_FEATURE_REQUEST, self._feature_record(key, now), RecordResult)
        else:
            raise ApplicationError(f"unknown effect {code!r} in the script", non_retryable=True)

    def _plan_record(self, key: str, now: datetime) -> AccountPlanRecord:
        plan = self._plan
        if plan is None:
            raise ApplicationError("an account plan record before any plan", non_retryable=True)
        contacts = plan.contacts
        return AccountPlanRecord(
            key,
            self._input.account_id,
            plan.quarter,
            self._input.tier,
            plan.actor,
            now,
            {
                "champion": contacts.champion,
                "economic_buyer": contacts.economic_buyer,
                "advocate": contacts.advocate,
                "admin": contacts.admin,
            },
            list(plan.use_cases),
            plan.health,
            list(plan.expansion_opportunities),
            list(plan.risks),
            list(plan.product_feedback_themes),
            list(plan.objectives),
            plan.next_steps,
            plan.link,
        )

    def _feature_record(self, key: str, now: datetime) -> FeatureRequestRecord:
        request = self._feature
        if request is None:
            raise ApplicationError(
                "a feature request record before any request", non_retryable=True
            )
        i = self._input
        return FeatureRequestRecord(
            key,
            i.account_id,
            i.account_name,
            1,
            request.title,
            request.detail,
            request.actor,
            request.role.value,
            now,
        )
