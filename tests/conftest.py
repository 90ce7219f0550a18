"""Session-wide test setup. Fixture modules live in ``tests/support``."""

from __future__ import annotations

import pytest

from tests.support.order import file_order

pytest_plugins = [
    "tests.support.fakes",
    "tests.support.databases",
    "tests.support.temporal",
]

# Fixtures whose tests run on a real clock (a dev server, the worker as a subprocess).
_REAL_CLOCK_FIXTURES = frozenset({"dev_client", "dev_harness_factory"})


def _on_real_clock(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    return item.get_closest_marker("e2e") is not None or not _REAL_CLOCK_FIXTURES.isdisjoint(
        fixtures
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files on a real clock first, then the longest first (``tests.support.order``),
    each file's tests kept together and in order.

    ``make test`` hands whole files to its worker processes in this order (pytest-xdist,
    ``--dist loadfile``); the real-clock files are long ones (minutes of real time, mostly
    waiting), so started first they overlap the rest instead of ending the run alone, and
    the short files last fill in until both processes end together.
    """
    real_clock = {item.path for item in items if _on_real_clock(item)}
    # Stable: files alike keep their collection order, a file's tests their own.
    items.sort(key=lambda item: file_order(item.path, item.path in real_clock))
