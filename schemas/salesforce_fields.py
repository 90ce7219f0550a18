"""Every Salesforce object and field dealcycle reads or writes: the one list.

An org set up from this list works with dealcycle, so the list is used wherever fields matter:
the Salesforce fake builds its custom fields from it (a write to any other answers
``INVALID_FIELD``, as Salesforce does), the activities clip text to its lengths, the README's
set-up table is checked against it, the Salesforce DX source under ``salesforce/`` (custom
fields and the integration permission set) is generated from it (``python -m tools.sfdx``),
and a test fails when code names a field missing here.
Imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Access = Literal["read", "write", "read/write"]

TEXT_TYPES = frozenset({"Text", "Long Text Area", "URL", "Picklist"})
"""Types whose values are strings with a length limit."""


@dataclass(frozen=True)
class SalesforceField:
    sobject: str
    name: str
    """API name; custom fields end in ``__c``."""
    type: str
    """As Setup names it: Text, Long Text Area, URL, Picklist, Number, Currency, Date,
    Date/Time, Lookup, Id."""
    length: int | None
    """Most characters a value may have (text types); Salesforce refuses longer values with
    ``STRING_TOO_LONG``, so the activities clip to it."""
    access: Access
    purpose: str
    external_id: bool = False
    """External ID, unique, case-sensitive (``Dealcycle_Key__c``: Tasks are upserted on it)."""
    values: tuple[str, ...] = ()
    """A custom picklist's values (the Salesforce DX source creates the field with them)."""

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def writes(self) -> bool:
        return "write" in self.access

    @property
    def label(self) -> str:
        """What Setup shows: the API name without ``__c``, underscores as spaces."""
        return self.name.removesuffix("__c").replace("_", " ")


def _field(
    sobject: str,
    name: str,
    type_: str,
    length: int | None,
    access: Access,
    purpose: str,
    *,
    external_id: bool = False,
    values: tuple[str, ...] = (),
) -> SalesforceField:
    return SalesforceField(sobject, name, type_, length, access, purpose, external_id, values)


SALESFORCE_FIELDS: tuple[SalesforceField, ...] = (
    # Opportunity --------------------------------------------------------------------------
    _field("Opportunity", "Id", "Id", None, "read", "the intake's SOQL; workflows key on it"),
    _field("Opportunity", "Name", "Text", 120, "read", "the intake's SOQL"),
    _field(
        "Opportunity",
        "StageName",
        "Picklist",
        255,
        "read/write",
        "the opportunity's stage, mirrored from OpportunityWorkflow; the intake finds Closed Won"
        " deals by it (the values are Salesforce's defaults, `Stage 1 - …` to `Closed Lost`)",
    ),
    _field(
        "Opportunity", "AccountId", "Lookup", None, "read", "the account a won deal hands off to"
    ),
    _field(
        "Opportunity", "Type", "Picklist", 255, "read", "new, expansion or renewal, at hand-off"
    ),
    _field("Opportunity", "LastModifiedDate", "Date/Time", None, "read", "the intake's watermark"),
    _field(
        "Opportunity",
        "CloseDate",
        "Date",
        None,
        "read",
        "when the deal closed, at hand-off: the first renewal is one contract term later; a deal"
        " that closed before its account's workflow ended starts nothing",
    ),
    _field("Opportunity", "Amount", "Currency", None, "read", "the deal's amount, at hand-off"),
    _field(
        "Opportunity",
        "Seats__c",
        "Number",
        None,
        "read",
        "the seats the deal sold, at hand-off (the account's seats; an expansion adds them)",
    ),
    _field(
        "Opportunity",
        "Technical_Win_Status__c",
        "Text",
        255,
        "write",
        "the technical win the CE sets (Not started, In progress, At risk, Won, Lost)",
    ),
    _field("Opportunity", "Trial_Start_Date__c", "Date", None, "write", "when the trial started"),
    _field(
        "Opportunity",
        "Trial_End_Date__c",
        "Date",
        None,
        "write",
        "when the trial ends (moves with extensions; the day it ended if concluded early)",
    ),
    _field(
        "Opportunity",
        "Trial_Outcome__c",
        "Text",
        255,
        "write",
        "how the trial ended (technical_win, technical_loss, no_decision)",
    ),
    _field(
        "Opportunity",
        "Closed_Lost_Reason__c",
        "Text",
        255,
        "write",
        "why the deal was lost (clipped; the full reason stays in the workflow)",
    ),
    # Account ------------------------------------------------------------------------------
    _field("Account", "Id", "Id", None, "read", "workflows key on it"),
    _field(
        "Account",
        "Name",
        "Text",
        255,
        "read",
        "the customer's name at hand-off (read as `Account.Name` in the deal's query)",
    ),
    _field(
        "Account",
        "Type",
        "Picklist",
        255,
        "write",
        "set to `Former Customer` when the account churns (add that value to the picklist)",
    ),
    _field(
        "Account",
        "Customer_Health__c",
        "Text",
        255,
        "write",
        "the health colour (Green, Yellow, Red)",
    ),
    _field(
        "Account",
        "Notes_Next_Steps__c",
        "Long Text Area",
        32768,
        "write",
        "the latest account plan's next steps",
    ),
    _field(
        "Account", "Account_Plan_Link__c", "URL", 255, "write", "link to the latest account plan"
    ),
    _field(
        "Account",
        "Tier__c",
        "Text",
        255,
        "read/write",
        "the account's tier (1, 2 or 3); read at hand-off, written when it changes",
    ),
    _field("Account", "Renewal_Date__c", "Date", None, "write", "the next renewal date"),
    _field(
        "Account",
        "Region__c",
        "Text",
        255,
        "read",
        "the region at hand-off (`US West / APAC`, `US East / EMEA`)",
    ),
    _field(
        "Account",
        "Deployment_Type__c",
        "Picklist",
        255,
        "read",
        "the deployment at hand-off (`self-hosted`, `managed`, `cloud`)",
        values=("self-hosted", "managed", "cloud"),
    ),
    # Task ---------------------------------------------------------------------------------
    _field("Task", "Id", "Id", None, "read", "the Task an upsert wrote"),
    _field("Task", "Subject", "Text", 255, "write", "what is to be done"),
    _field("Task", "WhatId", "Lookup", None, "write", "the opportunity or account it is about"),
    _field("Task", "ActivityDate", "Date", None, "write", "the due date"),
    _field(
        "Task",
        "Description",
        "Long Text Area",
        32000,
        "write",
        "details, and the dealcycle owner (a Slack member id)",
    ),
    _field(
        "Task",
        "Dealcycle_Key__c",
        "Text",
        255,
        "write",
        "the idempotency key: Tasks are upserted on it, so a retry never makes a second Task",
        external_id=True,
    ),
)


def find_field(sobject: str, name: str) -> SalesforceField | None:
    """The entry for ``sobject.name`` (Salesforce names are case-insensitive), if listed."""
    wanted = (sobject.lower(), name.lower())
    for entry in SALESFORCE_FIELDS:
        if (entry.sobject.lower(), entry.name.lower()) == wanted:
            return entry
    return None


def fields_of(sobject: str) -> tuple[SalesforceField, ...]:
    return tuple(f for f in SALESFORCE_FIELDS if f.sobject.lower() == sobject.lower())
