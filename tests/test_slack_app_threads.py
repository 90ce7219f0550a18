"""Red-account threads through the Slack app over HTTP: a reply of the case's AE in its
``#red-accounts`` thread becomes an ask on the case (who, when, text); a bot's reply, a reply
in another thread and a stranger's reply record nothing (the stranger is told who may)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowHandle

from activities.red_accounts import get_red_account_case
from dealcycle.db.engine import make_engine
from dealcycle.fakes.slack import BOT_USER_ID
from dealcycle.fakes.slack_chat import permalink
from schemas.common import Role
from schemas.health import RecordAsk, RedAccountState, SetHealth
from starter.provenance import SLACK_VIA
from starter.slack.threads import ThreadCase
from tests.support.accounts import AE, CE, settle
from tests.support.slack_app import (
    eventually,
    served_app,
    sign,
    update_ids,
    with_signing_secret,
)
from tests.test_red_account_rules import HOUR, T0, posted_snapshot
from tests.test_red_account_workflow import case_handle, finished, open_account
from tests.test_slack_app_buttons import STRANGER, answers_to, ephemerals_to
from workflows import red_account_rules as rules
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow

_events = 0


def message_event(
    user: str, channel: str, thread_ts: str, text: str, ts: str = "", **extra: Any
) -> str:
    """An Events API ``event_callback`` for a message in a thread, as Slack posts it."""
    global _events
    _events += 1
    ts = ts or f"{int(datetime.now(UTC).timestamp())}.{_events:06d}"
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "parent_user_id": "U0DEALBOT",
        "channel_type": "channel",
        "event_ts": ts,
        **extra,
    }
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": "T0DEALCYC",
            "api_app_id": "A0DEALCYC",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{_events:08d}",
            "event_time": int(datetime.now(UTC).timestamp()),
        }
    )


async def red_case_thread(
    harness: Any, salesforce_fake: Any, slack_fake: Any, account_id: str, account: Any = None
) -> tuple[WorkflowHandle[Any, Any], str, str]:
    """A red case of a new account (or of ``account``, started already): its handle, and its
    #red-accounts post's channel and ts."""
    account = account or await open_account(harness, salesforce_fake, account_id)
    await account.execute_update(
        AccountWorkflow.set_health, SetHealth("red", CE, Role.CE, "champion left")
    )
    case = await case_handle(harness, account, 1)
    tracked = get_red_account_case(make_engine(harness.settings.database_url), case.id)
    assert tracked is not None and tracked.slack_ts
    return case, slack_fake.channel_id("#red-accounts"), tracked.slack_ts


async def ae_told(app: Any, slack_fake: Any, reply: str) -> str:
    """The one ephemeral answer the AE gets to ``reply`` (an event) delivered to the app."""
    assert await app.deliver(reply, json_body=True) == 200

    async def told() -> list[str] | None:
        return ephemerals_to(slack_fake, AE) or None

    [answer] = await eventually(told)
    return answer


