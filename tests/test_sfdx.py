"""The Salesforce DX source under ``salesforce/`` is the one list of fields, deployable: every
field the code touches is there with its type, nothing stale is, and the XML has the Metadata
API's shape."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from schemas.common import DeploymentType
from schemas.salesforce_fields import SALESFORCE_FIELDS, find_field
from tests.test_salesforce_fields import field_references, sources
from tools.sfdx import METADATA_TYPES, PROJECT_DIR, SOURCE_DIR, differences, write

NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
ROOT = Path(__file__).resolve().parents[1]
FIELDS = PROJECT_DIR / SOURCE_DIR / "objects"
PERMISSION_SET = (
    PROJECT_DIR / SOURCE_DIR / "permissionsets" / "Dealcycle_Integration.permissionset-meta.xml"
)
CODE_OBJECT = {"Activity": "Task"}
"""Salesforce keeps Task's custom fields on Activity."""


def text(node: ET.Element, tag: str) -> str | None:
    found = node.find(f"md:{tag}", NS)
    return None if found is None else found.text


def dx_fields() -> dict[tuple[str, str], ET.Element]:
    """(object as the code names it, field) -> the parsed ``CustomField``."""
    found = {}
    for path in sorted(FIELDS.glob("*/fields/*.field-meta.xml")):
        obj = path.parent.parent.name
        found[(CODE_OBJECT.get(obj, obj), path.name.removesuffix(".field-meta.xml"))] = ET.parse(
            path
        ).getroot()
    return found


def test_the_checked_in_source_is_what_the_list_generates() -> None:
    assert differences() == [], "run `python -m tools.sfdx`"


def test_every_custom_field_the_code_touches_is_in_the_source() -> None:
    used = {
        (sobject, name)
        for path in sources()
        for sobject, name in field_references(path.read_text())
        if name.endswith("__c")
    }
    dx = dx_fields()
    named = {name for _, name in dx}
    for sobject, name in used:
        if sobject is None:
            assert name in named, f"{name} (named in the code) has no DX field"
        else:
            entry = find_field(sobject, name)
            assert entry is not None and (entry.sobject, entry.name) in dx, f"{sobject}.{name}"
    assert {(f.sobject, f.name) for f in SALESFORCE_FIELDS if f.custom} == set(dx)


def test_each_field_has_the_metadata_api_shape_and_the_listed_type() -> None:
    for (sobject, name), root in dx_fields().items():
        entry = find_field(sobject, name)
        assert entry is not None
        assert root.tag == f"{{{NS['md']}}}CustomField"
        assert text(root, "fullName") == name
        label = text(root, "label")
        assert label and len(label) <= 40
        assert text(root, "type") == METADATA_TYPES[entry.type]
        assert text(root, "required") == "false"
        kind = METADATA_TYPES[entry.type]
        if kind in ("Text", "LongTextArea"):
            assert text(root, "length") == str(entry.length)
        else:
            assert text(root, "length") is None
        if kind in ("Number", "Currency"):
            assert text(root, "precision") == "18"
            assert text(root, "scale") == ("0" if kind == "Number" else "2")
        if kind == "LongTextArea":
            assert int(text(root, "visibleLines") or 0) > 0
        if kind == "Picklist":
            values = root.findall("md:valueSet/md:valueSetDefinition/md:value/md:fullName", NS)
            assert [v.text for v in values] == list(entry.values) and entry.values
        expected_key = "true" if entry.external_id else "false"
        if kind == "Text":
            assert text(root, "externalId") == expected_key
            assert text(root, "unique") == expected_key


def test_task_carries_the_idempotency_key_as_a_unique_case_sensitive_external_id() -> None:
    root = dx_fields()[("Task", "Dealcycle_Key__c")]
    assert (FIELDS / "Activity" / "fields" / "Dealcycle_Key__c.field-meta.xml").exists()
    assert text(root, "externalId") == "true" and text(root, "unique") == "true"
    assert text(root, "caseSensitive") == "true"
    assert text(root, "type") == "Text" and text(root, "length") == "255"


def test_deployment_type_values_are_the_ones_the_intake_accepts() -> None:
    entry = find_field("Account", "Deployment_Type__c")
    assert entry is not None
    assert set(entry.values) == {kind.value for kind in DeploymentType}


def test_the_permission_set_grants_every_field_and_the_objects() -> None:
    root = ET.parse(PERMISSION_SET).getroot()
    assert root.tag == f"{{{NS['md']}}}PermissionSet"
    assert text(root, "label") == "Dealcycle Integration"
    grants = {
        text(p, "field"): (text(p, "readable"), text(p, "editable"))
        for p in root.findall("md:fieldPermissions", NS)
    }
    for entry in SALESFORCE_FIELDS:
        if not entry.custom:
            continue
        editable = "true" if "write" in entry.access else "false"
        # Task and Event share field-level security: an entry left out would mean no access.
        objects = ("Task", "Event") if entry.sobject == "Task" else (entry.sobject,)
        for obj in objects:
            assert grants[f"{obj}.{entry.name}"] == ("true", editable), f"{obj}.{entry.name}"
    assert grants["Account.Type"] == ("true", "true")  # set to Former Customer on churn
    object_grants = {
        text(p, "object"): (text(p, "allowRead"), text(p, "allowEdit"), text(p, "allowDelete"))
        for p in root.findall("md:objectPermissions", NS)
    }
    assert object_grants == {
        "Account": ("true", "true", "false"),
        "Opportunity": ("true", "true", "false"),
    }
    users = {text(p, "name") for p in root.findall("md:userPermissions", NS)}
    assert users == {"ApiEnabled", "EditTask"}


def test_the_project_file_points_at_the_source() -> None:
    project = json.loads((PROJECT_DIR / "sfdx-project.json").read_text())
    (package,) = project["packageDirectories"]
    assert (PROJECT_DIR / package["path"] / "main" / "default").is_dir()
    assert package["default"] is True
    assert project["sourceApiVersion"] == "62.0"


def test_check_names_a_stale_field_and_a_changed_one_and_write_repairs_them(
    tmp_path: Path,
) -> None:
    project = tmp_path / "salesforce"
    shutil.copytree(PROJECT_DIR, project)
    stale = project / SOURCE_DIR / "objects" / "Account" / "fields" / "Old_Score__c.field-meta.xml"
    stale.write_text("<CustomField/>")
    changed = project / SOURCE_DIR / "objects" / "Account" / "fields" / "Tier__c.field-meta.xml"
    changed.write_text(changed.read_text().replace("255", "80"))
    check = subprocess.run(
        [sys.executable, "-m", "tools.sfdx", "--check", "--project", str(project)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 1
    assert "stale: force-app/main/default/objects/Account/fields/Old_Score__c" in check.stderr
    assert "changed: force-app/main/default/objects/Account/fields/Tier__c" in check.stderr
    write(project)
    assert differences(project) == [] and not stale.exists()


@pytest.mark.parametrize("path", sorted(PROJECT_DIR.rglob("*-meta.xml")), ids=lambda p: p.name)
def test_every_metadata_file_parses(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag.startswith(f"{{{NS['md']}}}")
