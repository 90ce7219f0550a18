"""``ClosedWonIntakeWorkflow``: one run of the scheduled Closed Won poll.

Reads Closed Won opportunities modified since the watermark, page by page in
``(LastModifiedDate, Id)`` order (``workflows.intake_pages``), hands each to its account's
workflow (or skips it, saying why, when the account's workflow ended after the deal closed),
and moves the watermark past what was handed off. A failed run moves nothing more, so the next
run reads the same deals again; the hand-off is idempotent, so a deal is handed off once
however often it is read.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits
    from schemas.account import HandOffRequest, HandOffResult, account_workflow_id
    from schemas.intake import (
        ClosedWonBatch,
        ClosedWonPoll,
        HandOffDecision,
        IntakeResult,
        IntakeRun,
        Watermark,
        WatermarkRequest,
    )
    from workflows import effects
    from workflows.intake_pages import hand_off_named, hand_off_of, read_pages, second

INTAKE_PAGES_PATCH = "intake-pages-by-date-and-id"
"""Runs that started before: one page read by the second, its deals handed off one by one,
the watermark a second and the ids read in it (which stranded deals past ``batch_size`` in
one second)."""


@workflow.defn(name="ClosedWonIntakeWorkflow")
class ClosedWonIntakeWorkflow:
    @workflow.run
    async def run(self, run: IntakeRun) -> IntakeResult:
        limits.check(run, workflow.now(), "cannot run the intake: ")
        if run.deal_closed is not None and workflow.patched(INTAKE_PAGES_PATCH):
            return await hand_off_named(run.deal_closed)
        mark: Watermark = await effects.execute(
            effects.LOAD_INTAKE_WATERMARK,
            WatermarkRequest(run.watermark_name),
            Watermark,
            summary=f"read the watermark {run.watermark_name}",
        )
        if workflow.patched(INTAKE_PAGES_PATCH):
            paged, more = await read_pages(run, mark)
            if more:
                workflow.continue_as_new(run)
            return paged
        since = mark.value or workflow.now() - timedelta(days=run.first_poll_lookback_days)
        batch: ClosedWonBatch = await effects.execute(
            effects.POLL_CLOSED_WON,
            ClosedWonPoll(since.replace(microsecond=0), run.batch_size),
            ClosedWonBatch,
            summary=f"Salesforce: Closed Won since {since:%Y-%m-%d %H:%M:%S}",
        )
        # The poll reads the watermark's second again; what was read in it is done.
        deals = [deal for deal in batch.deals if deal.opportunity_id not in mark.seen_ids]
        handed_off: list[str] = []
        skipped: list[str] = []
        decisions: list[HandOffDecision] = []
        for deal in deals:
            result: HandOffResult = await effects.execute(
                effects.HAND_OFF_CLOSED_DEAL,
                HandOffRequest(hand_off_of(deal)),
                HandOffResult,
                summary=f"hand {deal.opportunity_id} off to {account_workflow_id(deal.account_id)}",
            )
            (skipped if result.skipped else handed_off).append(deal.opportunity_id)
            decisions.append(
                HandOffDecision(
                    deal.opportunity_id, result.workflow_id, result.decision, result.skipped
                )
            )
            workflow.logger.info("intake: %s", result.describe(deal.opportunity_id))
        saved = mark
        newest = max((second(deal.last_modified) for deal in deals), default=None)
        if newest is not None:
            seen = [deal.opportunity_id for deal in deals if second(deal.last_modified) == newest]
            saved = await effects.execute(
                effects.SAVE_INTAKE_WATERMARK,
                Watermark(run.watermark_name, newest, seen),
                Watermark,
                summary=f"save the watermark {run.watermark_name}: {newest:%Y-%m-%d %H:%M:%S}",
            )
        return IntakeResult(handed_off, [], saved.value, skipped, decisions)
