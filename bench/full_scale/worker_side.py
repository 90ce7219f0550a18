"""One side's worker, in a process of its own (``bench.full_scale`` starts one per side).

A process per side, so that each side's process CPU and resident memory are its own. The
workflow activations run on a thread pool of our own (``workflow_task_executor``) whose threads
are known by their native ids, so their CPU time can be read apart from the event loop's,
the SDK core's and the activities' (``/proc/self/task/<tid>/stat``).

Both sides get the same worker: dealcycle's payload converter, the same sandbox with the
``workflows``, ``schemas`` and ``bench`` modules passed through (so neither workflow module is
re-imported per run), the compressed business clock (``bench.business_clock``), the stub
activities of ``bench.common``. Only the workflow class differs.

Protocol: one JSON object per line on stdout. ``{"ready": true}`` once polling; then for each
line ``report`` read from stdin, a :class:`SideReport`; ``stop`` (or end of input) stops it.

    python -m bench.full_scale.worker_side --target 127.0.0.1:7233 --task-queue q \
        --kind account --max-cached 1100
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from temporalio.client import Client

from bench.bare_account_workflow import BareAccountWorkflow
from bench.business_clock import BusinessClockRunner
from bench.common import BENCH_SANDBOX, CALLS, bench_worker, memory_kb, run_main
from dealcycle.payloads import DATA_CONVERTER, with_data_converter
from workflows.account import AccountWorkflow

KINDS: dict[str, type] = {"account": AccountWorkflow, "bare": BareAccountWorkflow}
WORKFLOW_THREADS = 4
"""Activations hold the GIL: more threads than cores only add switching (both sides alike)."""

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class SideReport:
    workflow_thread_cpu: float
    """CPU seconds of the threads that ran workflow activations."""
    process_cpu: float
    """CPU seconds of the whole worker process (event loop, SDK core, activities, GC)."""
    rss_kb: int
    calls: dict[str, int]
    """Stub activity calls by activity name."""
    at: float
    """``time.time()`` when measured."""


class WorkflowThreads:
    """A thread pool for activations that knows its threads' native ids."""

    def __init__(self, size: int) -> None:
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=size, thread_name_prefix="bench_workflow_", initializer=self._note
        )

    def _note(self) -> None:
        with self._lock:
            self._ids.append(threading.get_native_id())

    def cpu_seconds(self) -> float:
        total = 0
        with self._lock:
            ids = list(self._ids)
        for tid in ids:
            text = Path(f"/proc/self/task/{tid}/stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / _CLOCK_TICKS


def report(threads: WorkflowThreads) -> SideReport:
    return SideReport(
        workflow_thread_cpu=threads.cpu_seconds(),
        process_cpu=time.process_time(),
        rss_kb=memory_kb(os.getpid())["VmRSS"],
        calls=dict(CALLS),
        at=time.time(),
    )


async def serve(target: str, namespace: str, queue: str, kind: str, max_cached: int) -> None:
    client = with_data_converter(await Client.connect(target, namespace=namespace), DATA_CONVERTER)
    threads = WorkflowThreads(WORKFLOW_THREADS)
    loop = asyncio.get_running_loop()
    async with bench_worker(
        client,
        queue,
        [KINDS[kind]],
        max_cached_workflows=max_cached,
        workflow_runner=BusinessClockRunner(BENCH_SANDBOX),
        workflow_task_executor=threads.executor,
    ):
        print(json.dumps({"ready": True}), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            command = line.strip()
            if command == "report":
                print(json.dumps(asdict(report(threads))), flush=True)
            elif command in ("stop", ""):
                break


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.full_scale.worker_side")
    parser.add_argument("--target", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--kind", choices=sorted(KINDS), required=True)
    parser.add_argument("--max-cached", type=int, required=True)
    args = parser.parse_args(argv)
    run_main(serve(args.target, args.namespace, args.task_queue, args.kind, args.max_cached))


if __name__ == "__main__":
    main()
