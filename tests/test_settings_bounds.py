"""Settings the workflows are started with are held to the workflows' own input bounds
(``schemas.limits``) when they are read: a value out of them stops the command or the worker
naming the variable and its bound, instead of being accepted and then failing every start of a
workflow (a Closed Won hand-off included) with the name of a field the operator never set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dealcycle.settings import Settings, SettingsError
from schemas import limits
from starter.trials import trial_start_for
from starter.usage_feed import usage_feed_run

LONG_CHANNEL = "#" + "c" * 79
"""80 characters, the longest channel name a workflow takes."""

# (variable, the largest value the workflows take, a value just past it, what the error says)
BOUNDS = [
    ("DEALCYCLE_TRIAL_LENGTH_DAYS", "365", "366", "must be from 1 to 365"),
    ("DEALCYCLE_ACCOUNT_HISTORY_EVENT_LIMIT", "50000", "50001", "must be from 500 to 50000"),
    ("DEALCYCLE_CONTRACT_TERM_DAYS", "3650", "3651", "must be from 1 to 3650"),
    ("DEALCYCLE_KICKOFF_PLAN_DUE_DAYS", "3650", "3000000", "must be from 1 to 3650"),
    ("DEALCYCLE_VALUE_EXERCISE_LEAD_DAYS", "3650", "3000000", "must be from 1 to 3650"),
    ("DEALCYCLE_RENEWAL_PROPOSAL_LEAD_DAYS", "3650", "3000000", "must be from 1 to 3650"),
    ("DEALCYCLE_DAY_LENGTH", "3650d", "3651d", "longer than the longest, 3650d"),
    ("DEALCYCLE_PLANNING_ITEM_DUE", "3650d", "3651d", "longer than the longest, 3650d"),
    ("DEALCYCLE_OVERDUE_REMINDER_REPEAT", "3650d", "3651d", "longer than the longest, 3650d"),
    ("DEALCYCLE_SECURITY_REVIEW_DUE", "3650d", "3651d", "longer than the longest, 3650d"),
    ("DEALCYCLE_RED_ACCOUNT_SLA", "3650d", "3651d", "longer than the longest, 3650d"),
    ("DEALCYCLE_RED_ACCOUNT_REMINDER", "3650d", "3651d", "longer than the longest, 3650d"),
    ("DEALCYCLE_ACCOUNT_CHANNEL", LONG_CHANNEL, LONG_CHANNEL + "x", "at most 80 characters"),
    ("DEALCYCLE_TRIAL_CHANNEL", LONG_CHANNEL, LONG_CHANNEL + "x", "at most 80 characters"),
    ("DEALCYCLE_RED_ACCOUNTS_CHANNEL", LONG_CHANNEL, LONG_CHANNEL + "x", "at most 80 characters"),
    ("DEALCYCLE_OPS_CHANNEL", LONG_CHANNEL, LONG_CHANNEL + "x", "at most 80 characters"),
    ("DEALCYCLE_SECURITY_PM", "U0PM", "pm-bob", "a Slack member id"),
    ("DEALCYCLE_CE_LEADER", "W0LEAD", "lead@example.com", "a Slack member id"),
    ("DEALCYCLE_VALUE_ENGINEERING", "U0VE", "value-eng", "a Slack member id"),
    ("DEALCYCLE_USAGE_FEED_TIMEOUT", "1d", "2d", "must be from 10s to 1d"),
]


def _workflow_input_problems(settings: Settings) -> list[str]:
    """What the workflows would refuse in the inputs these settings start them with."""
    now = datetime.now(UTC)
    found = limits.problems(settings.account_config(), now)
    found += limits.problems(usage_feed_run(settings), now)
    renewal = now + timedelta(days=settings.durations.contract_term_days)
    found += filter(None, [limits.RENEWAL.problem(renewal, now)])
    trial_start_for(  # raises on a start the trial would refuse
        settings,
        opportunity_id="OPP-1",
        account_id="ACC-1",
        account_name="Acme",
        ce_owner="U0CE1",
        ae_owner="U0AE1",
    )
    return found


@pytest.mark.parametrize(("variable", "largest", "past", "says"), BOUNDS)
def test_the_largest_value_a_workflow_takes_is_accepted(
    variable: str, largest: str, past: str, says: str
) -> None:
    assert _workflow_input_problems(Settings.from_env({variable: largest})) == []


@pytest.mark.parametrize(("variable", "largest", "past", "says"), BOUNDS)
def test_a_value_past_it_is_refused_naming_the_variable_and_the_bound(
    variable: str, largest: str, past: str, says: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: past})
    assert str(refused.value).startswith(variable)
    assert says in str(refused.value)


def test_a_feed_timeout_under_ten_seconds_is_refused() -> None:
    with pytest.raises(SettingsError, match="DEALCYCLE_USAGE_FEED_TIMEOUT='5s' must be from 10s"):
        Settings.from_env({"DEALCYCLE_USAGE_FEED_TIMEOUT": "5s"})


def test_the_defaults_are_within_every_bound() -> None:
    assert _workflow_input_problems(Settings.from_env({})) == []


# (variable, a value just under its lowest, the bound the refusal must name)
OWN_BOUNDS = [
    ("DEALCYCLE_DIGEST_HOUR", "-1", "0 to 23"),
    ("DEALCYCLE_INTERNAL_QBR_DAY", "0", "1 to 90"),
    ("DEALCYCLE_TWO_TWO_REVIEW_DAY", "0", "1 to 90"),
    ("DEALCYCLE_TIER_2_3_PLAN_DUE_DAY", "-3", "1 to 90"),
    ("DEALCYCLE_QBR_DUE_DAY", "0", "1 to 90"),
    ("DEALCYCLE_ESCALATE_AFTER_REMINDERS", "0", "1 to 20"),
    ("DEALCYCLE_ESCALATE_AFTER_REMINDERS", "21", "1 to 20"),
    ("DEALCYCLE_RENEWAL_ASSESSMENT_DUE_DAYS", "29", "1 to 28"),
    ("DEALCYCLE_RENEWAL_ASSESSMENT_DUE_DAYS", "0", "1 to 28"),
    ("DEALCYCLE_MAX_CACHED_WORKFLOWS", "100001", "1 to 100000"),
]


@pytest.mark.parametrize(("variable", "out", "bound"), OWN_BOUNDS)
def test_a_value_out_of_a_bound_of_its_own_names_that_bound(
    variable: str, out: str, bound: str
) -> None:
    """Not the ten years in seconds every other whole-number setting may reach."""
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: out})
    assert str(refused.value).startswith(variable)
    assert bound in str(refused.value)
    assert "315360000" not in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DEALCYCLE_TEMPORAL_UI_URL", "notaurl", "is not a URL: write it whole"),
        ("DEALCYCLE_TEMPORAL_UI_URL", "localhost:8233", "is not a URL: write it whole"),
        ("SALESFORCE_API_VERSION", "abc", "is not a Salesforce REST API version"),
        ("SALESFORCE_API_VERSION", "v62.0", "is not a Salesforce REST API version"),
        ("SALESFORCE_API_VERSION", "62", "is not a Salesforce REST API version"),
    ],
)
def test_a_link_base_or_an_api_version_of_the_wrong_shape_is_refused(
    variable: str, value: str, says: str
) -> None:
    """Both were taken: every link the CLI and Slack showed, every Salesforce call, broken."""
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(f"{variable}={value!r}")
    assert says in str(refused.value)


def test_a_link_base_and_an_api_version_of_the_right_shape_are_taken() -> None:
    settings = Settings.from_env(
        {
            "DEALCYCLE_TEMPORAL_UI_URL": "https://temporal.example.com/",
            "SALESFORCE_API_VERSION": "59.0",
        }
    )
    assert settings.temporal_ui_url == "https://temporal.example.com"
    assert settings.salesforce.api_version == "59.0"
