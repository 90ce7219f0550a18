"""The Salesforce DX source under ``salesforce/``, generated from ``schemas.salesforce_fields``.

``render()`` is every file the source must hold: ``sfdx-project.json``, one
``objects/<Object>/fields/<Field>.field-meta.xml`` per custom field the code touches, and the
``Dealcycle_Integration`` permission set (read on every listed field, edit on those the code
writes, the objects it reads and edits, API access and Edit Tasks). ``differences()`` compares
it with the files on disk (missing, changed, stale); ``write()`` makes them equal.

Task's custom fields live on the Activity object (Salesforce shares them between Task and
Event), and so does their field-level security: the permission set names both
``Task.<Field>`` and ``Event.<Field>``, since an entry left out means "no access".
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from dealcycle.settings import SalesforceSettings
from schemas.salesforce_fields import SALESFORCE_FIELDS, SalesforceField

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = ROOT / "salesforce"
SOURCE_DIR = Path("force-app/main/default")
METADATA_NS = "http://soap.sforce.com/2006/04/metadata"
PERMISSION_SET = "Dealcycle_Integration"
API_VERSION = SalesforceSettings().api_version
LONG_TEXT_VISIBLE_LINES = 5

METADATA_TYPES = {
    "Text": "Text",
    "Long Text Area": "LongTextArea",
    "URL": "Url",
    "Picklist": "Picklist",
    "Number": "Number",
    "Currency": "Currency",
    "Date": "Date",
    "Date/Time": "DateTime",
}
"""Setup's type names (the list's) to the Metadata API's ``CustomField.type``."""

NUMBER_SHAPES = {"Number": (18, 0), "Currency": (18, 2)}
"""precision and scale of a custom number field."""

STANDARD_FIELDS_WITH_SECURITY = frozenset(
    {("Opportunity", "Amount"), ("Opportunity", "Type"), ("Account", "Type")}
)
"""Standard fields the code uses whose field-level security a permission set can grant (the
others are always visible: Id, Name, required fields, lookups, system fields)."""

OBJECT_OF = {"Task": "Activity"}
"""Where Salesforce keeps an object's custom fields, when not on the object itself."""
SHARING_FIELD_SECURITY = {"Task": ("Task", "Event")}
"""The objects whose field-level security must be granted together."""


def metadata_object(sobject: str) -> str:
    return OBJECT_OF.get(sobject, sobject)


def field_path(entry: SalesforceField) -> Path:
    return (
        SOURCE_DIR
        / "objects"
        / metadata_object(entry.sobject)
        / "fields"
        / f"{entry.name}.field-meta.xml"
    )


def permission_set_path() -> Path:
    return SOURCE_DIR / "permissionsets" / f"{PERMISSION_SET}.permissionset-meta.xml"


def _element(parent: ET.Element, tag: str, text: str | bool | int) -> None:
    value = str(text).lower() if isinstance(text, bool) else str(text)
    ET.SubElement(parent, tag).text = value


def _document(root: ET.Element) -> str:
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _description(entry: SalesforceField) -> str:
    return f"dealcycle: {entry.purpose.replace('`', '')}"[:1000]


def custom_field_xml(entry: SalesforceField) -> str:
    """The ``CustomField`` of one listed custom field (elements in the order Salesforce
    retrieves them: alphabetical)."""
    kind = METADATA_TYPES[entry.type]
    root = ET.Element("CustomField", xmlns=METADATA_NS)
    _element(root, "fullName", entry.name)
    if kind == "Text" and entry.external_id:
        _element(root, "caseSensitive", True)
    _element(root, "description", _description(entry))
    if kind in ("Text", "Number", "Currency"):
        _element(root, "externalId", entry.external_id)
    _element(root, "label", entry.label)
    if kind in ("Text", "LongTextArea"):
        _element(root, "length", entry.length or 255)
    precision, scale = NUMBER_SHAPES.get(kind, (None, None))
    if precision is not None:
        _element(root, "precision", precision)
    _element(root, "required", False)
    if scale is not None:
        _element(root, "scale", scale)
    _element(root, "type", kind)
    if kind in ("Text", "Number"):
        _element(root, "unique", entry.external_id)
    if kind == "Picklist":
        value_set = ET.SubElement(root, "valueSet")
        definition = ET.SubElement(value_set, "valueSetDefinition")
        _element(definition, "sorted", False)
        for value in entry.values:
            item = ET.SubElement(definition, "value")
            _element(item, "fullName", value)
            _element(item, "default", False)
            _element(item, "label", value)
    if kind == "LongTextArea":
        _element(root, "visibleLines", LONG_TEXT_VISIBLE_LINES)
    return _document(root)


