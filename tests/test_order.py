"""The order ``make test`` hands test files out in (``tests.support.order``)."""

from __future__ import annotations

from pathlib import Path

from tests.support.order import FILE_SECONDS, file_order


def ordered(files: list[tuple[str, bool]]) -> list[str]:
    return [
        name for name, real in sorted(files, key=lambda file: file_order(Path(file[0]), file[1]))
    ]


def test_real_clock_files_first_then_the_longest_and_unknown_files_as_collected() -> None:
    assert FILE_SECONDS["test_usage_feed.py"] > FILE_SECONDS["test_replay_histories.py"]
    files = [
        ("test_a_new_file.py", False),
        ("test_replay_histories.py", False),
        ("test_another_new_file.py", False),
        ("test_usage_feed.py", False),
        ("test_a_new_real_clock_file.py", True),
        ("test_chaos.py", True),
    ]
    assert ordered(files) == [
        "test_chaos.py",
        "test_a_new_real_clock_file.py",
        "test_usage_feed.py",
        "test_replay_histories.py",
        "test_a_new_file.py",
        "test_another_new_file.py",
    ]
