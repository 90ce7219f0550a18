"""``python -m tools.histories``: the recorder that wrote ``tests/histories/base-*`` still runs,
and what it records replays (one small group, so that the tool cannot rot unseen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tools.histories.__main__ import GROUP_NAMES, main
from tools.histories.record import GROUPS, record
from tools.histories.stack import kebab, read_history
from worker import WORKFLOWS


def test_the_command_line_offers_every_group() -> None:
    assert GROUP_NAMES == tuple(GROUPS)


def test_history_files_are_named_by_workflow_type() -> None:
    assert kebab("ClosedWonIntakeWorkflow") == "closed-won-intake-workflow"
    assert kebab("TrialWorkflow") == "trial-workflow"


def test_a_checkout_that_is_not_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["record", "--out", str(tmp_path / "out"), "--checkout", str(tmp_path)])


def histories_in(folder: Path) -> dict[str, WorkflowHistory]:
    return {path.name: read_history(path, path.stem) for path in sorted(folder.glob("*.json"))}


async def test_the_intake_group_records_histories_that_replay(tmp_path: Path) -> None:
    failed = await record(tmp_path, ["intake"])
    assert failed == []
    saved = histories_in(tmp_path)
    assert list(saved) == [
        "account-workflow-two-deals-from-intake.json",
        "closed-won-intake-workflow-nothing-new.json",
        "closed-won-intake-workflow-two-deals-handed-off.json",
    ]
    for history in saved.values():
        result = await Replayer(workflows=list(WORKFLOWS)).replay_workflow(history)
        assert result.replay_failure is None
