"""Every HTTP request to the Slack app is verified before anything reaches Temporal: a forged
signature, a timestamp six minutes old and a replay of an accepted request are each refused
with 401 (100 of 100), logged with the reason and without the body, and the workflow's
history shows no update from them."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk import WebClient
from structlog.testing import capture_logs

from schemas.common import Role, StepStatus
from schemas.trial import TRIAL_PLANNING_ITEMS
from starter.slack.actions import DONE
from starter.slack.verification import RequestGuard
from tests.support.slack_app import (
    block_actions,
    eventually,
    interaction_body,
    served_app,
    sign,
    update_ids,
    with_signing_secret,
)
from tests.test_slack_app_buttons import CE_STEP, prompt_ts, step_status
from tests.test_trial_workflow import CE, start

TRIES = 100
OTHER_CE_STEP = [item for item in TRIAL_PLANNING_ITEMS if item.lead is Role.CE][1]
MARKER = "BODY-MUST-NOT-BE-LOGGED"


async def test_forged_stale_and_replayed_requests_are_refused_and_reach_nothing(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        handle = await start(harness, salesforce_fake, "006SLACKVERIFY")
        channel, ts = await prompt_ts(slack_client)
        async with served_app(harness.client, harness.settings) as app:
            step = {"workflow_id": handle.id, "step": CE_STEP.key, "kind": "trial"}
            accepted = block_actions(CE, channel, ts, DONE, step)
            accepted_body = interaction_body(accepted)
            accepted_headers = sign(accepted_body, int(time.time()))
            assert await app.post(accepted_body, accepted_headers) == 200

            async def done() -> bool | None:
                return True if await step_status(handle, CE_STEP.key) is StepStatus.DONE else None

            await eventually(done)
            [accepted_id] = await update_ids(handle)

            # Each of these would complete another step, were it let through.
            other = {"workflow_id": handle.id, "step": OTHER_CE_STEP.key, "kind": "trial"}
            statuses: dict[str, list[int]] = {"forged": [], "stale": [], "replayed": []}
            with capture_logs() as logs:
                for _ in range(TRIES):
                    click = block_actions(CE, channel, MARKER, DONE, other)
                    body = interaction_body(click)
                    forged = sign(body, int(time.time()), secret="not-the-signing-secret")
                    statuses["forged"].append(await app.post(body, forged))
                    statuses["stale"].append(await app.deliver(body, age=6 * 60))
                    statuses["replayed"].append(await app.post(accepted_body, accepted_headers))

        assert {kind: set(codes) for kind, codes in statuses.items()} == {
            "forged": {401},
            "stale": {401},
            "replayed": {401},
        }
        assert all(len(codes) == TRIES for codes in statuses.values())
        assert await update_ids(handle) == [accepted_id]
        assert await step_status(handle, OTHER_CE_STEP.key) is StepStatus.PENDING

        refusals = [entry for entry in logs if entry["event"] == "slack request refused"]
        assert len(refusals) == 3 * TRIES
        reasons = {entry["reason"].split(":")[0] for entry in refusals}
        assert reasons == {"bad signature", "stale", "replayed"}
        assert all(MARKER not in repr(entry) for entry in logs)


def test_the_replay_memory_forgets_after_the_window_and_is_bounded() -> None:
    clock = [1_000_000.0]
    guard = RequestGuard("secret", clock=lambda: clock[0], max_remembered=2)
    first = sign("a=1", int(clock[0]), secret="secret")
    assert guard.refusal("a=1", first) is None
    assert guard.refusal("a=1", first) == (
        "replayed: this timestamp and signature were already accepted"
    )
    second, third = (sign(body, int(clock[0]), secret="secret") for body in ("a=2", "a=3"))
    assert guard.refusal("a=2", second) is None
    # Full of live entries: a new request is refused, no live one forgotten.
    assert guard.refusal("a=3", third) == "too many requests in five minutes to remember them all"
    assert guard.refusal("a=1", first) is not None
    clock[0] += 301  # the window has passed: the timestamp is stale now, the memory free
    assert guard.refusal("a=1", first) is not None and "stale" in str(guard.refusal("a=1", first))
    fresh = sign("a=3", int(clock[0]), secret="secret")
    assert guard.refusal("a=3", fresh) is None
    assert guard.refusal("", {}) == "unsigned: no X-Slack-Signature or X-Slack-Request-Timestamp"


async def test_a_body_that_is_not_utf8_is_refused_like_any_forgery(
    harness_factory: Any, test_settings: Any
) -> None:
    # Anyone can post bytes that are not UTF-8: reading the body as text failed before the
    # signature was checked, a 500 and an aiohttp traceback instead of a logged refusal.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        async with served_app(harness.client, harness.settings) as app:
            headers = {
                **sign("payload=x", int(time.time())),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            with capture_logs() as logs:
                async with app.session.post(
                    app.url, data=b"payload=\xff\xfe", headers=headers
                ) as response:
                    status = response.status

        assert status == 401
        [refusal] = [entry for entry in logs if entry["event"] == "slack request refused"]
        assert refusal["reason"] == "bad signature"
