"""Closed Won hand-off throughput, on the real Temporal dev server.

Target: 10,000 Closed Won deals handed off, each once, in at most 5 minutes.

The Salesforce fake holds N Closed Won deals, each of its own account, all modified in one
second (the case that stalled the old intake for good past 200). One in-process dealcycle
worker (every workflow, the real activities against the Salesforce and Slack fakes and a
SQLite database) runs one intake (``ClosedWonIntakeWorkflow``, as the schedule starts it),
which pages by ``(LastModifiedDate, Id)`` and hands each page off
``DEALCYCLE_INTAKE_CONCURRENCY`` deals at once. Measured from the intake's start until its
last run ends (every deal's signal-with-start accepted); the accounts' own work (each new
account's first workflow tasks and effects) runs meanwhile on the same worker, as in
production. Below 10,000 deals the time is also scaled linearly to 10,000 (the TARGET line
says which it compares).

Also reported: hand-offs per deal (each must be 1, counted in the worker), account workflows
started (visibility), and Salesforce calls per deal (the fake's call record: one SOQL query a
page of 200, no read per deal).

    python -m bench.deal_hand_off --deals 10000
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import activities.handoff
from bench.common import (
    MachineWatch,
    dev_server,
    heading,
    run_main,
    target_line,
    task_queue,
)
from dealcycle.fakes import SalesforceFake, SlackFake, ensure_tls_files
from dealcycle.settings import Settings
from schemas.intake import IntakeResult, IntakeRun
from workflows.intake import ClosedWonIntakeWorkflow

TARGET_DEALS = 10_000
TARGET_SECONDS = 300.0
ONE_SECOND = "2026-01-15T10:00:00.000+0000"


def seed(fake: SalesforceFake, deals: int) -> None:
    for number in range(deals):
        fake.seed_record("Account", {"Name": f"Customer {number}"}, f"001BENCH{number:07d}")
        fake.seed_record(
            "Opportunity",
            {
                "AccountId": f"001BENCH{number:07d}",
                "StageName": "Closed Won",
                "CloseDate": "2026-01-15",
                "Amount": 12000,
                "LastModifiedDate": ONE_SECOND,
            },
            f"006BENCH{number:07d}",
        )


def count_hand_offs() -> Counter[str]:
    """Each deal, by how many signal-with-starts the worker sent for it."""
    sent: Counter[str] = Counter()
    real = activities.handoff.hand_off

    async def counted(client: Any, queue: str, request: Any, config: Any) -> Any:
        result = await real(client, queue, request, config)
        sent[request.hand_off.opportunity_id] += 1
        return result

    activities.handoff.hand_off = counted  # type: ignore[assignment]
    return sent


async def main(args: argparse.Namespace) -> None:
    from worker import WORKFLOWS, build_activities, build_worker

    heading(f"Closed Won hand-off: {args.deals} deals in one second, dev server")
    watch = MachineWatch()
    with tempfile.TemporaryDirectory(prefix="dealcycle-bench-hand-off-") as tmp:
        state = Path(tmp)
        with SalesforceFake(ensure_tls_files(state / "tls")) as salesforce, SlackFake() as slack:
            seed(salesforce, args.deals)
            async with dev_server("hand-off") as server:
                queue = task_queue("hand-off")
                base = Settings.from_env(
                    {
                        "DEALCYCLE_STATE_DIR": str(state / "state"),
                        "DEALCYCLE_INTAKE_CONCURRENCY": str(args.concurrency),
                    }
                )
                settings = replace(
                    base,
                    database_url=f"sqlite:///{state / 'dealcycle.db'}",
                    salesforce=salesforce.settings(),
                    slack=slack.settings(),
                    task_queue=queue,
                )
                registry = build_activities(settings)
                sent = count_hand_offs()
                pages = math.ceil(args.deals / args.batch_size) + 1
                async with build_worker(server.client, settings, registry, workflows=WORKFLOWS):
                    calls_before = len(salesforce.calls_to(r"^/services/data/"))
                    began = time.perf_counter()
                    result: IntakeResult = await server.client.execute_workflow(
                        ClosedWonIntakeWorkflow.run,
                        IntakeRun(
                            batch_size=args.batch_size,
                            first_poll_lookback_days=36500,
                            max_pages=min(pages, 500),
                        ),
                        id=f"intake-bench-{queue}",
                        task_queue=queue,
                    )
                    elapsed = time.perf_counter() - began
                    accounts = (
                        await server.client.count_workflows(
                            f"WorkflowType='AccountWorkflow' AND TaskQueue='{queue}'"
                        )
                    ).count
                    queries = len(salesforce.calls_to(r"^/services/data/.*/query"))
                    data_calls = len(salesforce.calls_to(r"^/services/data/")) - calls_before

    once = sum(1 for n in sent.values() if n == 1)
    print(
        f"   intake: {elapsed:.1f} s for {args.deals} deals ({args.deals / elapsed:.0f} deals/s),"
        f" pages of {args.batch_size}, {args.concurrency} hand-offs at once;"
        f" last run: {result.pages} pages, failed {len(result.failed)}"
    )
    print(
        f"   hand-offs: {len(sent)} deals, {once} of them exactly once,"
        f" {sum(sent.values())} signal-with-starts; {accounts} account workflows started"
    )
    print(
        f"   Salesforce: {data_calls} calls ({queries} SOQL queries),"
        f" {data_calls / args.deals:.4f} per deal"
    )
    all_once = len(sent) == args.deals and once == args.deals
    print(
        f"   TARGET every deal handed off exactly once: {once}/{args.deals}"
        f"  {'MET' if all_once else 'MISSED'}"
    )
    print(target_line("Salesforce calls per handed-off deal", data_calls / args.deals, 1.0, ""))
    if args.deals >= TARGET_DEALS:
        print(target_line(f"hand-off of {args.deals} deals", elapsed, TARGET_SECONDS, " s"))
    else:
        scaled = elapsed * TARGET_DEALS / args.deals
        print(
            target_line(
                f"hand-off of 10,000 deals (scaled from {args.deals})", scaled, TARGET_SECONDS, " s"
            )
        )
    print(watch.report())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deals", type=int, default=TARGET_DEALS)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser


if __name__ == "__main__":
    run_main(main(build_parser().parse_args()))
