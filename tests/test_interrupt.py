"""A developer tool stopped by SIGTERM (``kill``, a CI timeout) cleans up as Ctrl-C does: the
bench's and the chaos run's servers are stopped in ``finally`` blocks, which a plain SIGTERM
skipped (their dev servers and PostgreSQL kept running)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]

BENCH_LIKE = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bench.common import run_main

    async def main() -> None:
        try:
            print("ready", flush=True)
            await asyncio.sleep(60)
        finally:
            Path(sys.argv[1]).write_text("servers stopped")

    run_main(main())
    """
)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_bench_run_stopped_by_a_signal_runs_its_cleanup(
    tmp_path: Path, how: signal.Signals
) -> None:
    marker = tmp_path / "cleanup"
    process = subprocess.Popen(
        [sys.executable, "-c", BENCH_LIKE, str(marker)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(how)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
        process.wait()
    assert marker.read_text() == "servers stopped"