async def test_a_reply_in_a_red_cases_thread_is_an_ask_on_the_case(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREAD"
        )
        async with served_app(harness.client, harness.settings) as app:
            ignored = [
                message_event(AE, channel, thread, "from a bot", bot_id="B0OTHER"),
                message_event(AE, channel, thread, "joined", subtype="channel_join"),
                message_event(AE, channel, "1.000001", "another thread"),
            ]
            for body in ignored:
                assert await app.deliver(body, json_body=True) == 200
            reply = slack_fake.add_user_message(
                "#red-accounts", AE, "We need an exec sponsor call this week", thread_ts=thread
            )
            asked = message_event(AE, channel, thread, reply.text, ts=reply.ts)
            assert await app.deliver(asked, json_body=True) == 200
            # Slack repeats an event it saw no answer to: recorded once.
            assert await app.deliver(asked, json_body=True, age=1) == 200
            stranger = message_event(STRANGER, channel, thread, "me too")
            assert await app.deliver(stranger, json_body=True) == 200

            async def recorded() -> RedAccountState | None:
                view: RedAccountState = await case.query(RedAccountWorkflow.state)
                return view if view.asks and ephemerals_to(slack_fake, STRANGER) else None

            view = await eventually(recorded)

        [ask] = view.asks
        assert (ask.actor, ask.text) == (AE, "We need an exec sponsor call this week")
        assert ask.via == SLACK_VIA  # as every other action sent by the app
        sent = json.loads(asked)["event"]["ts"]
        assert ask.at == datetime.fromtimestamp(float(sent), UTC)
        assert ask.permalink == permalink(channel, reply.ts, thread)
        await settle(case)
        # The ask is in the thread already (it is the reply): the case does not post it again.
        assert not [m for m in slack_fake.replies_to("#red-accounts", thread) if "Ask #" in m.text]
        assert len(await update_ids(case)) == 1
        assert ephemerals_to(slack_fake, STRANGER) == [
            f"not recorded as an ask: only <@{AE}> (AE) or <@{CE}> (CE) of"
            f" {view.account_name} record asks on this case"
        ]


def test_an_ask_from_the_thread_keeps_its_time_and_link_and_is_not_posted_again() -> None:
    s = posted_snapshot()
    link = "https://dealcycle.slack.com/archives/C0RED/p1796592393000100"
    asked_at = T0 - HOUR
    message = rules.apply_ask(
        s, RecordAsk(AE, Role.AE, "a sponsor", at=asked_at, permalink=link), T0
    )
    rules.apply_ask(s, RecordAsk(CE, Role.CE, "SSO on the roadmap"), T0 + HOUR)
    assert message == "ask #1 recorded from the case's thread"
    assert [(a.number, a.at, a.posted, a.permalink) for a in s.asks] == [
        (1, asked_at, True, link),
        (2, T0 + HOUR, False, ""),
    ]


async def test_a_reply_also_sent_to_the_channel_or_with_a_file_is_an_ask_too(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    # Slack marks a reply ticked "Also send to #red-accounts" as subtype thread_broadcast, and
    # one carrying a file as file_share: both are a person's words in the case's thread, and
    # were dropped without a word with the edits and joins.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREADSUB"
        )
        async with served_app(harness.client, harness.settings) as app:
            broadcast = message_event(
                AE, channel, thread, "exec sponsor call", subtype="thread_broadcast"
            )
            with_file = message_event(
                CE, channel, thread, "usage export attached", subtype="file_share"
            )
            for body in (broadcast, with_file):
                assert await app.deliver(body, json_body=True) == 200

            async def recorded() -> RedAccountState | None:
                view: RedAccountState = await case.query(RedAccountWorkflow.state)
                return view if len(view.asks) == 2 else None

            view = await eventually(recorded)

        assert sorted((ask.actor, ask.text) for ask in view.asks) == sorted(
            [(AE, "exec sponsor call"), (CE, "usage export attached")]
        )


async def test_an_ask_the_case_cannot_take_is_told_to_its_author(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    # The Tracker still lists the case as open while its workflow has ended (terminated by
    # an operator): the AE's reply was dropped with an error in the log, and the AE, who
    # had asked, was told nothing.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREADGONE"
        )
        await case.terminate("by an operator")
        async with served_app(harness.client, harness.settings) as app:
            answer = await ae_told(
                app, slack_fake, message_event(AE, channel, thread, "exec sponsor call")
            )

        assert answer == (
            f"not recorded as an ask: {case.id} is terminated; it accepts no more actions"
        )


async def test_a_reply_in_a_resolved_cases_thread_is_told_the_case_is_closed(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    # The case resolved (green again) and the Tracker closed it: the AE's reply in its
    # thread was dropped without a word, as if it had been recorded.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        account = await open_account(harness, salesforce_fake, "001THREADDONE")
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREADDONE", account
        )
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("green", CE, Role.CE, "exec sponsor found")
        )
        assert (await finished(case)).resolved_colour == "green"
        tracked = get_red_account_case(make_engine(harness.settings.database_url), case.id)
        assert tracked is not None and tracked.status == "closed"
        async with served_app(harness.client, harness.settings) as app:
            answer = await ae_told(
                app, slack_fake, message_event(AE, channel, thread, "one more thing")
            )

        assert answer == f"not recorded as an ask: case {case.id} is closed (resolved, green)"
        assert (await case.query(RedAccountWorkflow.state)).asks == []


