"""A bench-only worker process: the measured workflows with stub activities.

``bench.cached_workflow_memory`` starts it so that the worker's resident memory can be read
from ``/proc/<pid>/status`` alone. It prints ``ready`` once polling, and stops on SIGTERM,
SIGINT or when its standard input closes (the parent went away).

    python -m bench.memory_worker --target 127.0.0.1:7233 --task-queue q --max-cached 1100
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner

from bench.common import bench_worker, run_main
from bench.idle_workflow import IdleWorkflow
from workflows.account import AccountWorkflow
from workflows.trial import TrialWorkflow


async def serve(
    target: str, namespace: str, queue: str, max_cached: int, unsandboxed: bool
) -> None:
    client = await Client.connect(target, namespace=namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    async with bench_worker(
        client,
        queue,
        [TrialWorkflow, AccountWorkflow, IdleWorkflow],
        max_cached_workflows=max_cached,
        **({"workflow_runner": UnsandboxedWorkflowRunner()} if unsandboxed else {}),
    ):
        print("ready", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_worker", description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--max-cached", type=int, required=True)
    parser.add_argument(
        "--unsandboxed", action="store_true", help="diagnostic: run workflows outside the sandbox"
    )
    args = parser.parse_args(argv)
    run_main(serve(args.target, args.namespace, args.task_queue, args.max_cached, args.unsandboxed))


if __name__ == "__main__":
    main()
