"""``OpportunityLookupWorkflow``: does Salesforce have this Opportunity? One activity, one answer.

Started by ``dealcycle account renewal-outcome … new_team`` before it sends the outcome, so the
read goes through the worker, on the Salesforce session it already holds (one GET), rather
than from the CLI (a login and a GET). Not found is an answer (``found`` False); only a failed
read fails the run, and the CLI names it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits
    from schemas.opportunity_lookup import (
        OPPORTUNITY_LOOKUP_WORKFLOW_TYPE,
        OpportunityFound,
        OpportunityLookup,
    )
    from workflows.roster import LOOKUP_ATTEMPT, LOOKUP_BUDGET, LOOKUP_RETRY

LOOK_UP_OPPORTUNITY = "look_up_opportunity"


@workflow.defn(name=OPPORTUNITY_LOOKUP_WORKFLOW_TYPE)
class OpportunityLookupWorkflow:
    @workflow.run
    async def run(self, lookup: OpportunityLookup) -> OpportunityFound:
        limits.check(lookup, workflow.now(), "cannot look up the opportunity: ")
        # Someone waits on it, as on the roster: a few quick tries, then the CLI says what failed.
        found: OpportunityFound = await workflow.execute_activity(
            LOOK_UP_OPPORTUNITY,
            lookup,
            result_type=OpportunityFound,
            start_to_close_timeout=LOOKUP_ATTEMPT,
            schedule_to_close_timeout=LOOKUP_BUDGET,
            retry_policy=LOOKUP_RETRY,
            summary=f"Salesforce: read Opportunity {lookup.opportunity_id}",
        )
        return found
