"""The short chaos run (``make chaos`` runs the full one): a small workload under worker
kills, a dev-server restart, Salesforce and Slack faults and a PostgreSQL outage, with no
duplicate, lost, failed-or-stuck or unsurfaced effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos.scenario import SHORT, run

pytestmark = pytest.mark.e2e


async def test_short_chaos_run_has_nothing_to_report(tmp_path: Path) -> None:
    outcome = await run(SHORT, tmp_path / "chaos")
    report = outcome.report()
    assert outcome.worker_kills >= SHORT.kills, report
    assert outcome.server_restarts == 1, report
    assert outcome.findings.posts > 0, report
    assert outcome.passed, report
