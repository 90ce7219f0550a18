"""``AccountWorkflow``: the customer's post-sales workflow, minimal for now.

It receives hand-offs of closed deals (a new customer, or an expansion of an existing one)
and keeps them, each once however often it is sent.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import search_attributes as sa
    from schemas.account import AccountHandOff, AccountStart, AccountState

HISTORY_EVENT_LIMIT = 8_000


@workflow.defn(name="AccountWorkflow")
class AccountWorkflow:
    @workflow.init
    def __init__(self, start: AccountStart) -> None:
        self._start = start
        self._hand_offs: list[AccountHandOff] = list(start.hand_offs)

    @workflow.signal(name="deal_closed")
    def deal_closed(self, hand_off: AccountHandOff) -> None:
        # Hand-offs arrive at least once (CLI, schedule, opportunity): keep one per deal.
        if all(known.opportunity_id != hand_off.opportunity_id for known in self._hand_offs):
            self._hand_offs.append(hand_off)

    @workflow.query
    def state(self) -> AccountState:
        return AccountState(self._start.account_id, self._start.account_name, list(self._hand_offs))

    @workflow.run
    async def run(self, start: AccountStart) -> None:
        workflow.upsert_search_attributes(
            [
                sa.ACCOUNT_ID.value_set(start.account_id),
                sa.LIFECYCLE_STAGE.value_set("kickoff"),
            ]
        )
        await workflow.wait_condition(
            lambda: (
                workflow.info().is_continue_as_new_suggested()
                or workflow.info().get_current_history_length() >= HISTORY_EVENT_LIMIT
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            AccountStart(start.account_id, start.account_name, list(self._hand_offs))
        )
