"""The payload converter writes a dataclass without its empty defaults and reads it back whole;
payloads written in full (the SDK's own converter, histories from before) read the same."""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.converter import DataConverter

import dealcycle.payloads as payloads
from dealcycle.payloads import DATA_CONVERTER
from schemas.account import AccountSnapshot
from schemas.effects import Effect, EffectKind, EffectState
from tests.test_account_rules import onboarded_snapshot

OURS = DATA_CONVERTER.payload_converter
SDK = DataConverter.default.payload_converter


@dataclass(frozen=True)
class Sample:
    name: str
    note: str = ""
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    tags: list[str] = field(default_factory=list)
    parent: Sample | None = None
    channel: str = "#general"
    """A default that is not empty: always written, so changing it never changes old data."""
    limit: int = 7


def written(value: object) -> dict[str, Any]:
    loaded = json.loads(OURS.to_payload(value).data)
    assert isinstance(loaded, dict)
    return loaded


def test_empty_defaults_are_left_out_and_read_back() -> None:
    sample = Sample("a", parent=Sample("b", note="n", tags=["x"]))
    assert written(sample) == {
        "name": "a",
        "parent": {"name": "b", "note": "n", "tags": ["x"], "channel": "#general", "limit": 7},
        "channel": "#general",
        "limit": 7,
    }
    assert OURS.from_payload(OURS.to_payload(sample), Sample) == sample


def test_a_value_of_another_type_than_its_default_is_written() -> None:
    # False == 0 and 0 == 0.0 in Python, yet the payload must say which it was.
    odd = Sample("a", count=False, ratio=0, flag=0)  # type: ignore[arg-type]
    assert written(odd) == {
        "name": "a",
        "count": False,
        "ratio": 0,
        "flag": 0,
        "channel": "#general",
        "limit": 7,
    }


def test_a_missing_required_field_is_still_refused() -> None:
    with pytest.raises(TypeError):
        OURS.from_payload(OURS.to_payload({"note": "no name"}), Sample)


def test_a_snapshot_written_in_full_before_reads_as_it_does_written_compact() -> None:
    s = onboarded_snapshot()
    s.effects.append(Effect("scope/k", "k", EffectKind.REMINDER, "post_slack_message", "slack:U1"))
    s.effects[-1].state = EffectState.DONE
    full = SDK.to_payload(s)
    compact = OURS.to_payload(s)
    assert len(compact.data) < len(full.data) * 0.8
    assert OURS.from_payload(full, AccountSnapshot) == s
    assert OURS.from_payload(compact, AccountSnapshot) == s
    assert SDK.from_payload(compact, AccountSnapshot) == s


def test_type_hints_are_resolved_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[type] = []
    original = payloads.get_type_hints

    def counting(cls: type) -> dict[str, Any]:
        calls.append(cls)
        return original(cls)

    monkeypatch.setattr(payloads, "get_type_hints", counting)
    monkeypatch.setattr(payloads, "_READ_SHAPES", weakref.WeakKeyDictionary())
    payload = OURS.to_payload(Sample("a", parent=Sample("b")))
    for _ in range(3):
        assert OURS.from_payload(payload, Sample) == Sample("a", parent=Sample("b"))
    assert calls == [Sample]


@dataclass(frozen=True)
class Unresolvable:
    when: NameNotDefinedHere  # type: ignore[name-defined]  # noqa: F821
    note: str = ""


def test_writing_resolves_no_type_hints() -> None:
    # As the SDK's writing: under the strict sandbox a class's hints may not resolve where it
    # is written (the usage feed's delivery did not), and writing needs none.
    assert written(Unresolvable(1)) == {"when": 1}
