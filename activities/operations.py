"""Telling operations that an effect failed: one post in the operations channel per failure,
naming the workflow, the effect, the cause and the command that fixes it."""

from __future__ import annotations

from temporalio import activity

from activities.slack import SlackActivities
from schemas.effects import FailedEffectNotice, SlackPost, SlackPostResult
from workflows.mrkdwn import escape


class OperationsActivities:
    def __init__(
        self, slack: SlackActivities, ops_channel: str, temporal_ui_url: str, namespace: str
    ) -> None:
        self._slack = slack
        self._channel = ops_channel
        self._workflows_url = f"{temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows"

    @activity.defn
    async def notify_failed_effect(self, notice: FailedEffectNotice) -> SlackPostResult:
        return await self._slack.post_slack_message(
            SlackPost(
                notice.idempotency_key, self._channel, notice_text(notice, self._workflows_url)
            )
        )


def notice_text(notice: FailedEffectNotice, workflows_url: str) -> str:
    # The summary and the cause quote what the effect carried (names, reasons people typed).
    what = f" ({escape(notice.summary)})" if notice.summary else ""
    return (
        f":warning: {notice.workflow_type} {notice.workflow_id}: effect {notice.effect}"
        f" {notice.state}{what}. Cause: {escape(notice.cause or 'unknown')}."
        f" {notice.fix}. {workflows_url}/{notice.workflow_id}"
    )
