"""``python -m dealcycle.fakes``: run the Salesforce and Slack fakes until SIGINT/SIGTERM.

Both run in sandbox mode (records and channels are created on first use). Once both listen,
``STATE_DIR/fakes/endpoints.json`` holds what clients need (URLs, fake credentials, CA bundle,
and an ``env`` block of ``SALESFORCE_*``/``SLACK_*`` variables); it is removed on exit, so its
presence means the fakes are up.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from dealcycle.fakes import start_sandbox
from dealcycle.settings import SALESFORCE_AUTH_FLOWS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dealcycle.fakes",
        description="Run local fakes of Salesforce (HTTPS) and Slack for dealcycle.",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("DEALCYCLE_STATE_DIR") or ".dealcycle"),
        help="certificates and endpoints.json go to STATE_DIR/fakes (default: "
        "$DEALCYCLE_STATE_DIR or .dealcycle)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--salesforce-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--slack-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--slack-app-url",
        default=os.environ.get("DEALCYCLE_SLACK_APP_URL") or None,
        help="where the Slack fake delivers interactions and events in HTTP mode (default: "
        "$DEALCYCLE_SLACK_APP_URL; an app connected over Socket Mode needs none)",
    )
    parser.add_argument(
        "--salesforce-auth",
        choices=SALESFORCE_AUTH_FLOWS,
        default=(os.environ.get("SALESFORCE_AUTH") or "jwt").lower(),
        help="the OAuth flow the endpoints' env logs in with (default: $SALESFORCE_AUTH or jwt,"
        " with a key and certificate made in STATE_DIR/fakes)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    try:
        sandbox = start_sandbox(
            args.state_dir.absolute(),
            salesforce_port=args.salesforce_port,
            slack_port=args.slack_port,
            host=args.host,
            write_endpoints_file=True,
            slack_app_url=args.slack_app_url,
            salesforce_auth=args.salesforce_auth,
        )
    except OSError as exc:
        print(f"cannot start the fakes: {exc}", file=sys.stderr)
        return 1
    with sandbox:
        endpoints = sandbox.endpoints
        # URLs only: the credentials are in the endpoints file, not on the terminal.
        print(f"Salesforce fake: {endpoints.salesforce_instance_url}", flush=True)
        print(f"Slack fake:      {endpoints.slack_api_url}", flush=True)
        print(f"Endpoints:       {sandbox.endpoints_file}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
