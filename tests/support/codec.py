"""The payload key the test suite encrypts with: every Temporal test runs with the codec on,
so a payload the codec mishandles fails the test that writes it."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure

from dealcycle.codec import CodecSettings, EncryptionCodec
from dealcycle.payloads import data_converter_with

# A fixed key, so a history fetched in one test can be read with the same settings in another.
TEST_CODEC_ENV = {
    "DEALCYCLE_CODEC": "on",
    "DEALCYCLE_CODEC_KEYS": "test-key-1=dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdCE=",
}
TEST_CODEC = CodecSettings.from_env(TEST_CODEC_ENV)
TEST_DATA_CONVERTER = data_converter_with(TEST_CODEC)
TEST_PAYLOAD_CODEC = EncryptionCodec(TEST_CODEC.keys)


async def plain_payloads(payloads: Sequence[Payload]) -> list[Payload]:
    """``payloads`` as a history holds them, decrypted: the JSON the workflow was given."""
    return await TEST_PAYLOAD_CODEC.decode(payloads)


async def failure_message(failure: Failure) -> str:
    """The message of a failure in a history (the codec moves it into encoded attributes)."""
    copy = Failure()
    copy.CopyFrom(failure)
    return str(await TEST_DATA_CONVERTER.decode_failure(copy))
