"""With the codec on (as the whole suite runs), a workflow's history holds its customer text
only encrypted, failure messages included, while the workflow and its clients read it plain."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.worker import Replayer

from dealcycle.codec import ENCODING
from dealcycle.fakes import SalesforceFake
from schemas.common import Role
from schemas.trial import CompleteStep, StartTrialOverride, TrialInput, TrialStart
from tests.support.codec import (
    TEST_DATA_CONVERTER,
    failure_message,
    plain_payload_paths,
    readable_text,
)
from tests.support.patience import settle
from workflows.trial import TrialWorkflow

CE, AE = "U0CE00001", "U0AE00001"
ACCOUNT_NAME = "Quillfeather Logistics"
NOTE = "Ngozi Okafor needs SSO through Okta before any rollout"
REASON = "the Quillfeather board review moved up a week"
INVALID_FIELD = [{"errorCode": "INVALID_FIELD", "message": "No such column 'Tier__c'"}]


async def test_a_trials_history_holds_its_customer_text_encrypted_only(
    harness_factory: Any, salesforce_fake: SalesforceFake
) -> None:
    salesforce_fake.add_record("Opportunity", {"Id": "006QUILL", "Name": ACCOUNT_NAME})
    # A refused Salesforce write: its activity failure is in the history, message encoded.
    salesforce_fake.fail_next("PATCH", r"/sobjects/Opportunity/006QUILL", 400, INVALID_FIELD)
    async with harness_factory() as h:
        start = TrialStart(
            "006QUILL", "001QUILL", ACCOUNT_NAME, CE, AE, durations=h.settings.durations
        )
        trial = h.track(
            await h.client.start_workflow(
                TrialWorkflow.run,
                TrialInput(start=start),
                id="trial-006QUILL",
                task_queue=h.task_queue,
                # The Web UI's summaries are payloads too: encrypted like the rest.
                static_summary=f"{ACCOUNT_NAME} · trial",
            )
        )
        await trial.execute_update(
            TrialWorkflow.complete_step, CompleteStep("technical_landscape", CE, Role.CE, NOTE)
        )
        accepted = await trial.execute_update(
            TrialWorkflow.start_with_override, StartTrialOverride(AE, Role.AE, REASON)
        )
        assert accepted.message
        await settle(trial)
        # Read through the client (it holds the key): all plain.
        state = await trial.query(TrialWorkflow.state)
        assert NOTE in [step.note for step in state.steps]

        history = await trial.fetch_history()
        raw = readable_text(history.to_json_dict()["events"])
        assert "006QUILL" in raw  # ids are readable
        for word in ("Quillfeather", "Ngozi", "Okta", "board review", "Tier__c"):
            assert word not in raw, word
        assert plain_payload_paths(history.to_json_dict()["events"]) == []
        summary = history.events[0].user_metadata.summary
        assert summary.metadata["encoding"] == ENCODING
        assert await TEST_DATA_CONVERTER.decode([summary]) == [f"{ACCOUNT_NAME} · trial"]
        failures = [
            event.activity_task_failed_event_attributes.failure
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
        ]
        assert failures, "the refused write left no failed activity"
        assert all(failure.message == "Encoded failure" for failure in failures)
        assert "Tier__c" in await failure_message(failures[0])

        # A worker that lost the workflow from its cache replays the encrypted history.
        replayer = Replayer(workflows=[TrialWorkflow], data_converter=TEST_DATA_CONVERTER)
        await replayer.replay_workflow(history)
