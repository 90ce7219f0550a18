"""What ``/dealcycle`` answers and the App Home shows, as Block Kit built by pure functions.

The account and health answers are the CLI's own text (``starter.tables``) in a code block,
with buttons that open the modals; the to-do list is one section per open step, with a Done
button (``dealcycle_done``), or the button of the form that completes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.health import HealthView
from schemas.todo import TodoItem, TodoList
from starter.slack.modal_forms import ModalName, open_button, plain
from starter.slack.modal_specs import MODALS, modal_for_step
from workflows.mrkdwn import escape

DONE_ACTION = "dealcycle_done"
SECTION_CHARS = 3_000
MAX_TODO_ITEMS = 40
"""A view holds at most 100 blocks; each step takes two, with room for the heading."""
USAGE = (
    "`/dealcycle todo` · `/dealcycle account ACCOUNT` · `/dealcycle health ACCOUNT`\n"
    "Forms: `/dealcycle kickoff|assessment|plan|feature|set-health|action-plan ACCOUNT`"
)


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_CHARS)}}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code_section(text: str) -> dict[str, Any]:
    """The CLI's text in a code block, cut to what a section holds."""
    body = escape(text)
    room = SECTION_CHARS - len("``````")
    if len(body) > room:
        body = body[: room - 1] + "…"
    return mrkdwn(f"```{body}```")


def button_value(workflow_id: str, kind: str, step: str = "") -> dict[str, str]:
    """The shared button JSON: ``workflow_id``, ``step``, ``kind``."""
    return {"workflow_id": workflow_id, "step": step, "kind": kind}


def account_answer(text: str, workflow_id: str) -> list[dict[str, Any]]:
    """``/dealcycle account``: the account as the CLI shows it, and its forms."""
    value = button_value(workflow_id, "account")
    buttons = [
        open_button(MODALS[ModalName.KICKOFF], "Kickoff plan", value),
        open_button(MODALS[ModalName.ASSESSMENT], "Renewal assessment", value),
        open_button(MODALS[ModalName.ACCOUNT_PLAN], "Account plan", value),
        open_button(MODALS[ModalName.FEATURE_REQUEST], "Feature request", value),
        open_button(MODALS[ModalName.HEALTH], "Set health", value),
    ]
    return [code_section(text), {"type": "actions", "block_id": "account", "elements": buttons}]


def health_answer(view: HealthView, text: str, workflow_id: str) -> list[dict[str, Any]]:
    """``/dealcycle health``: the health as the CLI shows it, "Set health", and the open
    red-account case's action plan."""
    buttons = [
        open_button(
            MODALS[ModalName.HEALTH], "Set health", button_value(workflow_id, "account"), "primary"
        )
    ]
    if view.open_case:
        buttons.append(
            open_button(
                MODALS[ModalName.ACTION_PLAN],
                "Action plan",
                button_value(view.open_case, "red_account", "action_plan"),
            )
        )
    return [code_section(text), {"type": "actions", "block_id": "health", "elements": buttons}]


def _due(item: TodoItem) -> str:
    if item.due_at is None:
        return "no due date"
    label = item.due_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"*overdue* since {label}" if item.overdue else f"due {label}"


def _item_button(item: TodoItem) -> dict[str, Any]:
    kind = item.kind.value
    value = button_value(item.workflow_id, kind, item.step)
    spec = modal_for_step(kind, item.step)
    if spec is not None:
        return open_button(spec, "Fill in…", value, "primary")
    return {
        "type": "button",
        "action_id": DONE_ACTION,
        "text": plain("Done", 75),
        "style": "primary",
        "value": json.dumps(value, separators=(",", ":")),
    }


def todo_blocks(todo: TodoList) -> list[dict[str, Any]]:
    """The person's open steps, soonest first, each with the button that completes it."""
    items = list(todo.items)
    overdue = sum(1 for item in items if item.overdue)
    heading = (
        f"*Your to-do list*: {len(items)} open, {overdue} overdue"
        if items
        else "*Your to-do list*: nothing open. 🎉"
    )
    blocks: list[dict[str, Any]] = [mrkdwn(heading)]
    for index, item in enumerate(items[:MAX_TODO_ITEMS]):
        line = f"{'🔴 ' if item.overdue else ''}*{escape(item.title)}* · {escape(item.name)}"
        blocks.append(
            {
                "type": "section",
                "block_id": f"todo-{index}",
                "text": {"type": "mrkdwn", "text": _cut(f"{line}\n{_due(item)}", SECTION_CHARS)},
                "accessory": _item_button(item),
            }
        )
    if len(items) > MAX_TODO_ITEMS:
        blocks.append(mrkdwn(f"…and {len(items) - MAX_TODO_ITEMS} more (`dealcycle todo`)"))
    if todo.not_asked:
        blocks.append(
            mrkdwn(
                f"…and steps in {todo.not_asked} more workflows due later (`dealcycle todo --all`)"
            )
        )
    if todo.not_answering:
        names = ", ".join(escape(workflow_id) for workflow_id in todo.not_answering)
        blocks.append(mrkdwn(f"⚠️ Not answering, their steps are missing: {names}"))
    return blocks


def home_view(todo: TodoList, notice: str | None = None) -> dict[str, Any]:
    """The App Home tab (``views.publish``); ``notice`` above the list: the answer to a button
    clicked on the tab, which has no channel for an ephemeral message."""
    return _home(todo_blocks(todo), notice)


def _home(blocks: list[dict[str, Any]], notice: str | None) -> dict[str, Any]:
    if notice:
        # As the ephemeral answer it stands for: the app's own mrkdwn (mentions), not escaped.
        blocks = [mrkdwn(notice), *blocks]
    return {"type": "home", "callback_id": "dealcycle_home", "blocks": blocks}


def problem_blocks(message: str) -> list[dict[str, Any]]:
    return [mrkdwn(f"⚠️ {escape(message)}")]


def problem_view(message: str, notice: str | None = None) -> dict[str, Any]:
    """The App Home tab when the to-do list cannot be read; ``notice`` (a click's answer, as in
    ``home_view``) above it."""
    return _home(problem_blocks(message), notice)


def answer_text(blocks: Sequence[Mapping[str, Any]]) -> str:
    """The notification text beside the blocks: the first section's."""
    for block in blocks:
        text = (block.get("text") or {}).get("text")
        if text:
            return _cut(str(text), 300)
    return "dealcycle"
