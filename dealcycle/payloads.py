"""The worker's payload converter: JSON as it came, for the input checks to judge; compact.

The SDK's default turns JSON ``true`` into the int 1 and ``2.5`` into 2 when a field is an
``int`` (and ``true`` into 1.0 for a ``float``), so `temporal workflow update ... {"days": true}`
would extend a trial by a day. Here such values are kept as they came; ``schemas.limits`` then
refuses them with the field's name and limit. Everything else converts as by default.

Two things the SDK's JSON converter does on every payload are done once per dataclass here,
because every history event of every workflow pays for them (``bench.full_scale``):

- a dataclass is written without the fields that hold an empty default (``None``, ``""``,
  ``0``, ``False``, ``[]``, ``{}``): a carried snapshot or a done effect is mostly such.
  Reading fills them back in (the SDK's decoding leaves a missing field to the dataclass), and
  payloads written in full before read as they always did. So an existing field's empty
  default is part of the payload format: it must never change (docs/changing-workflows.md);
  a field with any other default is always written;
- a dataclass is read with its fields' type hints resolved once per class, not per payload.

``data_converter_for(settings)`` adds the payload codec (``dealcycle.codec``) when it is on.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_type_hints

import temporalio.converter
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)

from dealcycle.query_failures import QueryRefused

if TYPE_CHECKING:
    from dealcycle.codec import CodecSettings
    from dealcycle.settings import Settings


_NO_DEFAULT = object()


@dataclasses.dataclass(frozen=True)
class _ReadShape:
    """What reading a dataclass needs, worked out once per class."""

    hints: tuple[tuple[str, Any], ...]
    """Each field's name and type hint."""
    init: frozenset[str]


# Weak: under the strict sandbox (tests, tools) every workflow run has its own copies of our
# classes, which must not live on here. A race only works the same thing out twice.
_EMPTY_DEFAULTS: weakref.WeakKeyDictionary[type, tuple[tuple[str, Any], ...]] = (
    weakref.WeakKeyDictionary()
)
_READ_SHAPES: weakref.WeakKeyDictionary[type, _ReadShape] = weakref.WeakKeyDictionary()


def _empty_defaults(cls: type) -> tuple[tuple[str, Any], ...]:
    """Each field's name and its default when that is empty, else ``_NO_DEFAULT``. Writing
    needs no type hints (nor resolves any, as the SDK's writing does not)."""
    found = _EMPTY_DEFAULTS.get(cls)
    if found is None:
        found = tuple((field.name, _empty_default(field)) for field in dataclasses.fields(cls))
        _EMPTY_DEFAULTS[cls] = found
    return found


def _read_shape(cls: type) -> _ReadShape:
    shape = _READ_SHAPES.get(cls)
    if shape is None:
        fields = dataclasses.fields(cls)
        hints = get_type_hints(cls)
        shape = _ReadShape(
            tuple((field.name, hints[field.name]) for field in fields),
            frozenset(field.name for field in fields if field.init),
        )
        _READ_SHAPES[cls] = shape
    return shape


_EMPTY = (None, "", 0, 0.0, False)


def _empty_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        default = field.default
    elif field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        return _NO_DEFAULT
    if type(default) in (list, dict, tuple) and not default:
        return default
    if any(
        default is empty or (type(default) is type(empty) and default == empty) for empty in _EMPTY
    ):
        return default
    return _NO_DEFAULT


def _is_default(value: Any, default: Any) -> bool:
    if default is _NO_DEFAULT:
        return False
    # Same type: ``False == 0`` and ``0.0 == 0``, yet each must be read back as written.
    return value is default or (type(value) is type(default) and value == default)


class CompactJSONEncoder(AdvancedJSONEncoder):
    """The SDK's encoder, except that a dataclass leaves out the fields at their default."""

    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {
                name: value
                for name, default in _empty_defaults(type(o))
                if not _is_default(value := getattr(o, name), default)
            }
        return super().default(o)


class KeepNonIntegers(JSONTypeConverter):
    def __init__(self) -> None:
        self._converters: Sequence[JSONTypeConverter] = [self]

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if hint is int and isinstance(value, (bool, float)):
            return value
        if hint is float and isinstance(value, bool):
            return value
        if isinstance(value, dict) and isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self._dataclass(hint, value)
        return JSONTypeConverter.Unhandled

    def _dataclass(self, hint: type, value: dict[str, Any]) -> Any:
        """As the SDK reads a dataclass (unknown keys ignored, a missing field left to the
        class, which raises if it has no default), with the hints resolved once."""
        shape = _read_shape(hint)
        init: dict[str, Any] = {}
        later: dict[str, Any] = {}
        for name, field_hint in shape.hints:
            if name not in value:
                continue
            try:
                converted = value_to_type(field_hint, value[name], self._converters)
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (init if name in shape.init else later)[name] = converted
        obj = hint(**init)
        for name, converted in later.items():
            object.__setattr__(obj, name, converted)
        return obj


class PayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(
                    encoder=CompactJSONEncoder, custom_type_converters=[KeepNonIntegers()]
                )
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
