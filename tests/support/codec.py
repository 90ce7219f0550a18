"""The payload key the test suite encrypts with: every Temporal test runs with the codec on,
so a payload the codec mishandles fails the test that writes it."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure

from dealcycle.codec import ENCODING, CodecSettings, EncryptionCodec
from dealcycle.codec_server import build_codec_app
from dealcycle.devtools.devserver import free_port
from dealcycle.payloads import data_converter_with

# A fixed key, so a history fetched in one test can be read with the same settings in another.
TEST_CODEC_ENV = {
    "DEALCYCLE_CODEC": "on",
    "DEALCYCLE_CODEC_KEYS": "test-key-1=dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdCE=",
}
TEST_CODEC = CodecSettings.from_env(TEST_CODEC_ENV)
TEST_DATA_CONVERTER = data_converter_with(TEST_CODEC)
TEST_PAYLOAD_CODEC = EncryptionCodec(TEST_CODEC.keys())


async def plain_payloads(payloads: Sequence[Payload]) -> list[Payload]:
    """``payloads`` as a history holds them, decrypted: the JSON the workflow was given."""
    return await TEST_PAYLOAD_CODEC.decode(payloads)


async def failure_message(failure: Failure) -> str:
    """The message of a failure in a history (the codec moves it into encoded attributes)."""
    copy = Failure()
    copy.CopyFrom(failure)
    return str(await TEST_DATA_CONVERTER.decode_failure(copy))


ENCRYPTED = base64.b64encode(ENCODING).decode()
"""The ``encoding`` of an encrypted payload in a history's JSON (metadata values are base64)."""
NEVER_ENCRYPTED = re.compile(
    r"\.(searchAttributes\.indexedFields\.\w+"
    r"|markerRecordedEventAttributes\.details\.patch-data\.payloads\[\d+\])$"
)
"""Where a history keeps payloads the codec never sees: search attributes (the server indexes
them) and the SDK core's own patch markers (a patch id, no customer text)."""
LOCAL_ACTIVITY_METADATA = re.compile(
    r"\.markerRecordedEventAttributes\.details\.data\.payloads\[\d+\]$"
)
LOCAL_ACTIVITY_METADATA_FIELDS = {
    "seq",
    "attempt",
    "activity_id",
    "activity_type",
    "complete_time",
    "backoff",
    "original_schedule_time",
    "activation_index",
}
"""The SDK core's own record of a local activity (its result, under ``result``, is encrypted)."""


def _never_encrypted(path: str, payload: dict[str, Any]) -> bool:
    if NEVER_ENCRYPTED.search(path):
        return True
    if not LOCAL_ACTIVITY_METADATA.search(path):
        return False
    fields = json.loads(base64.b64decode(payload.get("data", "")))
    return isinstance(fields, dict) and set(fields) <= LOCAL_ACTIVITY_METADATA_FIELDS


def payloads_in(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every payload (``{"metadata": {"encoding": ...}, "data": ...}``) in a history's JSON (as
    ``WorkflowHistory.to_json_dict`` and ``temporal workflow show --output json`` write it),
    with its path."""
    if isinstance(node, dict):
        metadata = node.get("metadata")
        if isinstance(metadata, dict) and "encoding" in metadata:
            yield path, node
            return
        for key, value in node.items():
            yield from payloads_in(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from payloads_in(value, f"{path}[{index}]")


def plain_payload_paths(events: Any) -> list[str]:
    """Paths of the payloads in ``events`` that are not encrypted but should be."""
    return [
        path
        for path, payload in payloads_in(events)
        if payload["metadata"]["encoding"] != ENCRYPTED and not _never_encrypted(path, payload)
    ]


def readable_text(events: Any) -> str:
    """Everything someone without the key reads in ``events``: the JSON itself and the data of
    each payload, base64-decoded (a plain JSON payload hides its text only from ``grep``)."""
    decoded = [
        base64.b64decode(payload.get("data", "")).decode("utf-8", "replace")
        for _, payload in payloads_in(events)
    ]
    return "\n".join([json.dumps(events, ensure_ascii=False), *decoded])


@asynccontextmanager
async def running_codec_server(
    *,
    codec: EncryptionCodec = TEST_PAYLOAD_CODEC,
    token: str | None = None,
    cors_origins: Sequence[str] = ("http://localhost:8233",),
) -> AsyncIterator[str]:
    """A codec server in this process on a free loopback port (its URL): for a Web UI started
    with ``running_dev_server(ui_codec_endpoint=...)``, put the UI's origin in ``cors_origins``.
    """
    runner = web.AppRunner(build_codec_app(codec, token=token, cors_origins=cors_origins))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
