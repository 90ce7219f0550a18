"""The worker's payload converter: JSON as it came, for the input checks to judge.

The SDK's default turns JSON ``true`` into the int 1 and ``2.5`` into 2 when a field is an
``int`` (and ``true`` into 1.0 for a ``float``), so `temporal workflow update ... {"days": true}`
would extend a trial by a day. Here such values are kept as they came; ``schemas.limits`` then
refuses them with the field's name and limit. Everything else converts as by default.

``data_converter_for(settings)`` adds the payload codec (``dealcycle.codec``) when it is on.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import temporalio.converter
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
)

from dealcycle.query_failures import QueryRefused

if TYPE_CHECKING:
    from dealcycle.codec import CodecSettings
    from dealcycle.settings import Settings


class KeepNonIntegers(JSONTypeConverter):
    def to_typed_value(self, hint: type, value: Any) -> Any:
        if hint is int and isinstance(value, (bool, float)):
            return value
        if hint is float and isinstance(value, bool):
            return value
        return JSONTypeConverter.Unhandled


class PayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(custom_type_converters=[KeepNonIntegers()])
                if isinstance(converter, JSONPlainPayloadConverter)
                else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = dataclasses.replace(
    DataConverter.default, payload_converter_class=PayloadConverter
)


class EncodedFailureAttributes(DefaultFailureConverterWithEncodedAttributes):
    """Messages and stack traces encoded, except a refused query's (``dealcycle.query_failures``:
    never kept in a history, and the client would get no message at all)."""

    def __init__(self) -> None:
        super().__init__()
        self._plain = DefaultFailureConverter()

    def to_failure(
        self,
        exception: BaseException,
        payload_converter: temporalio.converter.PayloadConverter,
        failure: Failure,
    ) -> None:
        if isinstance(exception, QueryRefused):
            self._plain.to_failure(exception, payload_converter, failure)
            failure.stack_trace = ""
            return
        super().to_failure(exception, payload_converter, failure)


def with_data_converter(client: Client, data_converter: DataConverter) -> Client:
    """``client`` (same connection) converting payloads with ``data_converter``."""
    config = client.config()
    config["data_converter"] = data_converter
    return Client(**config)


def data_converter_for(settings: Settings) -> DataConverter:
    """The data converter every client of ``settings`` uses (worker, CLI, Slack app, tests)."""
    return data_converter_with(settings.codec)


def data_converter_with(codec_settings: CodecSettings) -> DataConverter:
    """Our payload converter, with the payload codec when keys are given.

    With the codec on (``DEALCYCLE_CODEC``), payloads are encrypted and failure messages and
    stack traces travel as an encoded payload too: a rule violation's message can quote what a
    person typed. With keys but the codec off, encrypted payloads are still read, so turning
    the codec off leaves the histories written while it was on readable.
    """
    codec = codec_settings.payload_codec()
    if codec is None:
        return DATA_CONVERTER
    return dataclasses.replace(
        DATA_CONVERTER,
        payload_codec=codec,
        failure_converter_class=(
            EncodedFailureAttributes if codec_settings.enabled else DefaultFailureConverter
        ),
    )
