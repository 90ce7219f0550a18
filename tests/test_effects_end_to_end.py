"""A refused write, as a person meets it: the real dev server, the worker as a subprocess, the
CLI. The account keeps running; ``dealcycle status`` shows the failed effect and why;
``NeedsAttention = true`` finds it; one post in the operations channel names it; once the
cause is fixed, ``dealcycle effects retry`` lands the write exactly once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.support.codec import TEST_DATA_CONVERTER
from tests.test_end_to_end import _wait, cli, e2e_env, e2e_server, worker_process

pytestmark = pytest.mark.e2e
__all__ = ["e2e_env", "worker_process"]  # the end-to-end fixtures, shared

CE, AE, OPERATOR = "U0CE00019", "U0AE00019", "U0OPS0019"
ACCOUNTS, OPS = "#customer-accounts", "#dealcycle-ops"
INVALID_FIELD = [{"errorCode": "INVALID_FIELD", "message": "No such column 'Tier__c' on Account"}]


def start_account(env: dict[str, str], account_id: str, salesforce_fake: Any) -> None:
    salesforce_fake.add_record("Account", {"Id": account_id, "Name": f"Acme {account_id}"})
    renewal = (datetime.now(UTC) + timedelta(days=300)).date().isoformat()
    started = cli(
        env, "account", "start", account_id, "--name", f"Acme {account_id}", "--tier", "1",
        "--renewal-date", renewal, "--seats", "50", "--ae", AE, "--ce", CE,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr


def posts(slack_fake: Any, channel: str, account_id: str) -> list[str]:
    return [m.text for m in slack_fake.messages_in(channel) if account_id in m.text]


async def needing_attention(client: Client) -> set[str]:
    return {listed.id async for listed in client.list_workflows("NeedsAttention = true")}


async def attention_on(client: Client, workflow_id: str) -> bool:
    return workflow_id in await needing_attention(client)


async def eventually(check: Any, within: float = 60) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.3)
    return False


def failed_then_retried(
    env: dict[str, str], workflow_id: str, effect: str, why: str, fix: Any, landed: Any
) -> None:
    """The effect shows failed with ``why``; after ``fix()`` a retry makes ``landed()`` true."""
    assert _wait(lambda: why in cli(env, "status", workflow_id).stdout, timeout=60)
    status = cli(env, "status", workflow_id)
    assert status.returncode == 0, status.stderr
    assert "RUNNING" in status.stdout.splitlines()[0]
    assert "Failed effects" in status.stdout and effect in status.stdout
    listed = cli(env, "effects", "list")
    assert workflow_id in listed.stdout and effect in listed.stdout, listed.stdout
    fix()
    retried = cli(env, "effects", "retry", workflow_id, effect, "--by", OPERATOR)
    assert retried.returncode == 0, retried.stderr
    assert _wait(landed, timeout=60)
    assert _wait(lambda: "Failed effects" not in cli(env, "status", workflow_id).stdout)
    again = cli(env, "effects", "retry", workflow_id, effect, "--by", OPERATOR)
    assert again.returncode == 1 and "rejected: effect" in again.stderr


async def test_refused_writes_are_surfaced_and_a_retry_lands_them_once(
    tmp_path: Path,
    e2e_env: dict[str, str],
    worker_process: Any,
    salesforce_fake: Any,
    slack_fake: Any,
) -> None:
    async with e2e_server(tmp_path, e2e_env) as server:
        worker_process()
        client = await Client.connect(server.target, data_converter=TEST_DATA_CONVERTER)

        # An archived channel: the new-customer announcement fails, the account runs on.
        slack_fake.archive_channel(ACCOUNTS)
        start_account(e2e_env, "001ARCH", salesforce_fake)
        failed_then_retried(
            e2e_env,
            "account-001ARCH",
            "kickoff/announcement",
            "is_archived",
            lambda: slack_fake.unarchive_channel(ACCOUNTS),
            lambda: len(posts(slack_fake, ACCOUNTS, "001ARCH")) == 1,
        )
        ops = posts(slack_fake, OPS, "account-001ARCH")
        assert len(ops) == 1 and "kickoff/announcement" in ops[0] and "is_archived" in ops[0]
        assert len(posts(slack_fake, ACCOUNTS, "001ARCH")) == 1

        # An invalid field: the profile sync to Salesforce fails.
        salesforce_fake.fail_next("PATCH", r"/sobjects/Account/001FIELD", 400, INVALID_FIELD)
        start_account(e2e_env, "001FIELD", salesforce_fake)
        failed_then_retried(
            e2e_env,
            "account-001FIELD",
            "profile/1",
            "INVALID_FIELD",
            lambda: None,
            lambda: salesforce_fake.get_record("Account", "001FIELD").get("Tier__c") == "1",
        )
        assert "account-001FIELD" not in await needing_attention(client)

        # Revoked credentials, then a message Slack refuses as too long.
        for account_id, error in (("001AUTH", "invalid_auth"), ("001LONG", "msg_too_long")):
            slack_fake.fail_next(
                "POST", r"chat\.postMessage", 200, {"ok": False, "error": error}, count=1
            )
            start_account(e2e_env, account_id, salesforce_fake)
            assert await eventually(
                lambda wid=f"account-{account_id}": attention_on(client, wid)  # type: ignore[misc]
            )
            view = cli(e2e_env, "status", f"account-{account_id}").stdout
            failed = [line for line in view.splitlines() if line.strip().startswith("✗")]
            assert len(failed) == 1, view
            effect = failed[0].split()[1]
            before = len(slack_fake.messages)
            failed_then_retried(
                e2e_env,
                f"account-{account_id}",
                effect,
                error,
                lambda: None,
                lambda before=before: len(slack_fake.messages) > before,
            )

        # Nothing failed for good is left, and no workflow failed.
        assert await needing_attention(client) == set()
        for account_id in ("001ARCH", "001FIELD", "001AUTH", "001LONG"):
            described = await client.get_workflow_handle(f"account-{account_id}").describe()
            assert described.status is not None and described.status.name == "RUNNING"
