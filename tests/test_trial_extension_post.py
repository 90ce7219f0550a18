"""The Slack post of a trial extension, on the dev server: the license signer keeps every key
valid for at least a day from the real clock, so a trial of short (demo) days has keys that
outlive it. The time-skipping server's clock runs ahead of the signer's, so it never shows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.licensing import MINIMUM_VALIDITY
from dealcycle.db.engine import make_engine
from dealcycle.db.models import LicenseKey
from schemas.common import Durations, Role
from schemas.trial import ExtendTrial, TrialInput, TrialState, trial_workflow_id
from tests.support.dev_temporal import dev_client, dev_harness_factory
from tests.test_trial_workflow import CE, CHANNEL, complete_planning, settled_state, trial_start
from workflows.summaries import utc_minute
from workflows.trial import TrialWorkflow

__all__ = ["dev_client", "dev_harness_factory"]  # the dev-server fixtures, shared


async def extension_posts(slack_fake: Any) -> list[str]:
    for _ in range(200):
        posts = [m.text for m in slack_fake.messages_in(CHANNEL) if "extended to" in m.text]
        if posts:
            return posts
        await asyncio.sleep(0.05)
    raise AssertionError("the extension was never announced")


async def test_the_extension_post_states_the_trials_new_end_not_the_keys_expiry(
    dev_harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    # Minute-long days: the trial ends 13 minutes after it starts, its new key a day later.
    async with dev_harness_factory(durations=Durations(day_seconds=60)) as harness:
        salesforce_fake.add_record("Opportunity", {"Id": "006SHORT", "Name": "Acme 006SHORT"})
        handle = harness.track(
            await harness.client.start_workflow(
                TrialWorkflow.run,
                TrialInput(start=trial_start("006SHORT", harness, length_days=10)),
                id=trial_workflow_id("006SHORT"),
                task_queue=harness.task_queue,
            )
        )
        await complete_planning(handle)
        await settled_state(handle)
        await handle.execute_update(
            TrialWorkflow.extend_trial, ExtendTrial(3, "more data", CE, Role.CE)
        )

        posts = await extension_posts(slack_fake)

        view: TrialState = await handle.query(TrialWorkflow.state)
        assert view.started_at is not None and view.ends_at is not None
        assert view.ends_at == view.started_at + timedelta(minutes=13)
        with Session(make_engine(harness.settings.database_url)) as session:
            expiries = session.execute(select(LicenseKey.expires_at)).scalars().all()
        # The key outlives the trial (SQLite hands back UTC without its zone).
        key_expiry = max(expiries).replace(tzinfo=view.ends_at.tzinfo)
        assert key_expiry >= view.started_at + MINIMUM_VALIDITY
        assert posts == [
            "Trial for Acme (006SHORT) extended to"
            f" <!date^{int(view.ends_at.timestamp())}^{{date_short_pretty}} at {{time}}"
            f"|{utc_minute(view.ends_at)}>: more data. New trial key {view.license_key_ids[-1]}."
        ]
