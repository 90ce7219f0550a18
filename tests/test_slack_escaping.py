"""Text people type reaches Slack escaped: ``<!channel>`` in a reason, a title or a plan
pings nobody and ``<https://…|link>`` links nowhere, while the app's own ``<@U…>`` mentions
still mention. The workflows run on the time-skipping test server with the real Slack
activity against the Slack fake, which records what was posted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.account import RecordFeatureRequest
from schemas.account_changes import ReassignOwner
from schemas.common import Role
from schemas.health import RecordActionPlan, RecordAsk, SetHealth
from tests.support.accounts import AE, CE, CE_LEADER, settle
from tests.test_red_account_workflow import CHANNEL, case_handle, effects_done, open_account
from workflows.account import AccountWorkflow
from workflows.mrkdwn import escape, unescape
from workflows.red_account import RedAccountWorkflow
from workflows.slack_blocks import closed_text, done_text
from workflows.summaries import first_sentence

NEW_CE = "U0CE00002"
TYPED = "<!channel> exec sponsor gone <@U123> & <https://x.example|link>"
SHOWN = "&lt;!channel&gt; exec sponsor gone &lt;@U123&gt; &amp; &lt;https://x.example|link&gt;"


def texts(slack_fake: Any, channel: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(channel)]


async def red_case(harness: Any, salesforce_fake: Any, account_id: str, why: str) -> Any:
    """A new account set red by its AE for ``why``, and its case once started."""
    account = await open_account(harness, salesforce_fake, account_id)
    await account.execute_update(AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, why))
    return account, await case_handle(harness, account, 1)


def test_escape_turns_slacks_control_characters_into_entities() -> None:
    assert escape(TYPED) == SHOWN
    assert escape("<!here> <!everyone> <b>html</b> R&D") == (
        "&lt;!here&gt; &lt;!everyone&gt; &lt;b&gt;html&lt;/b&gt; R&amp;D"
    )
    assert escape("") == ""


def test_escape_twice_is_escape_once() -> None:
    # A thread reply arrives from Slack already escaped; a retried path may escape again.
    assert escape(escape(TYPED)) == SHOWN
    assert escape("&lt;!channel&gt; R&amp;D") == "&lt;!channel&gt; R&amp;D"
    assert unescape(SHOWN) == TYPED


def test_summaries_read_escaped_text_as_it_was_typed() -> None:
    post = f"Ask #1 (<@{AE}>): {escape('<!channel> budget & headcount')}. More."
    assert first_sentence(post) == f"Ask #1 (@{AE}): <!channel> budget & headcount."


def test_a_closed_steps_message_escapes_its_title_and_note() -> None:
    at = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    done = done_text("QBR <!here>", "Acme (001)", AE, at)
    assert done.startswith(f"✅ QBR &lt;!here&gt; for Acme (001): done by <@{AE}> at <!date^")
    closed = closed_text("QBR", "Acme (001)", "moved <!channel> & dropped")
    assert closed == "☑️ QBR for Acme (001): closed (moved &lt;!channel&gt; &amp; dropped)"


async def test_the_red_account_post_escapes_the_health_reason(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        _, case = await red_case(harness, salesforce_fake, "001ESCRED", TYPED)
        await effects_done(case)
        [post] = texts(slack_fake, CHANNEL)
        assert f"Why: {SHOWN}." in post
        assert "<!channel>" not in post and "<@U123>" not in post
        assert f"AE <@{AE}>, CE <@{CE}>." in post  # the app's own mentions still mention


async def test_the_action_plan_and_asks_in_the_case_thread_are_escaped(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        _, case = await red_case(harness, salesforce_fake, "001ESCPLAN", "champion left")
        await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(
                AE, Role.AE, "<!channel> at risk", "<!everyone> & budget", "<b>html</b>"
            ),
        )
        await case.execute_update(
            RedAccountWorkflow.record_ask, RecordAsk(CE, Role.CE, "<!here> exec sponsor & VP")
        )
        await effects_done(case)
        [plan] = [text for text in texts(slack_fake, CHANNEL) if text.startswith("Action plan")]
        assert plan == (
            f"Action plan from the AE <@{AE}>. Status: &lt;!channel&gt; at risk"
            " Needs: &lt;!everyone&gt; &amp; budget Intended actions: &lt;b&gt;html&lt;/b&gt;"
        )
        [ask] = [text for text in texts(slack_fake, CHANNEL) if text.startswith("Ask #1")]
        assert ask == f"Ask #1 (<@{CE}>): &lt;!here&gt; exec sponsor &amp; VP"


async def test_the_feature_request_post_escapes_its_title_and_detail(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001ESCFR")
        await account.execute_update(
            AccountWorkflow.record_feature_request,
            RecordFeatureRequest(
                "<!channel> SSO & SCIM", CE, Role.CE, detail="<!here> see <https://x.example|link>"
            ),
        )
        await settle(account)
        [post] = texts(slack_fake, "#product-feedback")
        assert post.endswith(
            f"via <@{CE}>: &lt;!channel&gt; SSO &amp; SCIM."
            " &lt;!here&gt; see &lt;https://x.example|link&gt;"
        )


async def test_a_reassignments_reason_is_escaped_in_the_notices_and_the_case_thread(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account, case = await red_case(harness, salesforce_fake, "001ESCMOVE", "champion left")
        await account.execute_update(
            AccountWorkflow.reassign_owner,
            ReassignOwner(Role.CE, NEW_CE, CE_LEADER, "<!channel> territories & quotas"),
        )
        await settle(account)
        await effects_done(case)
        [told] = [text for text in texts(slack_fake, NEW_CE) if "now the CE" in text]
        assert f"(by <@{CE_LEADER}>: &lt;!channel&gt; territories &amp; quotas)." in told
        [note] = [text for text in texts(slack_fake, CHANNEL) if "is now the CE" in text]
        assert note.startswith(f"<@{NEW_CE}> is now the CE of ")
        assert "(&lt;!channel&gt; territories &amp; quotas)." in note