def test_a_closed_case_says_whether_it_resolved_or_the_customer_churned() -> None:
    assert ThreadCase("red-account-1", "open", None).closed_answer() is None
    assert ThreadCase("red-account-1", "closed", "yellow").closed_answer() == (
        "not recorded as an ask: case red-account-1 is closed (resolved, yellow)"
    )
    assert ThreadCase("red-account-1", "closed", "red").closed_answer() == (
        "not recorded as an ask: case red-account-1 is closed (the customer churned)"
    )


async def test_an_event_slack_delivers_again_is_handled_once(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    # Slack retries an event it saw no answer to in time (X-Slack-Retry-Num, the same
    # event_id): the ask was recorded once by its update id, but the stranger was told twice.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREADAGAIN"
        )
        async with served_app(harness.client, harness.settings) as app:
            stranger = message_event(STRANGER, channel, thread, "me too")
            for retry in range(3):
                headers = sign(stranger, int(time.time()) - retry)
                if retry:
                    headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"}
                assert await app.post(stranger, headers, json_body=True) == 200
            then = message_event(STRANGER, channel, thread, "and me")
            assert await app.deliver(then, json_body=True) == 200

            async def both() -> list[str] | None:
                told = ephemerals_to(slack_fake, STRANGER)
                return told if len(told) >= 2 else None

            await eventually(both)
            await asyncio.sleep(0.5)  # a third answer would be there by now

        assert len(ephemerals_to(slack_fake, STRANGER)) == 2  # once for each reply
        assert (await case.query(RedAccountWorkflow.state)).asks == []


async def test_a_reply_whose_case_cannot_be_looked_up_is_told_so(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    # The Account Tracker is not answering (the database is down): the AE's reply in the
    # case's thread failed the listener with an error in the log, and the AE, who had asked,
    # was told nothing. A reply in a thread of someone else's message is not answered.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREADNODB"
        )
        down = replace(harness.settings, database_url="postgresql://dc:dc@127.0.0.1:1/dealcycle")
        async with served_app(harness.client, down) as app:
            elsewhere = message_event(STRANGER, channel, "1.000001", "hi", parent_user_id=AE)
            assert await app.deliver(elsewhere, json_body=True) == 200
            reply = message_event(AE, channel, thread, "exec call", parent_user_id=BOT_USER_ID)
            answer = await ae_told(app, slack_fake, reply)

        assert answer == (
            "not recorded as an ask: dealcycle could not look up this thread's case"
            " (its database is not answering); send it again later"
        )
        assert ephemerals_to(slack_fake, STRANGER) == []
        assert (await case.query(RedAccountWorkflow.state)).asks == []


async def test_a_strangers_answer_slack_rate_limits_for_long_is_still_sent(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, test_settings: Any
) -> None:
    # The app's client does not wait out a long Retry-After (a click answers through its
    # response_url instead); a thread reply's author has no other way to be told, so the
    # answer waits for Slack.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        case, channel, thread = await red_case_thread(
            harness, salesforce_fake, slack_fake, "001THREADLIMIT"
        )
        async with served_app(harness.client, harness.settings) as app:
            slack_fake.rate_limit_next(retry_after=3, api_method="chat.postEphemeral")
            stranger = message_event(STRANGER, channel, thread, "me too")
            assert await app.deliver(stranger, json_body=True) == 200

            [answer] = await answers_to(slack_fake, STRANGER)

        assert answer.startswith("not recorded as an ask: only")
        assert (await case.query(RedAccountWorkflow.state)).asks == []
