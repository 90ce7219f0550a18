"""The worker's workflow cache is sized by ``DEALCYCLE_MAX_CACHED_WORKFLOWS`` (the size the
full-scale bench shows keeps a worker under 1 GB)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from temporalio.testing import WorkflowEnvironment

from dealcycle.settings import Settings, SettingsError
from worker import build_activities, build_worker


def test_the_cache_size_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).max_cached_workflows == 1_000
    assert Settings.from_env({"DEALCYCLE_MAX_CACHED_WORKFLOWS": "250"}).max_cached_workflows == 250


@pytest.mark.parametrize("raw", ["0", "-5", "many"])
def test_a_cache_size_that_is_not_a_positive_number_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match="DEALCYCLE_MAX_CACHED_WORKFLOWS"):
        Settings.from_env({"DEALCYCLE_MAX_CACHED_WORKFLOWS": raw})


async def test_the_worker_caches_as_many_workflows_as_the_settings_say(
    time_skipping_env: WorkflowEnvironment, test_settings: Settings
) -> None:
    settings = replace(test_settings, max_cached_workflows=123)
    worker = build_worker(time_skipping_env.client, settings, build_activities(settings))
    assert worker.config()["max_cached_workflows"] == 123
