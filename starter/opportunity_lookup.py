"""Does Salesforce have this Opportunity? Asked of the worker, not of Salesforce.

``renewal-outcome … new_team`` checks the new team's Opportunity before it sends the outcome.
The worker reads it (``OpportunityLookupWorkflow``: one GET on the Salesforce session it
already holds), so the CLI neither logs in to Salesforce nor reads it: one Salesforce call
where the CLI's own read took two (a login and a GET).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import TimeoutError as WorkflowTimeoutError

from dealcycle.settings import Settings
from schemas import start_summaries
from schemas.opportunity_lookup import (
    OPPORTUNITY_LOOKUP_ID_PREFIX,
    OpportunityFound,
    OpportunityLookup,
)
from starter.errors import failure_reason
from starter.trials import CommandError, within_limits
from workflows.opportunity_lookup import OpportunityLookupWorkflow

LOOKUP_WAIT_SECONDS = 60.0
"""How long the CLI waits for a worker to answer; the lookup's run ends then too (nobody
would read a later answer)."""


async def require_opportunity(
    client: Client, settings: Settings, opportunity_id: str
) -> OpportunityFound:
    """The Opportunity as the worker found it; a ``CommandError`` when Salesforce has none,
    when the read failed, or when no worker answered in time."""
    lookup = OpportunityLookup(opportunity_id)
    within_limits(lookup)
    workflow_id = (
        f"{OPPORTUNITY_LOOKUP_ID_PREFIX}{opportunity_id}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    )
    no_worker = CommandError(
        f"no worker looked up Opportunity {opportunity_id} within {LOOKUP_WAIT_SECONDS:g} s"
        f" (is `dealcycle worker` running on task queue {settings.task_queue!r}?); nothing"
        " was sent to the account"
    )
    try:
        found: OpportunityFound = await asyncio.wait_for(
            client.execute_workflow(
                OpportunityLookupWorkflow.run,
                lookup,
                id=workflow_id,
                task_queue=settings.task_queue,
                static_summary=start_summaries.opportunity_lookup(opportunity_id).summary,
                execution_timeout=timedelta(seconds=LOOKUP_WAIT_SECONDS),
            ),
            LOOKUP_WAIT_SECONDS,
        )
    except TimeoutError:
        raise no_worker from None
    except WorkflowFailureError as err:
        if isinstance(err.cause, WorkflowTimeoutError):
            raise no_worker from None
        why = failure_reason(err)
        raise CommandError(
            f"the lookup of Opportunity {opportunity_id} in Salesforce failed: {why}"
        ) from None
    if not found.found:
        raise CommandError(f"Salesforce has no Opportunity {opportunity_id!r}")
    return found
