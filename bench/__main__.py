"""``python -m bench`` (``make bench``): the full-scale bench, then a summary.

The headline, run by default, is ``bench.full_scale``: dealcycle accounts and as many bare
accounts live a compressed year side by side on the real dev server, every issue-14 target
printed from that one run. It runs 1,000 accounts a side where this machine's cores can within
15 minutes, otherwise as many as they can (said before it starts, judged at its end);
``--full-accounts 1000`` runs the target's size anyway, ``--full-accounts 10000`` the larger.
The other benchmarks stay reachable at small sizes: ``--only NAME`` (repeatable) picks any of them,
``--all`` runs every one, the full-scale bench first.

Each runs in its own process, as it would alone, so one's memory, counters or failure does
not touch the next. For the full sizes run them one by one:

    python -m bench.full_scale --accounts 10000 --year-minutes 30
    python -m bench.ce_action_latency --accounts 200 --trials 200
    python -m bench.cached_workflow_memory --workflows 1000
    python -m bench.simulated_year --accounts 1000 --trials 0   # the target's size (long)
    python -m bench.simulated_year --accounts 100 --trials 200 --rounds 2
    python -m bench.account_years --rounds 3
    python -m bench.account_year_events --health-readings-per-day 1   # with a daily feed
    python -m bench.todo_list --accounts 1000    # the to-do list's target, at its size
    python -m bench.deal_hand_off --deals 10000  # the hand-off's target, at its size

The figures are printed, never asserted: a missed target shows as MISSED, exit status 0.
The summary repeats each benchmark's TARGET lines, and its FIGURE lines (a figure reported
without a target, such as the three account years' wall time).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import REPO_ROOT
from bench.full_scale.sizing import positive_float, positive_int

BENCHMARKS = ("full", "latency", "memory", "year", "account", "events", "todo", "handoff")


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    return {
        "full": [
            "bench.full_scale",
            *(["--accounts", str(args.full_accounts)] if args.full_accounts else []),
            *(["--year-minutes", str(args.full_year_minutes)] if args.full_year_minutes else []),
            "--hand-off-deals",
            str(args.handoff_deals),
        ],
        "latency": [
            "bench.ce_action_latency",
            "--accounts",
            str(args.latency_accounts),
            "--trials",
            str(args.latency_trials),
            "--concurrency",
            args.latency_concurrency,
        ],
        "memory": ["bench.cached_workflow_memory", "--workflows", str(args.memory_workflows)],
        "year": [
            "bench.simulated_year",
            "--accounts",
            str(args.year_accounts),
            "--trials",
            str(args.year_trials),
            "--rounds",
            str(args.year_rounds),
        ],
        "account": ["bench.account_years", "--rounds", str(args.account_rounds)],
        "events": ["bench.account_year_events"],
        "todo": ["bench.todo_list", "--accounts", str(args.todo_accounts)],
        "handoff": ["bench.deal_hand_off", "--deals", str(args.handoff_deals)],
    }


def run(module_and_args: list[str]) -> tuple[int, list[str], float]:
    """Run one benchmark, echo its output as it comes, return its TARGET and FIGURE lines."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", *module_and_args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    targets = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if line.strip().startswith(("TARGET", "FIGURE")):
            targets.append(line.rstrip())
    return process.wait(), targets, time.monotonic() - started


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", choices=BENCHMARKS, action="append", help="run only this one (repeatable)"
    )
    parser.add_argument("--all", action="store_true", help="run every benchmark")
    # Unset: sized to this machine and the 15-minute budget (bench.full_scale.sizing).
    parser.add_argument("--full-accounts", type=positive_int, default=None)
    parser.add_argument("--full-year-minutes", type=positive_float, default=None)
    parser.add_argument("--latency-accounts", type=int, default=50)
    parser.add_argument("--latency-trials", type=int, default=50)
    parser.add_argument("--latency-concurrency", default="1,4")
    parser.add_argument("--memory-workflows", type=int, default=300)
    parser.add_argument("--year-accounts", type=int, default=40)
    parser.add_argument("--year-trials", type=int, default=40)
    parser.add_argument("--year-rounds", type=int, default=2)
    parser.add_argument("--account-rounds", type=int, default=1)
    parser.add_argument("--todo-accounts", type=int, default=1_000)
    parser.add_argument(
        "--handoff-deals", type=int, default=10_000, help="deals handed off (the target's size)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chosen = list(BENCHMARKS) if args.all else args.only or ["full"]
    summary: list[str] = []
    failed = []
    started = time.monotonic()
    for name, command in commands(args).items():
        if name not in chosen:
            continue
        code, targets, elapsed = run(command)
        summary.append(f"{name} ({elapsed:.0f}s){'' if code == 0 else f', EXIT {code}'}:")
        summary.extend(targets or ["   (no figures: the benchmark failed, see above)"])
        if code != 0:
            failed.append(name)
    print()
    print(f"== Summary ({time.monotonic() - started:.0f}s) ".ljust(96, "="))
    for line in summary:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
