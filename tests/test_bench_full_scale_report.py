"""The full-scale bench's verdicts, from made-up measures: each target line says MET or MISSED
by its figure, the memory target by its documented-cache form."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.full_scale.figures import YearFigures
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


def figures(bytes_: float) -> YearFigures:
    return YearFigures(10, 680.0, bytes_, Counter(), 75.0, 16.0, 2.0)


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
