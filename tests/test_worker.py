"""The worker registers every activity the workflows call by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from temporalio.activity import _Definition

from activities.digest import DailyDigestActivities
from activities.handoff import AccountHandOffActivities
from activities.usage_feed import UsageFeedActivities
from dealcycle.settings import Settings, SettingsError
from schemas.health import HealthConfig
from worker import WORKFLOWS, build_activities
from workflows.effects import ACTIVITY_NAMES
from workflows.usage_feed import DELIVER_USAGE, READ_USAGE_PAGE


def test_every_activity_the_workflows_name_is_registered(
    tmp_path: Path, test_settings: Any
) -> None:
    registry = build_activities(test_settings)
    registered = {_Definition.must_from_callable(fn).name for fn in registry.functions}
    # Built with the Temporal client, in build_worker.
    registered.add(
        _Definition.must_from_callable(AccountHandOffActivities.hand_off_closed_deal).name
    )
    registered.add(
        _Definition.must_from_callable(AccountHandOffActivities.hand_off_closed_deals).name
    )
    registered.add(_Definition.must_from_callable(DailyDigestActivities.gather_daily_digests).name)
    feed = UsageFeedActivities.on(None, test_settings.database_url, test_settings.usage_feed)  # type: ignore[arg-type]
    registered |= {_Definition.must_from_callable(fn).name for fn in feed.functions}
    assert ACTIVITY_NAMES | {READ_USAGE_PAGE, DELIVER_USAGE} <= registered
    names = {defn.__temporal_workflow_definition.name for defn in WORKFLOWS}  # type: ignore[attr-defined]
    assert names == {
        "TrialWorkflow",
        "OpportunityWorkflow",
        "AccountWorkflow",
        "SecurityReviewWorkflow",
        "DailyDigestWorkflow",
        "ClosedWonIntakeWorkflow",
        "RedAccountWorkflow",
        "UsageFeedWorkflow",
        "OpportunityLookupWorkflow",
    }


def test_settings_reject_a_bad_duration_naming_the_variable() -> None:
    import pytest

    from dealcycle.settings import SettingsError

    with pytest.raises(SettingsError, match="DEALCYCLE_INTAKE_INTERVAL='soon' is not a duration"):
        Settings.from_env({"DEALCYCLE_INTAKE_INTERVAL": "soon"})
    with pytest.raises(SettingsError, match="DEALCYCLE_INTAKE_INTERVAL='2d' is longer than a day"):
        Settings.from_env({"DEALCYCLE_INTAKE_INTERVAL": "2d"})
    assert Settings.from_env({"DEALCYCLE_INTAKE_INTERVAL": "1d"}).intake_interval_seconds == 86_400


# --- Health settings -------------------------------------------------------------------------


def test_health_settings_default_to_the_health_config_defaults() -> None:
    assert Settings.from_env({}).health == HealthConfig()
    assert Settings.from_env({"DEALCYCLE_HEALTH_WEIGHTS": ""}).health == HealthConfig()


def test_health_settings_are_read_and_passed_to_every_account() -> None:
    settings = Settings.from_env(
        {
            "DEALCYCLE_HEALTH_WEIGHTS": " usage = 0.5, adoption=0.3 ,sentiment=0.2,",
            "DEALCYCLE_HEALTH_GREEN_AT": "75",
            "DEALCYCLE_HEALTH_YELLOW_AT": "45.5",
            "DEALCYCLE_RED_ACCOUNTS_CHANNEL": "#at-risk",
            "DEALCYCLE_RED_ACCOUNT_SLA": "2d",
            "DEALCYCLE_RED_ACCOUNT_REMINDER": "12h",
        }
    )
    expected = HealthConfig(
        usage_weight=0.5,
        adoption_weight=0.3,
        sentiment_weight=0.2,
        green_at=75.0,
        yellow_at=45.5,
        red_accounts_channel="#at-risk",
        action_plan_sla_seconds=2 * 86400,
        reminder_interval_seconds=12 * 3600,
    )
    assert settings.health == expected
    assert settings.account_config().health == expected


def test_health_weights_may_be_zero_or_a_hundred_and_the_thresholds_equal() -> None:
    health = Settings.from_env(
        {
            "DEALCYCLE_HEALTH_WEIGHTS": "usage=100,adoption=0,sentiment=0",
            "DEALCYCLE_HEALTH_GREEN_AT": "60",
            "DEALCYCLE_HEALTH_YELLOW_AT": "60",
        }
    ).health
    assert (health.usage_weight, health.adoption_weight, health.sentiment_weight) == (100, 0, 0)
    assert (health.green_at, health.yellow_at) == (60, 60)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "usage=0.5,speed=0.5"},
            "DEALCYCLE_HEALTH_WEIGHTS names 'speed'; use usage, adoption, sentiment",
        ),
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "Usage=0.5"},
            "DEALCYCLE_HEALTH_WEIGHTS names 'Usage'",
        ),
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "usage=-0.1"},
            "DEALCYCLE_HEALTH_WEIGHTS usage='-0.1' must be between 0 and 100",
        ),
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "sentiment=100.5"},
            "DEALCYCLE_HEALTH_WEIGHTS sentiment='100.5' must be between 0 and 100",
        ),
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "adoption=lots"},
            "DEALCYCLE_HEALTH_WEIGHTS adoption='lots' is not a number",
        ),
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "usage=nan"},
            "DEALCYCLE_HEALTH_WEIGHTS usage='nan' must be between 0 and 100",
        ),
        (
            {"DEALCYCLE_HEALTH_WEIGHTS": "usage=0,adoption=0,sentiment=0"},
            "DEALCYCLE_HEALTH_WEIGHTS must give some input a positive weight",
        ),
        (
            {"DEALCYCLE_HEALTH_GREEN_AT": "101"},
            "DEALCYCLE_HEALTH_GREEN_AT='101' must be between 0 and 100",
        ),
        (
            {"DEALCYCLE_HEALTH_YELLOW_AT": "-1"},
            "DEALCYCLE_HEALTH_YELLOW_AT='-1' must be between 0 and 100",
        ),
        (
            {"DEALCYCLE_HEALTH_GREEN_AT": "high"},
            "DEALCYCLE_HEALTH_GREEN_AT='high' is not a number",
        ),
        (
            {"DEALCYCLE_HEALTH_GREEN_AT": "60", "DEALCYCLE_HEALTH_YELLOW_AT": "65"},
            "DEALCYCLE_HEALTH_YELLOW_AT=65 must not be above DEALCYCLE_HEALTH_GREEN_AT=60",
        ),
        (
            {"DEALCYCLE_HEALTH_YELLOW_AT": "70.5"},
            "DEALCYCLE_HEALTH_YELLOW_AT=70.5 must not be above DEALCYCLE_HEALTH_GREEN_AT=70",
        ),
        (
            {"DEALCYCLE_RED_ACCOUNT_SLA": "0"},
            "DEALCYCLE_RED_ACCOUNT_SLA='0' must be longer than zero",
        ),
        (
            {"DEALCYCLE_RED_ACCOUNT_SLA": "0.5s"},
            "DEALCYCLE_RED_ACCOUNT_SLA='0.5s' is shorter than the shortest duration, 1s",
        ),
        (
            {"DEALCYCLE_RED_ACCOUNT_REMINDER": "daily"},
            "DEALCYCLE_RED_ACCOUNT_REMINDER='daily' is not a duration",
        ),
    ],
)
def test_bad_health_settings_are_rejected_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


@pytest.mark.parametrize("weights", ["usage", "usage=", "usage=0.5,adoption"])
def test_a_health_weight_without_a_value_is_rejected(weights: str) -> None:
    with pytest.raises(SettingsError, match="DEALCYCLE_HEALTH_WEIGHTS"):
        Settings.from_env({"DEALCYCLE_HEALTH_WEIGHTS": weights})


@pytest.mark.parametrize(
    "database_url",
    [
        "postgresql+psycopg://dealcycle:hunter2-pw@127.0.0.1:1/dealcycle",  # nothing listens
        "postgresql+psycopg://dealcycle:hunter2-pw@127.0.0.1:notaport/dealcycle",
        "not a url",
    ],
)
def test_a_database_the_worker_cannot_use_stops_it_naming_database_url(
    test_settings: Any, database_url: str
) -> None:
    from dataclasses import replace

    with pytest.raises(SystemExit) as stopped:
        build_activities(replace(test_settings, database_url=database_url))
    message = str(stopped.value)
    assert message.startswith("the worker cannot start: DATABASE_URL: "), message
    assert "hunter2" not in message
