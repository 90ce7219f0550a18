"""One list of Salesforce fields (``schemas/salesforce_fields.py``): the code, the README and
the fake agree with it, and text is clipped to its lengths."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.salesforce import (
    TRUNCATION_MARKER,
    SalesforceActivities,
    SalesforceConnector,
    clip_to_field,
)
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import SalesforceFake
from dealcycle.settings import SalesforceSettings
from schemas.effects import SalesforceFieldUpdate, SalesforceTaskRequest
from schemas.salesforce_fields import SALESFORCE_FIELDS, find_field
from tests.support.fakes import error_body, seed_opportunity, sobject, stored_record

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("workflows", "activities", "starter", "dealcycle", "schemas")
NOT_SCANNED = (
    ROOT / "dealcycle" / "fakes",
    ROOT / "schemas" / "salesforce_fields.py",
    # The usage feed's SELECT is the analytics warehouse's SQL, not SOQL.
    ROOT / "dealcycle" / "usage_feed_settings.py",
    ROOT / "activities" / "usage_feed.py",
)
CUSTOM_FIELD = re.compile(r"\b[A-Za-z][A-Za-z0-9_]*__c\b")
SOQL = re.compile(r"\bSELECT\s+(.+?)\s+FROM\s+(\w+)", re.IGNORECASE | re.DOTALL)
FIELD_DICT_CALLS = {"SalesforceFieldUpdate": (1, 3), "clip_fields": (0, 1)}
"""Calls whose arguments name an sObject and a dict of its fields: their positions."""


# the source scan ---------------------------------------------------------------------------


def _name_of(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)
    return None


def _dict_keys(node: ast.expr, scope: ast.AST) -> list[str]:
    """String keys of a dict literal, or of the dict a local name is built as in ``scope``
    (``fields = {...}`` then ``fields["X"] = ...``)."""
    if isinstance(node, ast.Dict):
        return [k.value for k in node.keys if isinstance(k, ast.Constant)]
    if not isinstance(node, ast.Name):
        return []
    keys: list[str] = []
    for inner in ast.walk(scope):
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(inner, ast.Assign):
            targets, value = inner.targets, inner.value
        elif isinstance(inner, ast.AnnAssign):
            targets, value = [inner.target], inner.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id == node.id and value is not None:
                keys += _dict_keys(value, scope) if isinstance(value, ast.Dict) else []
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and target.value.id == node.id
                and isinstance(target.slice, ast.Constant)
            ):
                keys.append(target.slice.value)
    return keys


def field_references(source: str) -> Iterator[tuple[str | None, str]]:
    """(sObject or None, field) for every Salesforce field ``source`` names."""
    for token in CUSTOM_FIELD.findall(source):
        yield None, token
    tree = ast.parse(source)
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for scope in [tree, *scopes]:
        for node in ast.walk(scope):
            if isinstance(node, ast.Call) and _name_of(node) in FIELD_DICT_CALLS:
                object_at, fields_at = FIELD_DICT_CALLS[_name_of(node)]
                if len(node.args) <= fields_at:
                    continue
                sobject = _text(node.args[object_at])
                for key in _dict_keys(node.args[fields_at], scope):
                    yield sobject, key
            if isinstance(node, ast.Constant | ast.JoinedStr):
                text = _text(node) or ""
                for fields, sobject in SOQL.findall(text):
                    for name in fields.split(","):
                        # ``Account.Name`` on Opportunity: a field of the parent Account.
                        parent, _, field = name.strip().rpartition(".")
                        yield (parent or sobject), field


def unlisted(source: str) -> set[str]:
    listed = {f.name for f in SALESFORCE_FIELDS}
    missing: set[str] = set()
    for sobject_name, name in field_references(source):
        known = find_field(sobject_name, name) is not None if sobject_name else name in listed
        if not known:
            missing.add(f"{sobject_name or '?'}.{name}")
    return missing


def sources() -> Iterator[Path]:
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not any(path == skip or skip in path.parents for skip in NOT_SCANNED):
                yield path
    yield ROOT / "worker.py"


def test_every_field_the_code_names_is_in_the_list() -> None:
    missing = {
        f"{path.relative_to(ROOT)}: {field}"
        for path in sources()
        for field in unlisted(path.read_text())
    }
    assert not missing, "add these to schemas/salesforce_fields.py (and the README's table)"


def test_the_scan_finds_what_it_is_meant_to_find() -> None:
    source = """
def sync(fields_in):
    fields = {"StageName": "x"}
    fields["Mystery_Stage__c"] = 1
    SalesforceFieldUpdate("k", "Opportunity", "006", fields)
    SalesforceFieldUpdate("k", "Account", "001", {"Name": "x", "Colour": "red"})
    clip_fields("Task", {"Subject": "x", "Urgency": 1})
    soql = f"SELECT Id, Forecast, Account.Name, Account.Mood FROM Opportunity WHERE Id = '{x}'"
    record.get("Health_Score__c")
