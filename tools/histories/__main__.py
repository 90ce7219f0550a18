"""``python -m tools.histories record --out DIR [--checkout DIR] [--only GROUP ...]``.

``--checkout`` records the workflows of another checkout (``git worktree add /tmp/old <commit>``)
with this checkout's recorder, test helpers, virtualenv and test server: the checkout's
``workflows``, ``schemas``, ``activities``, ``dealcycle`` and ``worker`` are imported instead
of this one's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

GROUP_NAMES = (
    "trial",
    "security-review",
    "opportunity",
    "account",
    "red-account",
    "red-plan-repeat",
    "red-no-thread",
    "red-post-retried",
    "intake",
    "region",
    "owners",
    "case-owners",
    "kickoff-due",
    "snooze-move",
    "red-renewed",
    "churned-reading",
    "tier-onboarding",
    "leader-reassign",
    "opportunity-lookup",
)
"""``tools.histories.record.GROUPS``' names (that module imports the project's code, which
``--checkout`` may take from elsewhere, so it is imported only once that is settled)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.histories", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="record histories of every workflow type")
    record.add_argument("--out", type=Path, required=True, help="directory for the *.json files")
    record.add_argument(
        "--checkout",
        type=Path,
        help="record the workflow code of this checkout (default: this one)",
    )
    record.add_argument(
        "--only", nargs="+", choices=GROUP_NAMES, help="record only these groups of scenarios"
    )
    args = parser.parse_args(argv)
    out: Path = args.out.absolute()
    if args.checkout is not None:
        checkout = args.checkout.absolute()
        if not (checkout / "workflows").is_dir() or not (checkout / "worker.py").is_file():
            parser.error(f"{checkout} is not a dealcycle checkout (no workflows/ or worker.py)")
        use_checkout(checkout)
    out.mkdir(parents=True, exist_ok=True)
    from dealcycle.logging import configure_logging
    from tools.histories.record import record as record_groups

    configure_logging("console", "warning")  # the activities' logs would drown the list

    failed = asyncio.run(record_groups(out, args.only))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"histories in {out}")
    return 0


def use_checkout(checkout: Path) -> None:
    """Import the project's code from ``checkout`` and the recorder's own from here.

    ``tools`` and ``tests`` are bound to this checkout first (importing their packages pins
    where their modules are found); everything imported later by name comes from
    ``checkout``, which goes first on the path.
    """
    import tests.support
    import tools.histories  # noqa: F401

    sys.path.insert(0, str(checkout))
    assert tests.support.__file__ is not None


if __name__ == "__main__":
    raise SystemExit(main())
