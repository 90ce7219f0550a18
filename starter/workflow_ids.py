"""Workflow ids as the command line takes them: checked before anything is sent to Temporal."""

from __future__ import annotations

from starter.errors import CommandError

MAX_WORKFLOW_ID_BYTES = 1000
"""Temporal's ``limit.maxIDLength`` (server default): a longer id is refused on start and can
never name a workflow, so it is refused here with the limit rather than sent."""

ID_ARGUMENTS = {
    "workflow_id": ("WORKFLOW_ID", "trial-006ACME"),
    "account_id": ("ACCOUNT_ID", "001ACME or account-001ACME"),
    "reference": ("ACCOUNT_ID|CASE_ID", "001ACME or red-account-001ACME-1-3f9c2a7d10"),
    "opportunity_id": ("OPPORTUNITY_ID", "006ACME"),
    "account": ("--account", "001ACME"),
}
"""Parsed arguments (by ``dest``) that name a workflow, or the record a workflow id derives
from: the name the help gives them, and an example."""


def check_workflow_id(
    value: str, name: str = "the workflow id", example: str = "trial-006ACME"
) -> str:
    if not value.strip():
        raise CommandError(f"{name} is empty; give one, e.g. {example}")
    size = len(value.encode())
    if size > MAX_WORKFLOW_ID_BYTES:
        raise CommandError(
            f"{name} is {size:,} bytes long; Temporal allows at most {MAX_WORKFLOW_ID_BYTES:,}"
        )
    if any(not character.isprintable() for character in value):
        raise CommandError(f"{name} {value!r} contains a control character")
    return value


def check_id_arguments(arguments: object) -> None:
    """Every id among the parsed ``arguments`` (an ``argparse.Namespace``)."""
    for dest, (name, example) in ID_ARGUMENTS.items():
        value = getattr(arguments, dest, None)
        if isinstance(value, str):
            check_workflow_id(value, name, example)
