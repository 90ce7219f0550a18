"""Block Kit of a step's prompt and reminder, and of the same message once the step is done.

Pure (no I/O, no clock): the workflows build the blocks, the Slack activity posts them as
given. The buttons' ids and value are what the Slack app (``starter/slack/``) reads back:
``action_id`` ``dealcycle_done`` / ``dealcycle_snooze`` / ``dealcycle_open``, ``value`` the JSON
``{"workflow_id", "step", "kind"}``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from workflows.mrkdwn import escape
from workflows.summaries import utc_minute

DONE_ACTION = "dealcycle_done"
SNOOZE_ACTION = "dealcycle_snooze"
OPEN_ACTION = "dealcycle_open"
PROMPT_BLOCK = "dealcycle_prompt"
ACTIONS_BLOCK = "dealcycle_step_actions"
DONE_BLOCK = "dealcycle_step_done"
MAX_SECTION_CHARS = 3000
"""Slack refuses a section's text over 3,000 characters (``invalid_blocks``)."""


def workflow_url(temporal_ui_url: str, namespace: str, workflow_id: str) -> str:
    """The workflow's page in the Temporal Web UI."""
    return f"{temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


def button_value(workflow_id: str, step: str, kind: str) -> str:
    return json.dumps(
        {"workflow_id": workflow_id, "step": step, "kind": kind}, separators=(",", ":")
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SECTION_CHARS else text[: MAX_SECTION_CHARS - 1] + "…"


def _section(block_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "block_id": block_id,
        "text": {"type": "mrkdwn", "text": _clip(text)},
    }


def _button(label: str, action_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
        **extra,
    }


OPEN_FORM_ACTION = "dealcycle_open_modal_{form}"
"""A button that opens the Slack app's form ``form`` (``starter/slack/modal_forms.ModalName``)."""


def step_prompt_blocks(
    text: str,
    *,
    workflow_id: str,
    step: str,
    kind: str,
    url: str,
    done: bool = True,
    form: str | None = None,
    snooze: bool = True,
) -> list[dict[str, Any]]:
    """The prompt (or reminder) ``text``, then **Done**, **Snooze 1 day** and **Open**.
    ``done=False`` leaves Done out: a step completed by recording something (a plan, an
    assessment) is not done by a click; ``form`` names the form that records it, offered as a
    **Fill in…** button instead. ``snooze=False`` where the workflow has no snooze (a red case's
    action plan runs against its SLA)."""
    value = button_value(workflow_id, step, kind)
    buttons = [_button("Done", DONE_ACTION, value, style="primary")] if done else []
    if form is not None:
        buttons.append(
            _button("Fill in…", OPEN_FORM_ACTION.format(form=form), value, style="primary")
        )
    if snooze:
        buttons.append(_button("Snooze 1 day", SNOOZE_ACTION, value))
    buttons.append(_button("Open", OPEN_ACTION, value, url=url))
    return [
        {
            "type": "section",
            "block_id": PROMPT_BLOCK,
            "text": {"type": "mrkdwn", "text": _clip(text)},
        },
        {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": buttons},
    ]


def slack_date(moment: datetime) -> str:
    """A moment each reader sees in their own time zone (Slack's date formatting), with the
    UTC time as the fallback."""
    fallback = utc_minute(moment)
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def done_text(title: str, subject: str, by: str, at: datetime) -> str:
    """``subject`` is the caller's mrkdwn (its names already escaped); ``by`` a member id."""
    return f"✅ {escape(title)} for {subject}: done by <@{by}> at {slack_date(at)}"


def closed_text(title: str, subject: str, why: str) -> str:
    """``why`` is the note typed when the step was closed."""
    closed = f"☑️ {escape(title)} for {subject}: closed"
    return f"{closed} ({escape(why)})" if why else closed


def closed_blocks(text: str) -> list[dict[str, Any]]:
    """What a prompt becomes once its step is done: who and when, no buttons."""
    return [
        {"type": "section", "block_id": DONE_BLOCK, "text": {"type": "mrkdwn", "text": _clip(text)}}
    ]
