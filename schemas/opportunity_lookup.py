"""Contracts of the Opportunity lookup: does Salesforce have this Opportunity?

``dealcycle account renewal-outcome ACCOUNT new_team --opportunity 006…`` asks before it sends
the outcome (the expansion workflow it starts could not write to an Opportunity that does not
exist). The worker answers, with one GET on the Salesforce session it already holds: the CLI
neither logs in to Salesforce nor reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

OPPORTUNITY_LOOKUP_WORKFLOW_TYPE = "OpportunityLookupWorkflow"
OPPORTUNITY_LOOKUP_ID_PREFIX = "salesforce-lookup-opportunity-"
"""Not ``opportunity-``: that prefix names the opportunities' own workflows."""


@dataclass(frozen=True)
class OpportunityLookup:
    opportunity_id: str


@dataclass(frozen=True)
class OpportunityFound:
    """What Salesforce said: ``found`` False when it has no such Opportunity (an answer, not
    an error)."""

    opportunity_id: str
    found: bool
    name: str = ""
