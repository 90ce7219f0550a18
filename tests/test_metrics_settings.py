"""Metrics settings, and how an external call is named and judged for its counter (as the
activities treat it, without a server: the scrape test shows them counted)."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from activities.salesforce import _called as salesforce_called
from activities.salesforce import _outcome_of as salesforce_outcome
from dealcycle.metrics import MetricsSettings, prometheus_runtime
from dealcycle.settings import Settings, SettingsError
from schemas.metrics import CallOutcome

LIMIT = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
ACCESS = [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}]
EXPIRED = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
FIELD = [{"errorCode": "INVALID_FIELD", "message": "No such column"}]
DATA = "https://x.my.salesforce.com/services/data/v62.0"


def test_metrics_settings_come_from_the_environment() -> None:
    assert Settings.from_env({}).metrics == MetricsSettings()
    settings = Settings.from_env(
        {
            "DEALCYCLE_METRICS_PORT": "9464",
            "DEALCYCLE_METRICS_HOST": "0.0.0.0",
            "DEALCYCLE_METRICS_INTERVAL": "30s",
        }
    ).metrics
    assert (settings.port, settings.bind_address, settings.interval_seconds) == (
        9464,
        "0.0.0.0:9464",
        30,
    )
    with pytest.raises(SettingsError, match="DEALCYCLE_METRICS_PORT='http'"):
        Settings.from_env({"DEALCYCLE_METRICS_PORT": "http"})
    with pytest.raises(SettingsError, match="DEALCYCLE_METRICS_PORT='70000'"):
        Settings.from_env({"DEALCYCLE_METRICS_PORT": "70000"})


def test_a_port_in_use_stops_the_worker_naming_the_variables() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError, match="DEALCYCLE_METRICS_PORT"):
            prometheus_runtime(MetricsSettings(port=port))


def answer(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"id": "00T1"}, CallOutcome.OK),
        (204, None, CallOutcome.OK),
        (403, LIMIT, CallOutcome.RATE_LIMITED),
        (403, ACCESS, CallOutcome.PERMANENT_ERROR),
        (401, EXPIRED, CallOutcome.RETRYABLE_ERROR),
        (503, "<html>down</html>", CallOutcome.RETRYABLE_ERROR),
        (400, FIELD, CallOutcome.PERMANENT_ERROR),
        (400, [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "x"}], CallOutcome.RETRYABLE_ERROR),
        (400, {"error": "invalid_grant"}, CallOutcome.PERMANENT_ERROR),
    ],
)
def test_a_salesforce_answer_counts_as_the_activities_treat_it(
    status: int, body: object, outcome: CallOutcome
) -> None:
    assert salesforce_outcome(answer(status, body)) is outcome


@pytest.mark.parametrize(
    ("url", "called"),
    [
        ("https://x.my.salesforce.com/services/oauth2/token", "POST oauth2/token"),
        (f"{DATA}/query/?q=SELECT+Id", "POST query"),
        (f"{DATA}/sobjects/Task/Dealcycle_Key__c/acct%2F1", "POST sobjects/Task"),
        (f"{DATA}/sobjects/Account/001ABC", "POST sobjects/Account"),
        ("https://x/elsewhere", "POST other"),
    ],
)
def test_a_salesforce_call_is_named_without_ids(url: str, called: str) -> None:
    assert salesforce_called("post", url) == called
