"""The intake's pages: Closed Won deals read in ``(LastModifiedDate, Id)`` order, each page
handed off at once, the watermark moved past what was handed off.

Keyset paging never strands a deal: however many deals share one second, each page starts
right after the last deal handed off (the page before read ``LIMIT`` deals of that second,
the next starts at the next Id). A deal edited while the intake pages gets a newer
``LastModifiedDate`` and comes in a later page (or the next run); handing it off again changes
nothing, the account keeps one hand-off per deal.

A page's deals are handed off by one activity, a bounded number at once, one
signal-with-start each. A deal whose hand-off keeps failing is reported in the result, and
the watermark stops before it: the next run reads it (and what followed it) again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.account import (
        AccountHandOff,
        HandOffRequest,
        HandOffResult,
        account_workflow_id,
    )
    from schemas.intake import (
        ClosedWonBatch,
        ClosedWonDeal,
        ClosedWonPoll,
        DealClosed,
        DealOutcome,
        FailedHandOff,
        HandOffDecision,
        HandOffPage,
        HandOffPageResult,
        IntakeResult,
        IntakeRun,
        Watermark,
    )
    from workflows import effects

LISTED_DEALS = 500
"""Deals a run's result names one by one (skipped and failed ones are always named)."""
OPEN_SECONDS = timedelta(seconds=2)
"""A second this close to the poll (by the worker's clock) may still get deals."""
HISTORY_BYTES_PER_RUN = 8_000_000
"""Past this much history a run continues as new (a page adds ~200 KB at 200 deals)."""


def second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def hand_off_of(deal: ClosedWonDeal) -> AccountHandOff:
    """Everything Salesforce said of the deal. The owners are Slack members, which Salesforce
    does not know: the opportunity's workflow hands off with them, or the profile command."""
    return AccountHandOff(
        opportunity_id=deal.opportunity_id,
        account_id=deal.account_id,
        account_name=deal.account_name,
        kind=deal.kind,
        seats=deal.seats,
        ae_owner="",
        ce_owner="",
        tier=deal.tier,
        region=deal.region,
        # Results recorded before CloseDate was read have none.
        closed_at=deal.closed_at or deal.last_modified,
        deployment_type=deal.deployment_type,
        amount=deal.amount,
    )


@dataclass
class _Tally:
    """What the run did so far."""

    handed_off: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    decisions: list[HandOffDecision] = field(default_factory=list)
    failed: list[FailedHandOff] = field(default_factory=list)
    without_account: list[str] = field(default_factory=list)
    left_out: int = 0
    count: int = 0
    pages: int = 0

    def add(self, outcome: DealOutcome) -> None:
        decision = HandOffDecision(
            outcome.opportunity_id, outcome.account_workflow_id, outcome.decision, outcome.why
        )
        if outcome.skipped:
            self.skipped.append(outcome.opportunity_id)
            self.decisions.append(decision)
            return
        self.count += 1
        if len(self.handed_off) >= LISTED_DEALS:
            self.left_out += 1
            return
        self.handed_off.append(outcome.opportunity_id)
        self.decisions.append(decision)

    def result(self, watermark: datetime | None) -> IntakeResult:
        return IntakeResult(
            self.handed_off,
            [],
            watermark,
            self.skipped,
            self.decisions,
            failed=self.failed,
            decisions_left_out=self.left_out,
            handed_off_count=self.count,
            pages=self.pages,
            without_account=self.without_account,
        )


def _mark(
    name: str, position: tuple[datetime, str], frontier: list[str], read_at: datetime | None
) -> Watermark:
    """The watermark at ``position``. A second still being written in Salesforce (within
    ``OPEN_SECONDS`` of the run's first query that read it, by the worker's clock) is saved
    as before the intake paged by Id, its start and the deals of it read: a deal saved later
    in that second, with a smaller Id, would otherwise sit behind the watermark for ever."""
    moment, last_id = position
    if read_at is not None and moment >= second(read_at) - OPEN_SECONDS:
        return Watermark(name, moment, frontier, "")
    return Watermark(name, moment, [], last_id)


