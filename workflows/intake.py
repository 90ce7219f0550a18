"""``ClosedWonIntakeWorkflow``: one run of the scheduled Closed Won poll.

Reads Closed Won opportunities modified since the watermark, hands each to its account's
workflow, then moves the watermark. A failed run moves nothing, so the next run reads the same
deals again; the hand-off is idempotent, so a deal is handed off once however often it is read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits
    from schemas.account import AccountHandOff, HandOffRequest, HandOffResult
    from schemas.intake import (
        ClosedWonBatch,
        ClosedWonPoll,
        IntakeResult,
        IntakeRun,
        Watermark,
        WatermarkRequest,
    )
    from workflows import effects


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


@workflow.defn(name="ClosedWonIntakeWorkflow")
class ClosedWonIntakeWorkflow:
    @workflow.run
    async def run(self, run: IntakeRun) -> IntakeResult:
        limits.check(run, workflow.now(), "cannot run the intake: ")
        mark: Watermark = await effects.execute(
            effects.LOAD_INTAKE_WATERMARK, WatermarkRequest(run.watermark_name), Watermark
        )
        since = mark.value or workflow.now() - timedelta(days=run.first_poll_lookback_days)
        batch: ClosedWonBatch = await effects.execute(
            effects.POLL_CLOSED_WON,
            ClosedWonPoll(since.replace(microsecond=0), run.batch_size),
            ClosedWonBatch,
        )
        # The poll reads the watermark's second again; what was read in it is done.
        deals = [deal for deal in batch.deals if deal.opportunity_id not in mark.seen_ids]
        handed_off: list[str] = []
        already: list[str] = []
        for deal in deals:
            result: HandOffResult = await effects.execute(
                effects.HAND_OFF_CLOSED_DEAL,
                HandOffRequest(
                    AccountHandOff(
                        opportunity_id=deal.opportunity_id,
                        account_id=deal.account_id,
                        account_name=deal.account_name,
                        kind=deal.kind,
                        seats=deal.seats,
                        ae_owner="",
                        ce_owner="",
                        tier=0,
                        region="",
                        closed_at=deal.last_modified,
                    )
                ),
                HandOffResult,
            )
            (already if result.already_handed_off else handed_off).append(deal.opportunity_id)
        saved = mark
        newest = max((_second(deal.last_modified) for deal in deals), default=None)
        if newest is not None:
            seen = [deal.opportunity_id for deal in deals if _second(deal.last_modified) == newest]
            saved = await effects.execute(
                effects.SAVE_INTAKE_WATERMARK,
                Watermark(run.watermark_name, newest, seen),
                Watermark,
            )
        return IntakeResult(handed_off, already, saved.value)