"""
    assert unlisted(source) == {
        "?.Mystery_Stage__c",
        "Opportunity.Mystery_Stage__c",
        "Account.Colour",
        "Task.Urgency",
        "Opportunity.Forecast",
        "Account.Mood",
        "?.Health_Score__c",
    }


# the README --------------------------------------------------------------------------------


def readme_rows() -> set[tuple[str, str, str, str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running against real Salesforce and Slack") :]
    rows = re.findall(
        r"^\s*\| (\w+) \| `(\w+)` \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \| [^|]+ \|$",
        section,
        re.MULTILINE,
    )
    return {tuple(cell.strip() for cell in row) for row in rows}  # type: ignore[misc]


def test_the_readme_table_is_the_list() -> None:
    listed = {
        (
            f.sobject,
            f.name,
            f.type + (" (External ID, unique)" if f.external_id else ""),
            str(f.length) if f.length else "\N{EN DASH}",
            f.access,
        )
        for f in SALESFORCE_FIELDS
    }
    assert readme_rows() == listed
    assert any(f.custom for f in SALESFORCE_FIELDS)


# the fake ----------------------------------------------------------------------------------


def test_the_fake_has_exactly_the_listed_custom_fields(salesforce_fake: SalesforceFake) -> None:
    for name, schema in salesforce_fake.schemas.items():
        custom = {f for f in schema.all_fields() if f.endswith("__c")}
        assert custom == {f.name for f in SALESFORCE_FIELDS if f.sobject == name and f.custom}


def test_the_fake_refuses_an_unlisted_field_and_a_value_too_long(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    account = salesforce_fake.seed_record("Account", {"Name": "Acme"})
    accounts = sobject(salesforce_client, "Account")
    accounts.update(account, {"Tier__c": "1", "Customer_Health__c": "Red"})
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        accounts.update(account, {"Health_Score__c": 40})
    with pytest.raises(SalesforceMalformedRequest) as too_long:
        accounts.update(account, {"Tier__c": "x" * 256})
    assert error_body(unknown.value)[0]["errorCode"] == "INVALID_FIELD"
    assert error_body(too_long.value)[0]["errorCode"] == "STRING_TOO_LONG"
    assert error_body(too_long.value)[0]["fields"] == ["Tier__c"]
    assert stored_record(salesforce_fake, "Account", account)["Tier__c"] == "1"


# clipping in the activities ----------------------------------------------------------------


@pytest.fixture
def activities(
    salesforce_settings: SalesforceSettings, ledger: IdempotencyLedger
) -> Iterator[SalesforceActivities]:
    connector = SalesforceConnector(salesforce_settings)
    yield SalesforceActivities(connector, ledger)
    connector.close()


def test_clip_to_field_keeps_what_fits_and_marks_what_it_cuts() -> None:
    assert clip_to_field("Opportunity", "Closed_Lost_Reason__c", "price") == "price"
    clipped = clip_to_field("Opportunity", "Closed_Lost_Reason__c", "a" * 300)
    assert len(clipped) == 255 and clipped.endswith(TRUNCATION_MARKER)
    assert clip_to_field("Opportunity", "Trial_End_Date__c", "2026-01-01") == "2026-01-01"
    assert clip_to_field("Opportunity", "Unlisted__c", "b" * 300) == "b" * 300
    assert clip_to_field("Account", "Tier__c", 1) == 1


async def test_a_long_reason_never_fails_a_salesforce_update(
    salesforce_fake: SalesforceFake, activities: SalesforceActivities
) -> None:
    record = seed_opportunity(salesforce_fake)
    reason = "The customer chose a competitor. " * 2000
    update = SalesforceFieldUpdate(
        "opp/lost",
        "Opportunity",
        record,
        {"StageName": "Closed Lost", "Closed_Lost_Reason__c": reason},
    )
    await ActivityEnvironment().run(activities.update_salesforce_record, update)
    stored = stored_record(salesforce_fake, "Opportunity", record)["Closed_Lost_Reason__c"]
    assert len(stored) == 255 and stored.endswith(TRUNCATION_MARKER)
    assert reason.startswith(stored.removesuffix(TRUNCATION_MARKER))


async def test_a_long_task_is_clipped_to_its_fields(
    salesforce_fake: SalesforceFake, activities: SalesforceActivities
) -> None:
    task = SalesforceTaskRequest(
        "task/1", "006X", "Call " * 100, "2026-05-01", description="d" * 40_000, owner_hint="U1"
    )
    result = await ActivityEnvironment().run(activities.create_salesforce_task, task)
    stored = stored_record(salesforce_fake, "Task", result.record_id)
    assert len(stored["Subject"]) == 255 and stored["Subject"].endswith(TRUNCATION_MARKER)
    assert len(stored["Description"]) == 32_000


async def test_a_write_to_a_field_the_org_lacks_names_it_and_is_not_retried(
    salesforce_fake: SalesforceFake, activities: SalesforceActivities
) -> None:
    account = salesforce_fake.seed_record("Account", {"Name": "Acme"})
    salesforce_fake.remove_field("Account", "Customer_Health__c")
    update = SalesforceFieldUpdate("acct/health", "Account", account, {"Customer_Health__c": "Red"})
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.update_salesforce_record, update)
    assert raised.value.non_retryable and raised.value.type == "SalesforceInvalidRequest"
    assert raised.value.message.startswith("INVALID_FIELD:")
    assert "Customer_Health__c" in raised.value.message
    salesforce_fake.restore_field("Account", "Customer_Health__c")
    await ActivityEnvironment().run(activities.update_salesforce_record, update)
    assert stored_record(salesforce_fake, "Account", account)["Customer_Health__c"] == "Red"
