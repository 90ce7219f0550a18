"""The forms behind the Slack app's modals, as pure functions: the Block Kit view of a form,
what a submission's ``view.state.values`` says, and which block a problem belongs to (the six
forms themselves are ``modal_specs``).

Each input block's ``block_id`` is the request field it fills (``contacts.champion`` for a
nested one) and its element's ``action_id`` is ``value``, so a bound's problem (``risks[2]: at
most 500 characters``) lands on its block by name, and a workflow's rejection by the words it
uses. Every text input carries the field's bound from ``schemas/limits.py`` as ``max_length``
(Slack allows at most 3,000 characters in one input; the per-item bounds of a list are checked
before anything is sent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from schemas import limits
from schemas.common import Role
from workflows.mrkdwn import escape

CALLBACK_PREFIX = "dealcycle_modal_"
OPEN_ACTION_PREFIX = "dealcycle_open_modal_"
VALUE_ACTION = "value"
"""The ``action_id`` of every input's element: the ``block_id`` names the field."""

SLACK_INPUT_CHARS = 3_000
"""The most a ``plain_text_input`` takes (Block Kit's ``max_length`` limit)."""
SLACK_TITLE_CHARS = 24
SLACK_METADATA_CHARS = 3_000
CHECKED = "yes"

Kind = Literal["text", "paragraph", "lines", "choice", "checkbox"]
Values = dict[str, str | list[str] | bool]
"""A submission's answers by field: text, lines (one item per line) or a tick."""


class ModalName(StrEnum):
    KICKOFF = "kickoff"
    ASSESSMENT = "assessment"
    ACTION_PLAN = "action_plan"
    HEALTH = "health"
    ACCOUNT_PLAN = "account_plan"
    FEATURE_REQUEST = "feature_request"


@dataclass(frozen=True)
class ModalField:
    name: str
    """The request field (``contacts.champion``): the input block's ``block_id``."""
    label: str
    kind: Kind
    owner: type
    """The request class whose bound (``schemas/limits.py``) applies."""
    optional: bool = False
    hint: str = ""
    choices: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    """Words of a workflow's rejection that point at this field, beside its name."""

    @property
    def limit(self) -> limits.Limit | None:
        return limits.limit_of(self.owner.__name__, self.name.rsplit(".", 1)[-1])

    @property
    def max_length(self) -> int | None:
        """The field's bound in characters (all items and their line breaks for a list)."""
        limit = self.limit
        if isinstance(limit, limits.Text):
            return min(limit.max_chars, SLACK_INPUT_CHARS)
        if isinstance(limit, limits.Items) and limit.each is not None:
            total = limit.max_items * limit.each.max_chars + limit.max_items - 1
            return min(total, SLACK_INPUT_CHARS)
        return None

    def words(self) -> tuple[str, ...]:
        leaf = self.name.rsplit(".", 1)[-1]
        return (self.name, leaf, leaf.replace("_", " "), *self.mentions)


@dataclass(frozen=True)
class ModalSpec:
    name: ModalName
    title: str
    submit: str
    intro: str
    fields: tuple[ModalField, ...]
    build: Callable[[Values, str, Role, Mapping[str, str]], object]
    """The request from the answers, the acting member, their role and the modal's context."""

    @property
    def callback_id(self) -> str:
        return CALLBACK_PREFIX + self.name.value

    @property
    def open_action_id(self) -> str:
        return OPEN_ACTION_PREFIX + self.name.value


# --- Reading answers ---------------------------------------------------------------------------


def read_values(spec: ModalSpec, state_values: Mapping[str, Any]) -> Values:
    """The answers in a ``view_submission``'s ``view.state.values`` (Slack's wire format:
    ``{block_id: {action_id: {type, value | selected_option | selected_options}}}``); a field
    left empty reads as empty text, no lines or unticked."""
    answers: Values = {}
    for field in spec.fields:
        element = state_values.get(field.name, {}).get(VALUE_ACTION) or {}
        if field.kind == "checkbox":
            answers[field.name] = any(
                option.get("value") == CHECKED for option in element.get("selected_options") or []
            )
        elif field.kind == "choice":
            selected = element.get("selected_option") or {}
            answers[field.name] = str(selected.get("value") or "")
        elif field.kind == "lines":
            text = str(element.get("value") or "")
            answers[field.name] = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            answers[field.name] = str(element.get("value") or "")
    return answers


# --- Block Kit ---------------------------------------------------------------------------------


def plain(text: str, limit: int = 3_000) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": True}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": plain(label or value, 75), "value": value}


def _element(field: ModalField, initial: str) -> dict[str, Any]:
    element: dict[str, Any] = {"action_id": VALUE_ACTION}
    if field.kind == "choice":
        element["type"] = "static_select"
        element["options"] = [_option(choice) for choice in field.choices]
        if initial in field.choices:
            element["initial_option"] = _option(initial)
    elif field.kind == "checkbox":
        element["type"] = "checkboxes"
        element["options"] = [_option(CHECKED, field.choices[0] if field.choices else field.label)]
    else:
        element["type"] = "plain_text_input"
        element["multiline"] = field.kind != "text"
        if field.max_length is not None:
            element["max_length"] = field.max_length
        if initial:
            element["initial_value"] = _cut(initial, field.max_length or SLACK_INPUT_CHARS)
    return element


def input_block(field: ModalField, initial: str = "") -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name,
        "label": plain(field.label, 2_000),
        "optional": field.optional or field.kind == "checkbox",
        "element": _element(field, initial),
    }
    if field.hint:
        block["hint"] = plain(field.hint, 2_000)
    return block


