"""Plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from schemas.trial import TrialState


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def render_trial(state: TrialState, temporal_status: str, ui_url: str, namespace: str) -> str:
    lines = [
        f"{state.workflow_id}  TrialWorkflow  {temporal_status}",
        f"Account      {state.account_name} ({state.account_id})",
        f"Opportunity  {state.opportunity_id}",
        f"CE / AE      {state.ce_owner} / {state.ae_owner}",
        f"Phase        {state.phase.value}",
        f"Tech. win    {state.technical_win.value}",
    ]
    if state.started_at:
        extended = f" (extended {len(state.extensions)}x)" if state.extensions else ""
        period = f"{when(state.started_at)} -> {when(state.ends_at)} UTC"
        lines.append(f"Trial        {period}{extended}")
    if state.override_reason:
        lines.append(f"Override     {state.override_reason}")
    if state.license_key_ids:
        lines.append(f"License keys {', '.join(state.license_key_ids)}")
    if state.outcome:
        lines.append(f"Outcome      {state.outcome.value} at {when(state.ended_at)}")
    lines.append("")
    rows = [
        [
            step.key,
            step.lead.value,
            step.owner,
            when(step.due_at),
            step.status.value,
            step.completed_by or "-",
            when(step.completed_at),
        ]
        for step in state.steps
    ]
    lines.append(
        table(["STEP", "LEAD", "OWNER", "DUE (UTC)", "STATUS", "COMPLETED BY", "AT (UTC)"], rows)
    )
    lines.append("")
    lines.append(f"Temporal UI  {ui_url}/namespaces/{namespace}/workflows/{state.workflow_id}")
    return "\n".join(lines)
