"""Reading won deals from Salesforce: one SOQL query gives the deal and its account.

The intake's poll and ``dealcycle deal-closed`` read the same fields the same way, so a deal
handed off by either carries the same facts: the account's name, region, deployment and tier
through the ``Account`` relationship (no Account read per deal), the deal's ``CloseDate``
(the first renewal is one contract term after it), its seats and amount. A value Salesforce
holds that dealcycle cannot use (a region outside the two, a tier of 7) is left out rather than
sent: the account's workflow would drop a hand-off with a field out of bounds, and the profile
command fills in what is missing.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from schemas import limits
from schemas.common import DeploymentType, Region
from schemas.intake import ClosedWonDeal

DEAL_FIELDS = (
    "SELECT Id, AccountId, StageName, Type, Amount, CloseDate, Seats__c, LastModifiedDate,"
    " Account.Name, Account.Region__c, Account.Deployment_Type__c, Account.Tier__c"
    " FROM Opportunity"
)
"""The one SELECT both readers use (a test checks every field it names is listed in
``schemas.salesforce_fields``)."""


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal, to the millisecond when the moment has any (Salesforce keeps
    whole seconds, so its own values print as ``2026-11-24T10:00:00Z``)."""
    utc = moment.astimezone(UTC)
    if utc.microsecond // 1000:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_string(text: str) -> str:
    quoted = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{quoted}'"


def closed_won_since(since: datetime, limit: int, after_id: str = "") -> str:
    """A page of Closed Won deals in the order ``(LastModifiedDate, Id)``.

    With ``after_id``, the deals after ``(since, after_id)`` (keyset paging: however many
    deals share one second, each page starts where the last one ended); without it (a first
    poll, or a watermark saved before the intake paged by Id), those modified at ``since`` or
    later.
    """
    moment = soql_datetime(since)
    if after_id:
        where = (
            f"(LastModifiedDate > {moment} OR"
            f" (LastModifiedDate = {moment} AND Id > {soql_string(after_id)}))"
        )
    else:
        where = f"LastModifiedDate >= {moment}"
    return (
        f"{DEAL_FIELDS} WHERE StageName = 'Closed Won' AND {where}"
        f" ORDER BY LastModifiedDate ASC, Id ASC LIMIT {int(limit)}"
    )


def one_deal(opportunity_id: str) -> str:
    return f"{DEAL_FIELDS} WHERE Id = {soql_string(opportunity_id)} LIMIT 1"


def refusal(opportunity_id: str, records: list[dict[str, Any]]) -> str:
    """Why the record ``one_deal`` read is no deal to hand off; empty when it is one."""
    if not records:
        return f"Salesforce has no Opportunity {opportunity_id!r}"
    stage = records[0].get("StageName")
    if stage != "Closed Won":
        # A record without a stage (null, or the field left out) is said so, not as "None".
        has = (
            f"it is {stage!r}"
            if isinstance(stage, str) and stage.strip()
            else "it has no StageName"
        )
        return f"{opportunity_id} is not Closed Won ({has}); nothing was handed off"
    if not records[0].get("AccountId"):
        return f"{opportunity_id} has no AccountId in Salesforce; nothing was handed off"
    return ""


def salesforce_time(raw: str) -> datetime:
    """Salesforce writes ``2026-11-24T10:00:00.000+0000``."""
    return datetime.strptime(raw.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


def close_date(raw: object) -> datetime | None:
    """``CloseDate`` (``2026-11-24``) as midnight UTC; None when absent or unreadable."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        day = date.fromisoformat(raw[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _choice(raw: object, allowed: set[str]) -> str:
    return raw if isinstance(raw, str) and raw in allowed else ""


def _whole(raw: object, low: int, high: int) -> int:
    try:
        number = float(str(raw))  # Salesforce sends numbers as 120.0, text fields as "2"
    except ValueError:
        return 0
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        return 0
    return int(number)


def _amount(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return 0.0
    number = float(raw)
    return number if math.isfinite(number) and 0 <= number <= limits.MAX_AMOUNT else 0.0


def deal_from_record(record: dict[str, Any]) -> ClosedWonDeal:
    """A row of ``DEAL_FIELDS`` (its ``AccountId`` set) as the deal to hand off."""
    account: dict[str, Any] = record.get("Account") or {}
    account_id = str(record["AccountId"])
    return ClosedWonDeal(
        opportunity_id=str(record["Id"]),
        account_id=account_id,
        account_name=str(account.get("Name") or account_id)[:255],
        kind=str(record.get("Type") or "new")[:40],
        seats=_whole(record.get("Seats__c"), 0, limits.MAX_SEATS),
        last_modified=salesforce_time(str(record["LastModifiedDate"])),
        closed_at=close_date(record.get("CloseDate")),
        region=_choice(account.get("Region__c"), {region.value for region in Region}),
        deployment_type=_choice(
            account.get("Deployment_Type__c"), {kind.value for kind in DeploymentType}
        ),
        tier=_whole(account.get("Tier__c"), 1, 3),
        amount=_amount(record.get("Amount")),
    )
