"""Recorded histories replay on today's code, and every patch guard is proven needed.

``tests/histories/`` holds histories recorded by earlier code: ``base-bbf972a/`` every workflow
type at several phases (``python -m tools.histories record``), ``before-owed-work/`` and
``account-before-kickoff-announcement.json`` runs from before those two changes. A running
workflow started by old code must go on on new code command for command, so every one of them
replays. And every ``workflow.patched(SOME_PATCH)`` in ``workflows/`` must matter to at least
one of them: taking the new path on an old history (the patch forced on) must break its replay,
or the guard is untested (record a history from the commit before the change: see
``docs/changing-workflows.md``).
"""

from __future__ import annotations

import ast
import functools
import io
import json
import tokenize
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, WorkflowRunner

from tests.support.codec import TEST_DATA_CONVERTER
from tools.histories.stack import read_history, workflow_type_of
from worker import SHARED_MODULES_SANDBOX, WORKFLOWS

HISTORIES_DIR = Path(__file__).parent / "histories"
HISTORIES = sorted(HISTORIES_DIR.rglob("*.json"))
WORKFLOWS_DIR = Path(__file__).parents[1] / "workflows"


def name_of(path: Path) -> str:
    return path.relative_to(HISTORIES_DIR).with_suffix("").as_posix()


@functools.cache
def load(path: Path) -> WorkflowHistory:
    return read_history(path, name_of(path))


@functools.cache
def patches_of(path: Path) -> frozenset[str]:
    """The ids of the patches whose markers the history has (the id is inside a payload, so
    not in the file's text)."""
    ids = set()
    for event in load(path).events:
        marker = event.marker_recorded_event_attributes
        recorded = event.HasField("marker_recorded_event_attributes")
        if recorded and marker.marker_name == "core_patch":
            for payload in marker.details["patch-data"].payloads:
                ids.add(json.loads(payload.data)["id"])
    return frozenset(ids)


async def replay(path: Path, runner: WorkflowRunner | None = None) -> BaseException | None:
    """The replay's failure, if any: under the strict default sandbox, or ``runner``.

    With the suite's codec on, as a worker would be: recorded histories are plain and still read.
    """
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        data_converter=TEST_DATA_CONVERTER,
        **({"workflow_runner": runner} if runner else {}),
    )
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    return result.replay_failure


# --- Every history replays --------------------------------------------------------------------


@pytest.mark.parametrize("path", HISTORIES, ids=[name_of(path) for path in HISTORIES])
async def test_a_recorded_history_replays_on_todays_code(path: Path) -> None:
    assert await replay(path) is None


def test_every_workflow_type_has_histories_at_several_phases() -> None:
    recorded = Counter(workflow_type_of(load(path).events) for path in HISTORIES)
    types = [workflow._Definition.must_from_class(cls).name for cls in WORKFLOWS]
    assert {name: recorded[name] for name in types if recorded[name] < 2} == {}


def test_the_histories_from_before_owed_work_cover_every_workflow_with_effects() -> None:
    before = [path for path in HISTORIES if path.parent.name == "before-owed-work"]
    kinds = {workflow_type_of(load(path).events) for path in before}
    assert {
        "TrialWorkflow",
        "OpportunityWorkflow",
        "SecurityReviewWorkflow",
        "RedAccountWorkflow",
        "AccountWorkflow",
    } <= kinds


# --- Every guard is proven --------------------------------------------------------------------


@dataclass(frozen=True)
class PatchedCall:
    """A ``workflow.patched(...)`` call in ``workflows/``."""

    where: str
    constant: str | None
    """The ``*_PATCH`` constant it names, or None when it names something else."""


def _sources() -> dict[str, str]:
    return {
        path.relative_to(WORKFLOWS_DIR.parent).as_posix(): path.read_text()
        for path in sorted(WORKFLOWS_DIR.rglob("*.py"))
    }


def _patch_constants(sources: dict[str, str]) -> dict[str, str]:
    """Every module-level ``SOME_PATCH = "id"`` in ``workflows/``: name to id."""
    constants = {}
    for source in sources.values():
        for node in ast.parse(source).body:
            if (
                isinstance(node, ast.Assign | ast.AnnAssign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id.endswith("_PATCH"):
                        constants[target.id] = node.value.value
    return constants


def _patched_calls(sources: dict[str, str]) -> list[PatchedCall]:
    calls = []
    for module, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name != "patched":
                continue
            argument = node.args[0] if len(node.args) == 1 and not node.keywords else None
            constant = None
            if isinstance(argument, ast.Name):
                constant = argument.id
            elif isinstance(argument, ast.Attribute):
                constant = argument.attr
            if constant is not None and not constant.endswith("_PATCH"):
                constant = None
            calls.append(PatchedCall(f"{module}:{node.lineno}", constant))
    return calls


def _patched_names(sources: dict[str, str]) -> int:
    """How often the name ``patched`` appears in code (not comments or strings)."""
    return sum(
        token.type == tokenize.NAME and token.string == "patched"
        for source in sources.values()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
    )


SOURCES = _sources()
CONSTANTS = _patch_constants(SOURCES)
CALLS = _patched_calls(SOURCES)
GUARDED = sorted({CONSTANTS[call.constant] for call in CALLS if call.constant in CONSTANTS})


def test_every_patched_call_names_a_patch_constant() -> None:
    """An inline id (or an alias of ``workflow.patched``) would hide a guard from the proof."""
    assert CALLS, "no workflow.patched call found in workflows/: is the scan still right?"
    unnamed = [call.where for call in CALLS if call.constant not in CONSTANTS]
    assert unnamed == [], (
        "pass a module-level *_PATCH constant (a string literal) to workflow.patched"
    )
    assert _patched_names(SOURCES) == len(CALLS), (
        "`patched` is used other than as workflow.patched(SOME_PATCH)"
    )


@pytest.mark.parametrize("patch_id", GUARDED)
async def test_without_its_guard_a_recorded_history_breaks(
    patch_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the change does unguarded: the new path runs on replay of an old history too.
    # The replayer's sandbox passes ``temporalio`` through, so it sees this module's patch.
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda id: id == patch_id or patched(id))
    # A history that has the patch's marker took the new path already: it cannot break.
    candidates = [path for path in HISTORIES if patch_id not in patches_of(path)]
    # Replayed as the worker runs workflows (its sandbox passes our modules through): a quarter
    # of the strict sandbox's cost, and a broken replay is broken under either.
    for path in candidates:
        if isinstance(await replay(path, SHARED_MODULES_SANDBOX), workflow.NondeterminismError):
            return
    pytest.fail(
        f"no recorded history breaks without the guard {patch_id!r}: record one from the"
        " commit before the change (docs/changing-workflows.md)"
    )


def test_the_patches_of_a_history_are_read_from_its_markers() -> None:
    year = HISTORIES_DIR / "quiet-effect-end" / "account-workflow-year-run-1.json"
    before = HISTORIES_DIR / "account-before-kickoff-announcement.json"
    assert "effect-end-wakes-main-loop-only-with-news" in patches_of(year)
    assert "effect-end-wakes-main-loop-only-with-news" not in patches_of(before)
