"""The worker's payload converter: JSON as it came, for the input checks to judge.

The SDK's default turns JSON ``true`` into the int 1 and ``2.5`` into 2 when a field is an
``int`` (and ``true`` into 1.0 for a ``float``), so `temporal workflow update ... {"days": true}`
would extend a trial by a day. Here such values are kept as they came; ``schemas.limits`` then
refuses them with the field's name and limit. Everything else converts as by default.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from temporalio.client import Client
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
)

if TYPE_CHECKING:
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


def with_payload_converter(client: Client) -> Client:
    """``client`` (same connection) converting payloads as above."""
    config = client.config()
    config["data_converter"] = DATA_CONVERTER
    return Client(**config)


def data_converter_for(settings: Settings) -> DataConverter:
    """The data converter every client of ``settings`` uses (worker, CLI, Slack app, tests)."""
    del settings  # the payload codec (issue 13) is chosen from the settings
    return DATA_CONVERTER
