"""A worker whose codec keys cannot read the workflows running on its task queue refuses to
start, naming the key it lacks; with that key among its keys it starts (real dev server)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import replace

import pytest
from temporalio.client import Client

from dealcycle.codec import CodecSettings
from dealcycle.codec_readiness import unreadable_workflows
from dealcycle.settings import Settings, SettingsError
from schemas.trial import TrialInput, TrialStart
from tests.support.codec import TEST_CODEC_ENV
from tests.support.dev_temporal import dev_client
from worker import require_readable_workflows
from workflows.trial import TrialWorkflow

__all__ = ["dev_client"]  # the dev-server fixture, shared

OTHER_KEY = "k-other=" + base64.b64encode(b"o" * 32).decode()
TEST_KEY = TEST_CODEC_ENV["DEALCYCLE_CODEC_KEYS"]


def with_keys(settings: Settings, queue: str, keys: str) -> Settings:
    codec = CodecSettings.from_env(
        {"DEALCYCLE_CODEC": "on", "DEALCYCLE_CODEC_KEYS": keys} if keys else {}
    )
    return replace(settings, task_queue=queue, codec=codec)


async def test_a_worker_without_the_running_workflows_key_refuses_to_start(
    dev_client: Client, test_settings: Settings
) -> None:
    queue = f"tq-{uuid.uuid4()}"
    # Started encrypted with the suite's key, on a queue no worker polls yet.
    handle = await dev_client.start_workflow(
        TrialWorkflow.run,
        TrialInput(start=TrialStart("006KEYS", "001KEYS", "Keys Inc", "U0CE00001", "U0AE00001")),
        id=f"trial-006KEYS-{queue}",
        task_queue=queue,
    )
    try:
        wrong = with_keys(test_settings, queue, OTHER_KEY)
        for _ in range(100):  # until visibility lists the workflow
            if await unreadable_workflows(dev_client, queue, frozenset({"k-other"})):
                break
            await asyncio.sleep(0.1)
        with pytest.raises(SettingsError) as refused:
            await require_readable_workflows(dev_client, wrong)
        message = str(refused.value)
        assert handle.id in message and "key id(s) test-key-1" in message
        assert "its keys are k-other" in message and "DEALCYCLE_CODEC_KEYS" in message

        # Codec off: the encrypted workflow cannot be read either.
        with pytest.raises(SettingsError, match="its keys are none: the codec is off"):
            await require_readable_workflows(dev_client, with_keys(test_settings, queue, ""))

        # The old key after the new one: it reads them, and starts.
        rotated = with_keys(test_settings, queue, f"{OTHER_KEY},{TEST_KEY}")
        await require_readable_workflows(dev_client, rotated)
    finally:
        await handle.terminate("test finished")
