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

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.account import AccountHandOff
    from schemas.intake import (
        ClosedWonBatch,
        ClosedWonDeal,
        ClosedWonPoll,
        FailedHandOff,
        HandOffDecision,
        HandOffOutcome,
        HandOffPage,
        HandOffPageResult,
        IntakeResult,
        IntakeRun,
        Watermark,
    )
    from workflows import effects

LISTED_DEALS = 500
"""Deals a run's result names one by one (skipped and failed ones are always named)."""
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
    left_out: int = 0
    count: int = 0
    pages: int = 0

    def add(self, outcome: HandOffOutcome) -> None:
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
        )


async def read_pages(run: IntakeRun, mark: Watermark) -> tuple[IntakeResult, bool]:
    """Page from ``mark`` until a short page, a failed hand-off or the run's share of pages;
    the result, and whether more pages may follow (the run continues as new)."""
    since = mark.value or workflow.now() - timedelta(days=run.first_poll_lookback_days)
    after_id = mark.last_id
    # A watermark saved before the intake paged by Id: its second is read from its start, and
    # the deals of that second read then are passed over (not handed off twice).
    already = set(mark.seen_ids) if mark.value is not None and not mark.last_id else set()
    tally = _Tally()
    saved = mark
    for _ in range(run.max_pages):
        batch: ClosedWonBatch = await effects.execute(
            effects.POLL_CLOSED_WON, ClosedWonPoll(since, run.batch_size, after_id), ClosedWonBatch
        )
        tally.pages += 1
        if batch.read == 0 or batch.last_modified is None:
            return tally.result(saved.value), False
        fresh = [
            deal
            for deal in batch.deals
            if not (deal.opportunity_id in already and second(deal.last_modified) == mark.value)
        ]
        outcomes: dict[str, HandOffOutcome] = {}
        if fresh:
            page: HandOffPageResult = await effects.execute(
                effects.HAND_OFF_CLOSED_DEALS,
                HandOffPage([hand_off_of(deal) for deal in fresh]),
                HandOffPageResult,
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
            previous = (deal.last_modified, deal.opportunity_id)
        if position is not None:
            since, after_id = position
            saved = await effects.execute(
                effects.SAVE_INTAKE_WATERMARK,
                Watermark(run.watermark_name, since, [], after_id),
                Watermark,
            )
        if tally.failed or batch.read < run.batch_size:
            return tally.result(saved.value), False
        if workflow.info().get_current_history_size() > HISTORY_BYTES_PER_RUN:
            break
    return tally.result(saved.value), True