def _secured_fields() -> list[SalesforceField]:
    return [
        f
        for f in SALESFORCE_FIELDS
        if f.custom or (f.sobject, f.name) in STANDARD_FIELDS_WITH_SECURITY
    ]


def permission_set_xml() -> str:
    """Read on every listed field with field-level security, edit on those the code writes;
    read and edit on the objects it writes (view all: the intake reads every Closed Won deal);
    API access and Edit Tasks (Task has no object permissions of its own)."""
    root = ET.Element("PermissionSet", xmlns=METADATA_NS)
    _element(
        root,
        "description",
        "What the dealcycle integration user needs: generated by `python -m tools.sfdx` from"
        " schemas/salesforce_fields.py.",
    )
    grants: list[tuple[str, bool]] = []
    for entry in _secured_fields():
        for sobject in SHARING_FIELD_SECURITY.get(entry.sobject, (entry.sobject,)):
            grants.append((f"{sobject}.{entry.name}", entry.writes))
    for name, editable in sorted(grants):
        permission = ET.SubElement(root, "fieldPermissions")
        _element(permission, "editable", editable)
        _element(permission, "field", name)
        _element(permission, "readable", True)
    _element(root, "hasActivationRequired", False)
    _element(root, "label", "Dealcycle Integration")
    objects = sorted({f.sobject for f in SALESFORCE_FIELDS if f.sobject not in OBJECT_OF})
    for sobject in objects:
        permission = ET.SubElement(root, "objectPermissions")
        _element(permission, "allowCreate", False)
        _element(permission, "allowDelete", False)
        _element(
            permission,
            "allowEdit",
            any(f.writes for f in SALESFORCE_FIELDS if f.sobject == sobject),
        )
        _element(permission, "allowRead", True)
        _element(permission, "modifyAllRecords", False)
        _element(permission, "object", sobject)
        _element(permission, "viewAllRecords", True)
    for name in ("ApiEnabled", "EditTask"):
        permission = ET.SubElement(root, "userPermissions")
        _element(permission, "enabled", True)
        _element(permission, "name", name)
    return _document(root)


def project_json() -> str:
    project = {
        "packageDirectories": [{"path": "force-app", "default": True}],
        "name": "dealcycle",
        "namespace": "",
        "sfdcLoginUrl": "https://login.salesforce.com",
        "sourceApiVersion": API_VERSION,
    }
    return json.dumps(project, indent=2) + "\n"


def render() -> dict[Path, str]:
    """Every file of the DX project, by path relative to ``salesforce/``."""
    files = {Path("sfdx-project.json"): project_json()}
    for entry in SALESFORCE_FIELDS:
        if entry.custom:
            files[field_path(entry)] = custom_field_xml(entry)
    files[permission_set_path()] = permission_set_xml()
    return files


def _on_disk(project: Path) -> Iterable[Path]:
    source = project / SOURCE_DIR
    if (project / "sfdx-project.json").exists():
        yield Path("sfdx-project.json")
    if source.exists():
        for path in sorted(source.rglob("*-meta.xml")):
            yield path.relative_to(project)


def differences(project: Path = PROJECT_DIR) -> list[str]:
    """What differs between ``render()`` and ``project``: missing, changed and stale files."""
    wanted = render()
    found: list[str] = []
    for path, text in wanted.items():
        target = project / path
        if not target.exists():
            found.append(f"missing: {path}")
        elif target.read_text() != text:
            found.append(f"changed: {path}")
    for path in _on_disk(project):
        if path not in wanted:
            found.append(f"stale: {path} (no longer in schemas/salesforce_fields.py)")
    return found


def write(project: Path = PROJECT_DIR) -> list[str]:
    """Make ``project`` hold exactly ``render()``; what was changed."""
    changes = differences(project)
    wanted = render()
    for path in _on_disk(project):
        if path not in wanted:
            (project / path).unlink()
    for path, text in wanted.items():
        target = project / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    return changes
