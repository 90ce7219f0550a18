"""``python -m tools.chaos`` (``make chaos``): the full chaos run; ``--short`` the small one
that ``tests/test_chaos.py`` runs. Prints the four figures; exits 1 unless all are 0."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace
from pathlib import Path

from dealcycle.devtools.interrupt import treat_sigterm_as_interrupt
from tools.chaos.scenario import FULL, SHORT, run
from tools.chaos.stack import REPO_ROOT


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="3 kills, small workload, < 90 s")
    parser.add_argument("--kills", type=int, help="worker SIGKILLs (default 12; short 3)")
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="where the run's databases and logs go (default .dealcycle/chaos/<time>)",
    )
    args = parser.parse_args()
    plan = SHORT if args.short else FULL
    if args.kills is not None:
        plan = replace(plan, kills=args.kills)
    run_dir = args.run_dir or REPO_ROOT / ".dealcycle" / "chaos" / time.strftime("%Y%m%d-%H%M%S")
    print(f"chaos ({plan.name}): logs and databases in {run_dir}", flush=True)
    treat_sigterm_as_interrupt()
    outcome = asyncio.run(run(plan, run_dir))
    print(outcome.report(), flush=True)
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
