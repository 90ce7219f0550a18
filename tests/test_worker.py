"""The worker registers every activity the workflows call by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.activity import _Definition

from activities.handoff import AccountHandOffActivities
from dealcycle.settings import Settings
from worker import WORKFLOWS, build_activities
from workflows.effects import ACTIVITY_NAMES


def test_every_activity_the_workflows_name_is_registered(
    tmp_path: Path, test_settings: Any
) -> None:
    registry = build_activities(test_settings)
    registered = {_Definition.must_from_callable(fn).name for fn in registry.functions}
    # Built with the Temporal client, in build_worker.
    registered.add(
        _Definition.must_from_callable(AccountHandOffActivities.hand_off_closed_deal).name
    )
    assert ACTIVITY_NAMES <= registered, ACTIVITY_NAMES - registered
    names = {defn.__temporal_workflow_definition.name for defn in WORKFLOWS}  # type: ignore[attr-defined]
    assert names == {
        "TrialWorkflow",
        "OpportunityWorkflow",
        "AccountWorkflow",
        "SecurityReviewWorkflow",
        "ClosedWonIntakeWorkflow",
    }


def test_settings_reject_a_bad_duration_naming_the_variable() -> None:
    import pytest

    from dealcycle.settings import SettingsError

    with pytest.raises(SettingsError, match="DEALCYCLE_INTAKE_INTERVAL='soon' is not a duration"):
        Settings.from_env({"DEALCYCLE_INTAKE_INTERVAL": "soon"})
