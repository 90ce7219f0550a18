"""The sandbox Slack page's server: its three files, the pass-through to the Slack fake's control
API, and how ``make run`` starts it (a taken or bad port leaves ``make run`` running)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_page import DEFAULT_PORT, SlackPage, page_port
from starter.devrun_slack import slack_page


@pytest.fixture
def page(slack_fake: SlackFake) -> Iterator[SlackPage]:
    with SlackPage(slack_fake.url, port=0) as running:
        yield running


def test_the_page_and_its_script_and_style_are_served(page: SlackPage) -> None:
    index = requests.get(f"{page.url}/", timeout=10)
    assert index.status_code == 200
    assert index.headers["Content-Type"].startswith("text/html")
    for asset in ("/slack_page.js", "/slack_page.css"):
        assert asset in index.text
        assert requests.get(f"{page.url}{asset}", timeout=10).status_code == 200
    assert requests.get(f"{page.url}/../slack.py", timeout=10).status_code == 404


def test_the_control_api_is_passed_through_to_the_fake_with_its_answer(
    page: SlackPage, slack_fake: SlackFake
) -> None:
    state = requests.get(f"{page.url}/__fake__/state", timeout=10).json()
    assert "dealcycle-trials" in [c["name"] for c in state["channels"]]

    # No app is set: the fake's refusal (status and reason) reaches the page unchanged.
    refused = requests.post(
        f"{page.url}/__fake__/home", data=json.dumps({"user": "U0PAGECE1"}), timeout=10
    )
    direct = requests.post(
        f"{slack_fake.url}/__fake__/home", json={"user": "U0PAGECE1"}, timeout=10
    )
    assert (refused.status_code, refused.json()) == (direct.status_code, direct.json())
    assert refused.status_code >= 400


def test_the_port_comes_from_the_environment() -> None:
    assert page_port({}) == DEFAULT_PORT == 8234
    assert page_port({"DEALCYCLE_SLACK_PAGE_PORT": "9876"}) == 9876
    with pytest.raises(ValueError, match="DEALCYCLE_SLACK_PAGE_PORT"):
        page_port({"DEALCYCLE_SLACK_PAGE_PORT": "eighty"})


def test_make_run_goes_on_without_the_page_when_its_port_is_taken(slack_fake: SlackFake) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with slack_page(slack_fake.url, {"DEALCYCLE_SLACK_PAGE_PORT": str(port)}) as started:
            assert started is None
    with slack_page(slack_fake.url, {"DEALCYCLE_SLACK_PAGE_PORT": "0"}) as started:
        assert started is not None
        assert requests.get(f"{started.url}/__fake__/state", timeout=10).status_code == 200
