"""Hand-off of a closed deal to the account's post-sales workflow.

One signal-with-start, and no reads before it: the account's workflow is started if absent
and signalled either way, so a hand-off repeated by the CLI, the intake schedule or a retried
activity changes nothing twice (the account keeps one hand-off per opportunity). Reading the
account first (a describe, a ``state`` query) would add nothing the account does not already
check, and a query that fails (a workflow task failing, a worker down) would make the hand-off
retry until its budget ran out and hold up every deal behind it.

A closed account (a churned customer) is the one case that needs thought: an old Closed Won
deal edited in Salesforce comes back through the intake (it selects on ``LastModifiedDate``)
and must not start a new, empty account. The signal-with-start therefore refuses to reuse a
closed workflow's id (``REJECT_DUPLICATE``; a running one is still signalled, by the conflict
policy ``USE_EXISTING``), so Temporal itself says when a closed run exists, with no read in
the common cases. Only then is the closed run described, for its close time: a deal that
closed after the account's workflow ended is a customer coming back and starts a new run; one
that closed before it (or the same moment) is skipped, and the result says why.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from dealcycle.metrics import count_in_activity
from schemas import limits, start_summaries
from schemas.account import (
    ACCOUNT_WORKFLOW_TYPE,
    DEAL_CLOSED_SIGNAL,
    AccountConfig,
    AccountHandOff,
    AccountStart,
    HandOffRequest,
    HandOffResult,
    account_workflow_id,
)
from schemas.intake import DealOutcome, HandOffPage, HandOffPageResult
from schemas.metrics import HAND_OFFS, HandOffOutcome

TRIES_PER_DEAL = 3
"""A deal's hand-off is tried this often within one page (a signal-with-start repeats
harmlessly) before it is reported failed and the watermark stays before it."""
RETRY_DELAY_SECONDS = 0.5
HAND_OFF_REFUSED = "HandOffRefused"
REFUSED_DECISION = "refused"
"""A deal's outcome in the intake when its data is out of the account's bounds."""


def refuse_out_of_bounds(deal: AccountHandOff) -> None:
    """A deal the account's workflow would drop (its signal's bounds: a CloseDate typed 2062)
    or could not start with (an account id that is no id) is not handed off: sent, it would
    start an empty account, or one that fails at once, and the deal would be lost."""
    found = limits.problems(deal, datetime.now(UTC))
    if found:
        raise ApplicationError(
            f"Salesforce's Opportunity {deal.opportunity_id} cannot be handed off: "
            + "; ".join(found)
            + "; fix it in Salesforce (the intake reads the deal again once it changes)",
            type=HAND_OFF_REFUSED,
            non_retryable=True,
        )


async def hand_off(
    client: Client, task_queue: str, request: HandOffRequest, config: AccountConfig
) -> HandOffResult:
    deal = request.hand_off
    refuse_out_of_bounds(deal)
    workflow_id = account_workflow_id(deal.account_id)
    try:
        handle = await _signal_with_start(
            client, task_queue, deal, config, WorkflowIDReusePolicy.REJECT_DUPLICATE
        )
    except WorkflowAlreadyStartedError:
        # Only a closed run is refused: a running one takes the signal.
        description = await client.get_workflow_handle(workflow_id).describe()
        ended = description.close_time
        if ended is not None and deal.closed_at <= ended:
            status = description.status.name.lower() if description.status else "closed"
            return HandOffResult(
                workflow_id,
                started=False,
                skipped=(
                    f"{workflow_id} ended ({status}) on {ended:%Y-%m-%d %H:%M} UTC and"
                    f" {deal.opportunity_id} closed on {deal.closed_at:%Y-%m-%d}, before that:"
                    " an old deal starts no new account (`dealcycle account start` brings a"
                    " returning customer in)"
                ),
                run_id=description.run_id,
            )
        # The customer came back after the account ended (or a new run started meanwhile,
        # which this signals).
        handle = await _signal_with_start(
            client, task_queue, deal, config, WorkflowIDReusePolicy.ALLOW_DUPLICATE
        )
    return HandOffResult(workflow_id, started=_started(handle), run_id=handle.result_run_id or "")


async def _signal_with_start(
    client: Client,
    task_queue: str,
    deal: AccountHandOff,
    config: AccountConfig,
    reuse: WorkflowIDReusePolicy,
) -> WorkflowHandle[object, object]:
    # Shown only when this starts the run: a running account keeps the summary it has.
    shown = start_summaries.hand_off(deal, term_days=config.durations.contract_term_days)
    return await client.start_workflow(
        ACCOUNT_WORKFLOW_TYPE,
        AccountStart(deal.account_id, deal.account_name, config=config),
        id=account_workflow_id(deal.account_id),
        task_queue=task_queue,
        static_summary=shown.summary,
        static_details=shown.details,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse,
        start_signal=DEAL_CLOSED_SIGNAL,
        start_signal_args=[deal],
    )


def _outcome(result: HandOffResult) -> HandOffOutcome:
    if result.skipped:
        return HandOffOutcome.SKIPPED
    return HandOffOutcome.STARTED if result.started else HandOffOutcome.ALREADY_RUNNING


def _started(handle: WorkflowHandle[object, object]) -> bool:
    """Whether the signal-with-start started the run, as the server answered it.

    The SDK (1.35) keeps the answer on the handle without exposing it. Temporal Server fills
    ``started``; the Java time-skipping test server leaves it false, so there every hand-off
    reads as "already running".
    """
    response = getattr(handle, "_start_workflow_response", None)
    return bool(getattr(response, "started", False))


async def hand_off_page(
    client: Client,
    task_queue: str,
    page: HandOffPage,
    config: AccountConfig,
    concurrency: int,
) -> HandOffPageResult:
    """Every deal of the page at most ``concurrency`` at once, each one signal-with-start;
    the outcomes in the page's order. A deal that keeps failing is reported, never dropped."""
    gate = asyncio.Semaphore(concurrency)

    async def one(deal: AccountHandOff) -> DealOutcome:
        async with gate:
            why = ""
            for attempt in range(TRIES_PER_DEAL):
                if attempt:
                    await asyncio.sleep(RETRY_DELAY_SECONDS * 2 ** (attempt - 1))
                try:
                    result = await hand_off(client, task_queue, HandOffRequest(deal), config)
                except Exception as exc:  # reported in the outcome, tried again next run
                    if isinstance(exc, ApplicationError) and exc.type == HAND_OFF_REFUSED:
                        # The deal's data: no use trying again before it changes, and the fix
                        # in Salesforce gives it a new LastModifiedDate, which brings it back.
                        # The watermark moves past it: held before it, it held every deal
                        # after it, each run reading the same page again.
                        activity.logger.warning("%s", exc.message)
                        return DealOutcome(
                            deal.opportunity_id,
                            account_workflow_id(deal.account_id),
                            REFUSED_DECISION,
                            exc.message[:500],
                            skipped=True,
                        )
                    why = f"{type(exc).__name__}: {exc}"[:500]
                    continue
                count_in_activity(HAND_OFFS, outcome=_outcome(result))
                return DealOutcome(
                    deal.opportunity_id,
                    result.workflow_id,
                    result.decision,
                    result.skipped,
                    skipped=bool(result.skipped),
                )
            activity.logger.warning("hand-off of %s failed: %s", deal.opportunity_id, why)
            return DealOutcome(
                deal.opportunity_id, account_workflow_id(deal.account_id), failed=why
            )

    outcomes = await asyncio.gather(*(one(deal) for deal in page.hand_offs))
    return HandOffPageResult(list(outcomes))


class AccountHandOffActivities:
    def __init__(
        self, client: Client, task_queue: str, config: AccountConfig, concurrency: int = 16
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._config = config
        self._concurrency = concurrency

    @activity.defn
    async def hand_off_closed_deals(self, page: HandOffPage) -> HandOffPageResult:
        result = await hand_off_page(
            self._client, self._task_queue, page, self._config, self._concurrency
        )
        failed = sum(1 for outcome in result.outcomes if outcome.failed)
        activity.logger.info(
            "hand-off of a page: %d deals, %d failed", len(result.outcomes), failed
        )
        return result

    @activity.defn
    async def hand_off_closed_deal(self, request: HandOffRequest) -> HandOffResult:
        result = await hand_off(self._client, self._task_queue, request, self._config)
        count_in_activity(HAND_OFFS, outcome=_outcome(result))
        activity.logger.info("hand-off: %s", result.describe(request.hand_off.opportunity_id))
        return result
