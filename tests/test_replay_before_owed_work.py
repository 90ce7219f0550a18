"""Histories recorded by the code before effects became owed work (commit 3e5e6b8, from the
workflow tests of that commit) replay on today's code: a run that started before owed work
keeps running its effects inline, one after another, command for command
(``workflows.owed_work.OWED_WORK_PATCH``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories" / "before-owed-work").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_a_history_from_before_owed_work_replays(path: Path) -> None:
    result = await Replayer(workflows=list(WORKFLOWS)).replay_workflow(load(path))
    assert result.replay_failure is None


def test_every_workflow_with_effects_has_a_recorded_history() -> None:
    kinds = {path.stem.rsplit("-", 1)[0].split("-")[0] for path in HISTORIES}
    assert {"trial", "opportunity", "security", "red", "account"} <= kinds


async def test_without_the_guard_an_old_history_would_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the change would do unguarded: effects run concurrently where the old run awaited
    # them one by one, so the recorded commands no longer match.
    monkeypatch.setattr(workflow, "patched", lambda patch_id: True)
    with pytest.raises(workflow.NondeterminismError):
        await Replayer(workflows=list(WORKFLOWS)).replay_workflow(
            load(HISTORIES[[p.stem for p in HISTORIES].index("trial-006TRIAL1")])
        )
