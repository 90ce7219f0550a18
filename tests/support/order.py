"""The order ``make test`` hands test files to its processes (pytest-xdist ``--dist loadfile
--no-loadscope-reorder`` takes them as collected): the files on a real clock first, then the
longest first, so that no long file starts late and ends the run alone while the other
process has nothing left to do."""

from __future__ import annotations

from pathlib import Path

FILE_SECONDS: dict[str, float] = {
    "test_end_to_end.py": 105,
    "test_chaos.py": 60,
    "test_usage_feed.py": 40,
    "test_effects_end_to_end.py": 40,
    "test_replay_histories.py": 30,
    "test_account_workflow.py": 27,
    "test_red_account_records.py": 21,
    "test_intake_paging.py": 17,
    "test_trial_workflow.py": 16,
    "test_slack_modals_app.py": 15,
    "test_account_year_events.py": 15,
    "test_account_changes.py": 14,
    "test_effect_budgets.py": 14,
    "test_security_review_workflow.py": 14,
    "test_roster_rotation.py": 12,
    "test_slack_page_browser.py": 12,
    "test_db.py": 12,
    "test_web_ui_browser.py": 12,
    "test_slack_prompts.py": 12,
    "test_devtools.py": 11,
    "test_record_activities.py": 11,
    "test_red_account_workflow.py": 11,
    "test_roster_cli.py": 11,
    "test_codec_dev_server.py": 10,
    "test_bench_business_clock.py": 10,
    "test_metrics_worker.py": 10,
    "test_temporal_tls.py": 9,
    "test_account_records.py": 9,
    "test_red_account_lifecycle.py": 9,
}
"""Wall seconds one test process spent on the longest files (make test on the 2-core
machine, beside other work). Only the order depends on them: a file not listed counts as
short, and a figure that drifts only moves its file in the queue."""


def file_order(path: Path, on_real_clock: bool) -> tuple[bool, float]:
    """Sort key of a test file: on a real clock first, then the longest first. Files alike
    keep the order they were collected in (the sort must be stable)."""
    return (not on_real_clock, -FILE_SECONDS.get(path.name, 0.0))
