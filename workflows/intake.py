"""``ClosedWonIntakeWorkflow``: one run of the scheduled Closed Won poll.

Reads Closed Won opportunities modified since the watermark, hands each to its account's
workflow (or skips it, saying why, when the account's workflow ended after the deal closed),
then moves the watermark. A failed run moves nothing, so the next run reads the same
deals again; the hand-off is idempotent, so a deal is handed off once however often it is read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits
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
        HandOffDecision,
        IntakeResult,
        IntakeRun,
        Watermark,
        WatermarkRequest,
    )
    from workflows import effects


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _hand_off_of(deal: ClosedWonDeal) -> AccountHandOff:
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


@workflow.defn(name="ClosedWonIntakeWorkflow")
class ClosedWonIntakeWorkflow:
    @workflow.run
    async def run(self, run: IntakeRun) -> IntakeResult:
        limits.check(run, workflow.now(), "cannot run the intake: ")
        mark: Watermark = await effects.execute(
            effects.LOAD_INTAKE_WATERMARK,
            WatermarkRequest(run.watermark_name),
            Watermark,
            summary=f"read the watermark {run.watermark_name}",
        )
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
                HandOffRequest(_hand_off_of(deal)),
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
        newest = max((_second(deal.last_modified) for deal in deals), default=None)
        if newest is not None:
            seen = [deal.opportunity_id for deal in deals if _second(deal.last_modified) == newest]
            saved = await effects.execute(
                effects.SAVE_INTAKE_WATERMARK,
                Watermark(run.watermark_name, newest, seen),
                Watermark,
                summary=f"save the watermark {run.watermark_name}: {newest:%Y-%m-%d %H:%M:%S}",
            )
        return IntakeResult(handed_off, [], saved.value, skipped, decisions)