async def read_pages(run: IntakeRun, mark: Watermark) -> tuple[IntakeResult, bool]:
    """Page from ``mark`` until a short page, a failed hand-off or the run's share of pages;
    the result, and whether more pages may follow (the run continues as new)."""
    since = mark.value or workflow.now() - timedelta(days=run.first_poll_lookback_days)
    after_id = mark.last_id
    # A watermark of a second (saved before the intake paged by Id, or of a second still
    # being written): that second is read from its start, and its deals read then are
    # passed over (not handed off twice).
    already = set(mark.seen_ids) if mark.value is not None and not mark.last_id else set()
    tally = _Tally()
    saved = mark
    # The deals of the newest second read, up to the watermark.
    frontier_second: datetime | None = None
    frontier: list[str] = []
    # When the run first read that second: open then, a deal committed in it later with a
    # smaller Id is behind every later page, so it stays open for the watermark.
    frontier_read_at: datetime | None = None
    for _ in range(run.max_pages):
        batch: ClosedWonBatch = await effects.execute(
            effects.POLL_CLOSED_WON,
            ClosedWonPoll(since, run.batch_size, after_id=after_id),
            ClosedWonBatch,
            summary=f"Salesforce: Closed Won since {since:%Y-%m-%d %H:%M:%S}",
        )
        tally.pages += 1
        room = LISTED_DEALS - len(tally.without_account)
        tally.without_account.extend(batch.without_account[: max(0, room)])
        if batch.read == 0 or batch.last_modified is None:
            return tally.result(saved.value), False
        fresh = [
            deal
            for deal in batch.deals
            if not (deal.opportunity_id in already and second(deal.last_modified) == mark.value)
        ]
        outcomes: dict[str, DealOutcome] = {}
        if fresh:
            page: HandOffPageResult = await effects.execute(
                effects.HAND_OFF_CLOSED_DEALS,
                HandOffPage([hand_off_of(deal) for deal in fresh]),
                HandOffPageResult,
                summary=f"hand off {len(fresh)} won deal{'' if len(fresh) == 1 else 's'}",
            )
            outcomes = {outcome.opportunity_id: outcome for outcome in page.outcomes}
        # The watermark moves to where the page ended, or to the last deal before the first
        # that failed (the deals after it are handed off now and again by the next run).
        position: tuple[datetime, str] | None = (batch.last_modified, batch.last_id)
        previous: tuple[datetime, str] | None = None
        failed_here = False
        for deal in batch.deals:
            outcome = outcomes.get(deal.opportunity_id)
            if outcome is not None and outcome.failed:
                tally.failed.append(FailedHandOff(deal.opportunity_id, outcome.failed))
                workflow.logger.warning(
                    "intake: %s not handed off: %s", deal.opportunity_id, outcome.failed
                )
                if not failed_here:
                    failed_here, position = True, previous
                continue
            if outcome is not None:
                tally.add(outcome)
            if failed_here:
                continue
            if second(deal.last_modified) != frontier_second:
                frontier_second, frontier = second(deal.last_modified), []
                frontier_read_at = batch.read_at
            frontier.append(deal.opportunity_id)
            previous = (deal.last_modified, deal.opportunity_id)
        if position is not None:
            since, after_id = position
            in_frontier = second(position[0]) == frontier_second
            saved = await effects.execute(
                effects.SAVE_INTAKE_WATERMARK,
                _mark(
                    run.watermark_name,
                    position,
                    frontier if in_frontier else [],
                    frontier_read_at if in_frontier else batch.read_at,
                ),
                Watermark,
                summary=f"save the watermark {run.watermark_name}: {position[0]:%Y-%m-%d %H:%M:%S}",
            )
        if tally.failed or batch.read < run.batch_size:
            return tally.result(saved.value), False
        if workflow.info().get_current_history_size() > HISTORY_BYTES_PER_RUN:
            break
    return tally.result(saved.value), True


async def hand_off_named(named: DealClosed) -> IntakeResult:
    """``dealcycle deal-closed``: the deal read by Id with the worker's Salesforce session
    (one query, no login of its own), with the owners only dealcycle knows, handed off."""
    batch: ClosedWonBatch = await effects.execute(
        effects.POLL_CLOSED_WON,
        ClosedWonPoll(workflow.now(), 1, opportunity_id=named.opportunity_id),
        ClosedWonBatch,
        summary=f"Salesforce: read {named.opportunity_id}",
    )
    if batch.refused or not batch.deals:
        return IntakeResult([], [], None, refused=batch.refused or "no deal", pages=1)
    deal = hand_off_of(batch.deals[0])
    deal = replace(
        deal,
        kind=named.kind or deal.kind,
        ae_owner=named.ae_owner,
        ce_owner=named.ce_owner,
        region=deal.region or named.region,
    )
    result: HandOffResult = await effects.execute(
        effects.HAND_OFF_CLOSED_DEAL,
        HandOffRequest(deal),
        HandOffResult,
        summary=f"hand {deal.opportunity_id} off to {account_workflow_id(deal.account_id)}",
    )
    tally = _Tally(pages=1)
    tally.add(
        DealOutcome(
            deal.opportunity_id,
            result.workflow_id,
            result.decision,
            result.skipped,
            skipped=bool(result.skipped),
        )
    )
    workflow.logger.info("deal-closed: %s", result.describe(deal.opportunity_id))
    return tally.result(None)