def modal_view(
    spec: ModalSpec, context: Mapping[str, str], initial: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The modal for ``views.open``; ``context`` (the workflow it acts on) travels back in
    ``private_metadata``, ``initial`` prefills fields by name."""
    metadata = json.dumps(dict(context), separators=(",", ":"))
    if len(metadata) > SLACK_METADATA_CHARS:
        raise ValueError(f"modal context is {len(metadata)} characters; Slack keeps at most 3000")
    subject = context.get("subject", "")
    # The subject is the account's name as typed in Salesforce: escaped, it never pings.
    intro = f"*{escape(subject)}*: {spec.intro}" if subject else spec.intro
    return {
        "type": "modal",
        "callback_id": spec.callback_id,
        "title": plain(spec.title, SLACK_TITLE_CHARS),
        "submit": plain(spec.submit, SLACK_TITLE_CHARS),
        "close": plain("Cancel", SLACK_TITLE_CHARS),
        "private_metadata": metadata,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(intro, 3_000)}},
            *(input_block(field, (initial or {}).get(field.name, "")) for field in spec.fields),
        ],
    }


def done_view(spec: ModalSpec, message: str) -> dict[str, Any]:
    """What the modal turns into once the workflow accepted the submission."""
    return notice_view(spec, f"✅ {message}")


def pending_view(spec: ModalSpec) -> dict[str, Any]:
    """The modal while a slow workflow takes the submission (Slack waits three seconds)."""
    return notice_view(spec, "⏳ Recording… this form shows dealcycle's answer in a moment.")


def late_refusal_view(spec: ModalSpec, errors: Mapping[str, str]) -> dict[str, Any]:
    """A refusal that came after the form was acknowledged: it can no longer mark the fields,
    so it says what was refused, and that nothing was recorded."""
    labels = {field.name: field.label for field in spec.fields}
    lines = [f"• {labels.get(name, name)}: {problem}" for name, problem in errors.items()]
    return notice_view(spec, "⚠️ Not recorded; open the form again:\n" + "\n".join(lines))


def notice_view(spec: ModalSpec, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": spec.callback_id,
        "title": plain(spec.title, SLACK_TITLE_CHARS),
        "close": plain("Close", SLACK_TITLE_CHARS),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3_000)}}],
    }


# --- Problems, on their blocks -----------------------------------------------------------------

_MAX_ERROR_CHARS = 400


def bound_errors(spec: ModalSpec, request: object, now: Any) -> dict[str, str]:
    """Each field out of its bound (``limits.problems``), on its block."""
    errors: dict[str, list[str]] = {}
    names = {field.name for field in spec.fields}
    for problem in limits.problems(request, now):
        block = _block_of_path(problem, names) or spec.fields[0].name
        errors.setdefault(block, []).append(problem)
    return {block: _cut("; ".join(found), _MAX_ERROR_CHARS) for block, found in errors.items()}


_KEPT_IN_PARAGRAPHS = frozenset("\n\r\t")


def control_errors(spec: ModalSpec, values: Values) -> dict[str, str]:
    """Each text answer holding a control character (an escape sequence pasted in would act on
    the terminal of whoever reads it with the CLI), on its block; a paragraph or a list keeps
    its line breaks and tabs."""
    errors: dict[str, str] = {}
    for field in spec.fields:
        value = values.get(field.name)
        text = "\n".join(value) if isinstance(value, list) else value
        if not isinstance(text, str):
            continue
        allowed = _KEPT_IN_PARAGRAPHS if field.kind != "text" else frozenset()
        found = limits.control_character(text, allowed)
        if found is not None:
            errors[field.name] = f"{field.name}: no control characters (got {ascii(found)[1:-1]})"
    return errors


def _block_of_path(problem: str, names: set[str]) -> str | None:
    path = problem.partition(": ")[0]
    path = re.sub(r"\[\d+\]", "", path)
    while path:
        if path in names:
            return path
        path = path.rpartition(".")[0]
    return None


def rejection_errors(spec: ModalSpec, message: str) -> dict[str, str]:
    """A workflow's rejection on every block it names (an account plan missing three sections
    marks three), else on the first: the modal stays open with the reason beside the input."""
    lowered = message.lower()
    named = [
        field.name
        for field in spec.fields
        if any(
            re.search(rf"(?<![\w.]){re.escape(word.lower())}", lowered) for word in field.words()
        )
    ]
    text = _cut(message, _MAX_ERROR_CHARS)
    return {name: text for name in (named or [spec.fields[0].name])}


def open_button(
    spec: ModalSpec, label: str, value: Mapping[str, str], style: str = ""
) -> dict[str, Any]:
    """A button that opens ``spec``'s modal; ``value`` is the shared button JSON
    (``workflow_id``, ``step``, ``kind``)."""
    button: dict[str, Any] = {
        "type": "button",
        "action_id": spec.open_action_id,
        "text": plain(label, 75),
        "value": json.dumps(dict(value), separators=(",", ":")),
    }
    if style:
        button["style"] = style
    return button


def context_from_button(value: str) -> dict[str, str]:
    """The button's JSON value, as strings; ``{}`` when it is not the shared shape."""
    try:
        raw = json.loads(value)
    except (TypeError, ValueError):
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("workflow_id"), str):
        return {}
    return {key: item for key, item in raw.items() if isinstance(item, str)}


def metadata_of(view: Mapping[str, Any]) -> dict[str, str]:
    return context_from_button(str(view.get("private_metadata") or ""))


def initial_values(spec: ModalSpec, context: Mapping[str, str]) -> dict[str, str]:
    """Prefilled answers the context knows: the quarter of an account-plan step."""
    step = context.get("step", "")
    if spec.name is ModalName.ACCOUNT_PLAN and step.startswith("account-plan-"):
        return {"quarter": step.removeprefix("account-plan-")}
    return {}
