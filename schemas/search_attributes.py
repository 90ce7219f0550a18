"""Custom search attributes: what an engineer filters on in the Temporal UI.

Values are internal ids and stage names only: search attributes are stored unencrypted.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

OPPORTUNITY_ID = SearchAttributeKey.for_keyword("OpportunityId")
ACCOUNT_ID = SearchAttributeKey.for_keyword("AccountId")
LIFECYCLE_STAGE = SearchAttributeKey.for_keyword("LifecycleStage")
TECHNICAL_WIN_STATUS = SearchAttributeKey.for_keyword("TechnicalWinStatus")
CE_OWNER = SearchAttributeKey.for_keyword("CEOwner")
AE_OWNER = SearchAttributeKey.for_keyword("AEOwner")
REGION = SearchAttributeKey.for_keyword("Region")
ACCOUNT_TIER = SearchAttributeKey.for_int("AccountTier")
RENEWAL_DATE = SearchAttributeKey.for_datetime("RenewalDate")
CUSTOMER_HEALTH = SearchAttributeKey.for_keyword("CustomerHealth")
NEEDS_ATTENTION = SearchAttributeKey.for_bool("NeedsAttention")
"""True while the workflow has a failed effect a person must retry or skip."""
STEP_OWNERS = SearchAttributeKey.for_keyword_list("StepOwners")
"""Slack member ids of the people who own an open step of the workflow (the AE, the CE, a
Value Engineer, the region's Security CE...): the to-do list's one visibility query."""
NEXT_DUE_AT = SearchAttributeKey.for_datetime("NextDueAt")
"""The earliest due date among the workflow's open steps while one has a due date; with none,
it keeps its last value (it is never removed: see ``workflows.visibility``)."""
OVERDUE_STEPS = SearchAttributeKey.for_int("OverdueSteps")
"""Open steps past their due date when the workflow last woke. It wakes for a step's reminders
(the overdue reminder delay after its due date), not at the due date itself, so a step counts
here from its first reminder; ``dealcycle todo`` and ``dealcycle status`` judge by the clock."""

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    OPPORTUNITY_ID,
    ACCOUNT_ID,
    LIFECYCLE_STAGE,
    TECHNICAL_WIN_STATUS,
    CE_OWNER,
    AE_OWNER,
    REGION,
    ACCOUNT_TIER,
    RENEWAL_DATE,
    CUSTOMER_HEALTH,
    NEEDS_ATTENTION,
    STEP_OWNERS,
    NEXT_DUE_AT,
    OVERDUE_STEPS,
)


KEYWORD_KEYS: tuple[SearchAttributeKey[str], ...] = (
    OPPORTUNITY_ID,
    ACCOUNT_ID,
    LIFECYCLE_STAGE,
    TECHNICAL_WIN_STATUS,
    CE_OWNER,
    AE_OWNER,
    REGION,
    CUSTOMER_HEALTH,
)


def cli_type_name(key: SearchAttributeKey[Any]) -> str:
    """The type name ``temporal server start-dev --search-attribute NAME=TYPE`` expects."""
    return {
        1: "Text",
        2: "Keyword",
        3: "Int",
        4: "Double",
        5: "Bool",
        6: "Datetime",
        7: "KeywordList",
    }[int(key.indexed_value_type)]


def registrations() -> dict[str, str]:
    """``{name: CLI type}`` for every custom search attribute."""
    return {key.name: cli_type_name(key) for key in ALL_KEYS}
