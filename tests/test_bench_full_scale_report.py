"""The full-scale bench's verdicts, from made-up measures: each target line says MET or MISSED
by its figure, the memory target by its documented-cache form; and where a history's bytes
are, from made-up events."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from bench.full_scale import run as full_scale_run
from bench.full_scale.figures import (
    ACTIVITY_INPUTS,
    BYTE_PARTS,
    REST,
    RUN_INPUTS,
    SUMMARIES,
    YearFigures,
    byte_parts,
)
from bench.full_scale.run import report_targets
from bench.full_scale.side import Measure, SideResult
from bench.full_scale.worker_side import SideReport


def side(kind: str, count: int, thread_cpu: float, aged_rss_mb: float) -> SideResult:
    def measure(cpu: float, rss_mb: float) -> Measure:
        return Measure(SideReport(cpu, cpu * 3, int(rss_mb * 1024), {}, 0.0), cpu * 3, cpu * 10)

    result = SideResult(
        kind,
        count,
        idle={
            "wall": 10.0,
            **dict.fromkeys(("workflow_thread_cpu", "worker_cpu", "server_cpu"), 0.0),
        },
    )
    result.base = measure(0.0, 60.0)
    result.aged = measure(thread_cpu, aged_rss_mb)
    return result


def figures(bytes_: float, summaries: float = 0.0) -> YearFigures:
    # Per account-year: 10 accounts, so the sample's sums are ten times the means.
    parts = Counter({SUMMARIES: int(summaries * 10), REST: int((bytes_ - summaries) * 10)})
    return YearFigures(10, 680.0, bytes_, Counter(), parts, 75.0, 16.0, 2.0)


def test_the_targets_are_judged_by_their_figures(capsys: pytest.CaptureFixture[str]) -> None:
    # 100 accounts of 0.5 MB each: 1,000 would take 500 MB above a 60 MB base, under 1 GB.
    report_targets(
        side("account", 100, 10.5, 110.0),
        side("bare", 100, 10.0, 90.0),
        figures(130.0),
        figures(100.0),
    )
    lines = {
        line.split(":")[1].strip(): line
        for line in capsys.readouterr().out.splitlines()
        if "TARGET" in line
    }
    assert lines["workflow-thread CPU (dealcycle / bare)"].endswith(" MET")
    assert lines["history bytes per account-year (dealcycle / bare)"].endswith(" MISSED")
    [memory] = [
        line
        for key, line in lines.items()
        if key.startswith("worker RSS with its documented cache")
    ]
    assert "560 MB" in memory and memory.endswith(" MET")


def test_a_cache_that_would_not_fit_in_1_gb_misses(capsys: pytest.CaptureFixture[str]) -> None:
    report_targets(
        side("account", 100, 20.0, 160.0),
        side("bare", 100, 10.0, 90.0),
        figures(100.0),
        figures(100.0),
    )
    out = capsys.readouterr().out
    [memory] = [line for line in out.splitlines() if "documented cache" in line]
    assert memory.endswith(" MISSED")
    [cpu] = [line for line in out.splitlines() if "workflow-thread CPU" in line]
    assert cpu.endswith(" MISSED")


def test_the_extra_bytes_are_shown_by_part(capsys: pytest.CaptureFixture[str]) -> None:
    report_targets(
        side("account", 100, 10.0, 110.0),
        side("bare", 100, 10.0, 90.0),
        figures(150_000.0, summaries=20_000.0),
        figures(110_000.0),
    )
    [line] = [line for line in capsys.readouterr().out.splitlines() if "more history" in line]
    assert "40.0 kB more history bytes" in line
    assert f"{SUMMARIES} +20.0 kB" in line and f"{REST} +20.0 kB" in line


def test_the_bytes_ratio_is_also_shown_without_the_summaries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report_targets(
        side("account", 100, 10.0, 110.0),
        side("bare", 100, 10.0, 90.0),
        figures(150_000.0, summaries=40_000.0),
        figures(100_000.0),
    )
    [line] = [line for line in capsys.readouterr().out.splitlines() if "without the" in line]
    assert line.endswith("(dealcycle / bare): 1.10x")


def _payload(size: int) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=b"x" * size)


def test_a_historys_bytes_split_into_parts_that_add_up() -> None:
    started = HistoryEvent(event_id=1, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    started.workflow_execution_started_event_attributes.input.payloads.append(_payload(900))
    scheduled = HistoryEvent(event_id=2, event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    scheduled.activity_task_scheduled_event_attributes.input.payloads.append(_payload(300))
    scheduled.user_metadata.summary.CopyFrom(_payload(80))
    timer = HistoryEvent(event_id=3, event_type=EventType.EVENT_TYPE_TIMER_STARTED)
    timer.user_metadata.summary.CopyFrom(_payload(40))
    continued = HistoryEvent(
        event_id=4, event_type=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    )
    continued.workflow_execution_continued_as_new_event_attributes.input.payloads.append(
        _payload(700)
    )
    events = [started, scheduled, timer, continued]

    parts = byte_parts([WorkflowHistory("account-1", events)])

    assert set(parts) <= set(BYTE_PARTS)
    assert sum(parts.values()) == sum(event.ByteSize() for event in events)
    # Each part holds its payloads and their framing (a few dozen bytes each), nothing else.
    assert 900 + 700 < parts[RUN_INPUTS] < 900 + 700 + 100
    assert 300 < parts[ACTIVITY_INPUTS] < 300 + 50
    assert 80 + 40 < parts[SUMMARIES] < 80 + 40 + 100
    assert 0 < parts[REST] < 100


@pytest.mark.parametrize(
    ("stdout", "code", "verdict"),
    [
        (
            "   FIGURE daily usage feed: 212 history events a year added to an account (53 ...)\n",
            0,
            "(dealcycle, 686 + 212 the feed adds): 898 events  (target <= 1000 events,"
            " 0.90 of target)  MET",
        ),
        (
            "   FIGURE daily usage feed: 400 history events a year added to an account (90 ...)\n",
            0,
            "1086 events  (target <= 1000 events, 1.09 of target)  MISSED",
        ),
        ("Traceback ...\n", 1, "not measured (bench.daily_feed_events exited 1)  MISSED"),
    ],
)
def test_the_daily_feed_target_adds_what_the_feed_year_measured(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdout: str,
    code: int,
    verdict: str,
) -> None:
    def feed_year(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        assert command[1:] == ["-m", "bench.daily_feed_events"]
        return subprocess.CompletedProcess(command, code, stdout)

    monkeypatch.setattr(full_scale_run.subprocess, "run", feed_year)
    full_scale_run.daily_feed(686.0)

    [line] = [line for line in capsys.readouterr().out.splitlines() if "TARGET" in line]
    assert "history events per account-year with the daily usage feed" in line
    assert line.endswith(verdict)
