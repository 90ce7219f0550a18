"""``python -m tools.sfdx [--check] [--project DIR]``: write (or check) the Salesforce DX source
generated from ``schemas/salesforce_fields.py``; ``--check`` changes nothing and exits 1 when
the files differ, naming each."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.sfdx import PROJECT_DIR, differences, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sfdx", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="compare only; exit 1 if the source is out of date"
    )
    parser.add_argument(
        "--project", type=Path, default=PROJECT_DIR, help="the DX project (default: salesforce/)"
    )
    args = parser.parse_args(argv)
    if args.check:
        found = differences(args.project)
        for line in found:
            print(line, file=sys.stderr)
        if found:
            print(
                "the Salesforce DX source is out of date: run `python -m tools.sfdx`",
                file=sys.stderr,
            )
            return 1
        print(f"{args.project}: up to date")
        return 0
    changed = write(args.project)
    for line in changed:
        print(line)
    print(f"{args.project}: {len(changed)} file(s) written or removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
