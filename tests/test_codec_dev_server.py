"""Done when: customer text runs through a real dev server with the codec on, and
``temporal workflow show`` reads none of it without the codec, all of it through a running
``dealcycle codec-server``. Search attributes stay ids and enums."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from temporalio.client import Client, WorkflowHandle

from dealcycle.devtools.devserver import free_port, running_dev_server
from dealcycle.devtools.temporal_cli import find_temporal_cli
from dealcycle.fakes import SalesforceFake
from schemas.account import (
    AccountProfile,
    AccountStart,
    LifecycleStage,
    PlanContacts,
    SubmitAccountPlan,
    account_workflow_id,
)
from schemas.common import CustomerHealth, Region, Role, TechnicalWinStatus
from schemas.health import SetHealth
from schemas.opportunity import Stage
from schemas.search_attributes import ALL_KEYS, registrations
from schemas.security_review import SecurityReviewPhase
from schemas.trial import CompleteStep, StartTrialOverride, TrialInput, TrialPhase, TrialStart
from tests.support.codec import (
    ENCRYPTED,
    TEST_CODEC_ENV,
    payloads_in,
    plain_payload_paths,
    readable_text,
)
from tests.support.dev_temporal import DevHarness, dev_client, dev_harness_factory, on_free_ports
from tests.support.patience import settle
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight, quarter_of, quarter_start
from workflows.account_profile_rules import new_snapshot
from workflows.trial import TrialWorkflow

__all__ = ["dev_client", "dev_harness_factory"]  # the dev-server fixtures, shared

REPO_ROOT = Path(__file__).resolve().parents[1]
CE, AE = "U0CE00001", "U0AE00001"
ACCOUNT_ID, OPPORTUNITY_ID = "001QUILL", "006QUILL"
TOKEN = "codec-server-token-of-this-test"

ACCOUNT_NAME = "Quillfeather Logistics"
CHAMPION = "Priya Raman (VP Platform)"
ECONOMIC_BUYER = "Tomasz Wisniewski (CFO)"
ADMIN = "Ngozi Okafor (IT admin)"
RISK = "Priya is interviewing at Globodyne"
HEALTH_REASON = "Tomasz froze the tooling budget until March"
OVERRIDE_REASON = "Quillfeather's board review moved up a week"
STEP_NOTE = "Ngozi needs SSO through Okta before any rollout"
CUSTOMER_TEXT = [
    ACCOUNT_NAME,
    CHAMPION,
    ECONOMIC_BUYER,
    ADMIN,
    RISK,
    HEALTH_REASON,
    OVERRIDE_REASON,
    STEP_NOTE,
]
WORDS = ["Quillfeather", "Priya", "Tomasz", "Ngozi", "Globodyne", "Okta"]
"""Fragments of the text: none may show, whole or in part."""


def temporal_cli() -> Path:
    cli = find_temporal_cli(REPO_ROOT)
    if cli is None:
        pytest.fail("no Temporal CLI: run scripts/ensure-temporal-cli (make test does)")
    return cli


def workflow_show(address: str, workflow_id: str, *codec: str) -> str:
    shown = subprocess.run(
        [
            *(str(temporal_cli()), "workflow", "show", "-w", workflow_id),
            *("--address", address, "--output", "json", *codec),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


async def started_account(
    h: DevHarness, salesforce_fake: SalesforceFake
) -> WorkflowHandle[Any, Any]:
    """An account brought in last quarter, its state carried in as continue-as-new carries it,
    so this quarter's account plan is open on the dev server's real clock today."""
    salesforce_fake.add_record("Account", {"Id": ACCOUNT_ID, "Name": ACCOUNT_NAME})
    now = datetime.now(UTC)
    last_quarter = quarter_start(quarter_of(now)) - timedelta(days=1)
    start = AccountStart(
        ACCOUNT_ID,
        ACCOUNT_NAME,
        profile=AccountProfile(
            account_id=ACCOUNT_ID,
            account_name=ACCOUNT_NAME,
            tier=1,
            region=Region.US_EAST_EMEA.value,
            ae_owner=AE,
            ce_owner=CE,
            seats=120,
            renewal_date=midnight(now + timedelta(days=300)),
        ),
        stage=LifecycleStage.ADOPTION,
        config=h.settings.account_config(),
    )
    workflow_id = account_workflow_id(ACCOUNT_ID)
    carried = new_snapshot(start, last_quarter, f"{workflow_id}/brought-in")
    handle = await h.client.start_workflow(
        AccountWorkflow.run,
        replace(start, carried=carried),
        id=workflow_id,
        task_queue=h.task_queue,
    )
    h.track(handle)
    await settle(handle)  # its first run opens this quarter's plan
    return handle


@asynccontextmanager
async def codec_server(port: int) -> AsyncIterator[str]:
    """``dealcycle codec-server`` as an operator runs it, with the suite's key."""
    env = {
        **os.environ,
        **TEST_CODEC_ENV,
        "DEALCYCLE_CODEC_SERVER_TOKEN": TOKEN,
        "DEALCYCLE_CODEC_SERVER_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "dealcycle"),
        "codec-server",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                assert process.returncode is None, "the codec server exited"
                try:
                    async with session.options(f"{url}/decode"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        _, stderr = await process.communicate()
        # Never a payload or a key in its log.
        log = stderr.decode()
        assert not any(word in log for word in WORDS), log
        assert TEST_CODEC_ENV["DEALCYCLE_CODEC_KEYS"].split("=", 1)[1] not in log


def allowed_search_attribute_values() -> set[str]:
    enums = [LifecycleStage, Region, CustomerHealth, TechnicalWinStatus, Stage]
    stages = [phase.lifecycle_stage for phase in [*TrialPhase, *SecurityReviewPhase]]
    return {member.value for enum in enums for member in enum} | {
        *stages,
        ACCOUNT_ID,
        OPPORTUNITY_ID,
    }


def check_ids_and_enums(handle_attributes: Any) -> None:
    """Ours hold ids and enums; the server's own (BuildIds, TemporalChangeVersion: patch ids)
    hold no customer text either."""
    for pair in handle_attributes:
        if pair.key.name not in registrations():
            assert not any(word in str(pair.value) for word in WORDS), pair
            continue
        values = pair.value if isinstance(pair.value, list) else [pair.value]
        for value in values:
            if isinstance(value, str):
                assert value in allowed_search_attribute_values() or re.fullmatch(
                    r"U0[A-Z0-9]+", value
                ), (pair.key.name, value)
            else:
                assert isinstance(value, (int, bool, datetime)), (pair.key.name, value)


def test_search_attributes_are_ids_enums_dates_and_counts_only() -> None:
    """A new search attribute is stored unencrypted: it must be added here, knowingly."""
    assert registrations() == {
        "OpportunityId": "Keyword",
        "AccountId": "Keyword",
        "LifecycleStage": "Keyword",
        "TechnicalWinStatus": "Keyword",
        "CEOwner": "Keyword",
        "AEOwner": "Keyword",
        "Region": "Keyword",
        "AccountTier": "Int",
        "RenewalDate": "Datetime",
        "CustomerHealth": "Keyword",
        "NeedsAttention": "Bool",
        "StepOwners": "KeywordList",
        "NextDueAt": "Datetime",
        "OverdueSteps": "Int",
    }
    assert all(int(key.indexed_value_type) != 1 for key in ALL_KEYS)  # no free Text


async def test_histories_show_no_customer_text_without_the_codec_and_all_of_it_through_it(
    dev_harness_factory: Any, dev_client: Client, salesforce_fake: SalesforceFake
) -> None:
    async with dev_harness_factory() as h:
        account = await started_account(h, salesforce_fake)
        quarter = quarter_of(datetime.now(UTC))
        await account.execute_update(
            AccountWorkflow.submit_account_plan,
            SubmitAccountPlan(
                quarter=quarter,
                actor=CE,
                role=Role.CE,
                contacts=PlanContacts(CHAMPION, ECONOMIC_BUYER, "Lee (Staff Eng)", ADMIN),
                use_cases=["code search across 4,000 repos"],
                health="green",
                expansion_opportunities=["platform team"],
                risks=[RISK],
                product_feedback_themes=["faster indexing"],
                objectives=["80% weekly active"],
                next_steps="schedule admin training refresh",
                link="https://docs.example.com/plans/q",
            ),
        )
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("yellow", CE, Role.CE, HEALTH_REASON)
        )
        salesforce_fake.add_record("Opportunity", {"Id": OPPORTUNITY_ID, "Name": ACCOUNT_NAME})
        trial = h.track(
            await h.client.start_workflow(
                TrialWorkflow.run,
                TrialInput(
                    start=TrialStart(
                        OPPORTUNITY_ID,
                        ACCOUNT_ID,
                        ACCOUNT_NAME,
                        CE,
                        AE,
                        durations=h.settings.durations,
                    )
                ),
                id=f"trial-{OPPORTUNITY_ID}",
                task_queue=h.task_queue,
            )
        )
        await trial.execute_update(
            TrialWorkflow.complete_step,
            CompleteStep("technical_landscape", CE, Role.CE, STEP_NOTE),
        )
        await trial.execute_update(
            TrialWorkflow.start_with_override, StartTrialOverride(AE, Role.AE, OVERRIDE_REASON)
        )
        # The workflows' own reads decrypt: the client has the key.
        state = await account.query(AccountWorkflow.state)
        assert state.profile.account_name == ACCOUNT_NAME
        check_ids_and_enums((await account.describe()).typed_search_attributes)
        check_ids_and_enums((await trial.describe()).typed_search_attributes)

        address = dev_client.service_client.config.target_host
        async with codec_server(free_port()) as url:
            for handle, texts in (
                (account, [ACCOUNT_NAME, CHAMPION, ECONOMIC_BUYER, ADMIN, RISK, HEALTH_REASON]),
                (trial, [ACCOUNT_NAME, STEP_NOTE, OVERRIDE_REASON]),
            ):
                events = json.loads(workflow_show(address, handle.id))["events"]
                readable = readable_text(events)
                assert handle.id in readable  # ids are readable
                assert [word for word in WORDS if word in readable] == [], handle.id
                found = list(payloads_in(events))
                assert len(found) > 5
                assert plain_payload_paths(events) == []
                opened = workflow_show(
                    address,
                    handle.id,
                    "--codec-endpoint",
                    url,
                    "--codec-auth",
                    f"Bearer {TOKEN}",
                )
                decrypted = [payload for _, payload in payloads_in(json.loads(opened)["events"])]
                assert len(decrypted) == len(found)
                assert all(payload["metadata"]["encoding"] != ENCRYPTED for payload in decrypted)
                opened_text = readable_text(json.loads(opened)["events"])
                for text in texts:
                    assert text in opened_text, (handle.id, text)


async def test_a_dev_server_started_with_a_ui_codec_endpoint_tells_the_web_ui(
    tmp_path: Path,
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    async with contextlib.AsyncExitStack() as stack:
        server = await on_free_ports(
            stack,
            lambda: running_dev_server(
                state_dir=tmp_path,
                port=free_port(),
                ui_port=free_port(),
                search_attributes=registrations(),
                ui_codec_endpoint=endpoint,
            ),
        )
        session = await stack.enter_async_context(aiohttp.ClientSession())
        response = await stack.enter_async_context(session.get(f"{server.ui_url}/api/v1/settings"))
        settings = await response.json()
    assert settings["Codec"]["Endpoint"] == endpoint
