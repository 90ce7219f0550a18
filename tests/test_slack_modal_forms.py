"""The Slack app's Block Kit as pure functions: every modal, command answer and App Home view
is valid Block Kit (slack_sdk's models parse it back unchanged and check Slack's bounds), every
input carries its field's bound from ``schemas/limits.py``, a submission's wire-format values
make the workflow's request, and a problem lands on the block it is about."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from schemas import limits
from schemas.account import PlanContacts, RecordRenewalAssessment, SubmitAccountPlan
from schemas.common import Role
from schemas.health import HealthView, SetHealth
from schemas.todo import TodoItem, TodoKind, TodoList
from starter.slack.answers import (
    DONE_ACTION,
    MAX_TODO_ITEMS,
    account_answer,
    code_section,
    health_answer,
    home_view,
    problem_view,
)
from starter.slack.modal_forms import (
    SLACK_INPUT_CHARS,
    ModalName,
    bound_errors,
    context_from_button,
    modal_view,
    read_values,
    rejection_errors,
)
from starter.slack.modal_specs import MODALS, spec_for_action, spec_for_callback

NOW = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
CE, AE = "U0CE00001", "U0AE00001"
CONTEXT = {"workflow_id": "account-001ACME", "step": "account-plan-2027-Q2", "kind": "account"}


def valid_view(view: dict[str, Any]) -> None:
    """Slack's own models accept it (lengths, counts, required keys) and lose nothing."""
    model = View(**view)
    model.validate_json()
    assert model.to_dict() == view


def valid_blocks(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= 100
    for block in blocks:
        model = Block.parse(block)
        assert model is not None
        model.validate_json()
        assert model.to_dict() == block


def text_input(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def select(value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
    return {"value": {"type": "static_select", "selected_option": option}}


def ticked(yes: bool) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": "x"}, "value": "yes"}] if yes else []
    return {"value": {"type": "checkboxes", "selected_options": options}}


@pytest.mark.parametrize("name", list(ModalName))
def test_every_modal_is_valid_block_kit_with_its_fields_bounds(name: ModalName) -> None:
    spec = MODALS[name]
    view = modal_view(spec, CONTEXT)
    valid_view(view)
    assert view["callback_id"] == f"dealcycle_modal_{name.value}"
    assert json.loads(view["private_metadata"])["workflow_id"] == "account-001ACME"
    inputs = {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}
    assert list(inputs) == [field.name for field in spec.fields]
    for field in spec.fields:
        element = inputs[field.name]["element"]
        assert element["action_id"] == "value"
        if field.kind == "checkbox":
            continue  # a boolean's type is its bound
        limit = field.limit
        assert limit is not None, f"{field.name} has no bound in schemas/limits.py"
        if element["type"] == "plain_text_input":
            if isinstance(limit, limits.Text):
                expected = min(limit.max_chars, SLACK_INPUT_CHARS)
            else:
                assert isinstance(limit, limits.Items) and limit.each is not None
                expected = min(limit.max_items * (limit.each.max_chars + 1) - 1, SLACK_INPUT_CHARS)
            assert element["max_length"] == expected, field.name


def test_a_modal_field_that_names_no_bound_would_be_caught() -> None:
    # The guard above reads the table: a field unknown to it has no limit.
    spec = MODALS[ModalName.HEALTH]
    assert spec.fields[1].limit == limits.TEXT
    assert limits.limit_of("SetHealth", "no_such_field") is None


def test_account_plan_prefills_the_quarter_of_its_step() -> None:
    view = modal_view(MODALS[ModalName.ACCOUNT_PLAN], CONTEXT, {"quarter": "2027-Q2"})
    quarter = next(block for block in view["blocks"] if block.get("block_id") == "quarter")
    assert quarter["element"]["initial_value"] == "2027-Q2"


def test_the_action_plan_form_escapes_the_account_name_in_its_mrkdwn_intro() -> None:
    context = {"workflow_id": "red-account-001ACME-1", "subject": "<!channel> Acme & <@U1>"}
    view = modal_view(MODALS[ModalName.ACTION_PLAN], context)
    valid_view(view)
    intro = view["blocks"][0]["text"]
    assert intro["type"] == "mrkdwn"
    assert intro["text"].startswith("*&lt;!channel&gt; Acme &amp; &lt;@U1&gt;*: ")
    assert "<" not in intro["text"]


def test_a_health_submission_makes_set_health_by_the_submitter() -> None:
    spec = MODALS[ModalName.HEALTH]
    values = read_values(spec, {"colour": select("yellow"), "reason": text_input("champion left")})
    assert spec.build(values, CE, Role.CE, CONTEXT) == SetHealth(
        "yellow", CE, Role.CE, "champion left"
    )


def test_an_account_plan_submission_reads_contacts_lists_and_choice() -> None:
    spec = MODALS[ModalName.ACCOUNT_PLAN]
    state = {
        "quarter": text_input(" 2027-Q2 "),
        "contacts.champion": text_input("Ann"),
        "contacts.economic_buyer": text_input("Bob"),
        "contacts.advocate": text_input("Cy"),
        "contacts.admin": text_input("Di"),
        "use_cases": text_input("CI\n\n  CD  \n"),
        "health": select("green"),
        "expansion_opportunities": text_input("team B"),
        "risks": {"value": {"type": "plain_text_input", "value": None}},
        "product_feedback_themes": text_input("speed"),
        "objectives": text_input("adoption"),
        "next_steps": text_input("QBR"),
        "link": text_input("https://plans.example/acme"),
    }
    request = spec.build(read_values(spec, state), AE, Role.AE, CONTEXT)
    assert request == SubmitAccountPlan(
        quarter="2027-Q2",
        actor=AE,
        role=Role.AE,
        contacts=PlanContacts("Ann", "Bob", "Cy", "Di"),
        use_cases=["CI", "CD"],
        health="green",
        expansion_opportunities=["team B"],
        risks=[],
        product_feedback_themes=["speed"],
        objectives=["adoption"],
        next_steps="QBR",
        link="https://plans.example/acme",
    )


def test_an_assessment_reads_its_tick() -> None:
    spec = MODALS[ModalName.ASSESSMENT]
    values = read_values(spec, {"risks": text_input("budget cut"), "turns_red": ticked(True)})
    assert spec.build(values, CE, Role.CE, CONTEXT) == RecordRenewalAssessment(
        CE, Role.CE, ["budget cut"], True
    )
    unticked = read_values(spec, {"risks": text_input(""), "turns_red": ticked(False)})
    assert spec.build(unticked, CE, Role.CE, CONTEXT) == RecordRenewalAssessment(CE, Role.CE)


def test_a_field_past_its_bound_is_an_error_on_its_block() -> None:
    spec = MODALS[ModalName.ASSESSMENT]
    request = RecordRenewalAssessment(CE, Role.CE, ["ok", "x" * 501])
    errors = bound_errors(spec, request, NOW)
    assert list(errors) == ["risks"]
    assert "at most 500 characters" in errors["risks"]
    plan = MODALS[ModalName.ACCOUNT_PLAN]
    values = read_values(plan, {"contacts.admin": text_input("a" * 201)})
    errors = bound_errors(plan, plan.build(values, CE, Role.CE, CONTEXT), NOW)
    assert list(errors) == ["contacts.admin"]


def test_a_workflow_rejection_lands_on_the_blocks_it_names() -> None:
    plan = MODALS[ModalName.ACCOUNT_PLAN]
    errors = rejection_errors(
        plan, "the account plan is missing sections: contacts.champion, risks, link; nothing"
    )
    assert set(errors) == {"contacts.champion", "risks", "link"}
    health = MODALS[ModalName.HEALTH]
    assert list(rejection_errors(health, "a health change needs a reason (a champion")) == [
        "reason"
    ]
    assert list(rejection_errors(health, "health is already red")) == ["colour"]
    # A reason about the person, not a field, goes on the first block.
    assert list(rejection_errors(health, "U0X is not the account's CE (U0CE00001 is)")) == [
        "colour"
    ]
    action_plan = MODALS[ModalName.ACTION_PLAN]
    assert list(rejection_errors(action_plan, "intended actions is empty")) == ["intended_actions"]


def test_buttons_and_callbacks_name_their_modal() -> None:
    for spec in MODALS.values():
        assert spec_for_action(spec.open_action_id) is spec
        assert spec_for_callback(spec.callback_id) is spec
    assert spec_for_action("dealcycle_open_modal_nothing") is None
    assert context_from_button("not json") == {}
    assert context_from_button(json.dumps({"step": "x"})) == {}


def health_view(open_case: str | None) -> HealthView:
    return HealthView("001ACME", "Acme", "yellow", 55.0, {}, {}, {}, 70.0, 40.0, [], open_case, 1)


def test_command_answers_are_valid_block_kit_with_their_modal_buttons() -> None:
    blocks = account_answer("account-001ACME  AccountWorkflow  RUNNING\n<b>&", "account-001ACME")
    valid_blocks(blocks)
    assert "&lt;b&gt;&amp;" in blocks[0]["text"]["text"]
    buttons = blocks[1]["elements"]
    assert {button["action_id"] for button in buttons} == {
        MODALS[name].open_action_id
        for name in (
            ModalName.KICKOFF,
            ModalName.ASSESSMENT,
            ModalName.ACCOUNT_PLAN,
            ModalName.FEATURE_REQUEST,
            ModalName.HEALTH,
        )
    }
    assert all(json.loads(b["value"])["workflow_id"] == "account-001ACME" for b in buttons)

    with_case = health_answer(health_view("red-account-001ACME-1"), "text", "account-001ACME")
    valid_blocks(with_case)
    actions = {b["action_id"]: json.loads(b["value"]) for b in with_case[1]["elements"]}
    assert actions["dealcycle_open_modal_health"]["workflow_id"] == "account-001ACME"
    assert actions["dealcycle_open_modal_action_plan"] == {
        "workflow_id": "red-account-001ACME-1",
        "step": "action_plan",
        "kind": "red_account",
    }
    without = health_answer(health_view(None), "text", "account-001ACME")
    assert [b["action_id"] for b in without[1]["elements"]] == ["dealcycle_open_modal_health"]


def test_a_long_cli_text_is_cut_to_a_section() -> None:
    block = code_section("x" * 10_000)
    valid_blocks([block])
    assert len(block["text"]["text"]) == 3_000


def item(workflow_id: str, kind: TodoKind, step: str, due: datetime | None, late: bool) -> TodoItem:
    return TodoItem(workflow_id, kind, "Acme", step, step.replace("-", " "), due, late, CE)


def test_home_view_lists_steps_with_done_or_the_form_that_completes_them() -> None:
    items = [
        item("trial-006A", TodoKind.TRIAL, "success-criteria", NOW, True),
        item("account-001A", TodoKind.ACCOUNT, "account-plan-2027-Q2", None, False),
        item("red-account-001A-1", TodoKind.RED_ACCOUNT, "action_plan", NOW, False),
    ]
    view = home_view(TodoList(CE, NOW, items, 3, ["trial-006B"]))
    valid_view(view)
    accessories = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert [a["action_id"] for a in accessories] == [
        DONE_ACTION,
        "dealcycle_open_modal_account_plan",
        "dealcycle_open_modal_action_plan",
    ]
    assert json.loads(accessories[0]["value"]) == {
        "workflow_id": "trial-006A",
        "step": "success-criteria",
        "kind": "trial",
    }
    assert "trial-006B" in view["blocks"][-1]["text"]["text"]


def test_a_long_home_list_stays_within_a_views_100_blocks() -> None:
    items = [item(f"account-{n}", TodoKind.ACCOUNT, f"qbr-{n}", NOW, False) for n in range(200)]
    view = home_view(TodoList(CE, NOW, items, 200))
    valid_view(view)
    assert sum(1 for b in view["blocks"] if "accessory" in b) == MAX_TODO_ITEMS


def test_the_home_tab_says_why_when_the_list_cannot_be_read() -> None:
    view = problem_view("cannot reach the Temporal server at <localhost:7233>")
    valid_view(view)
    assert "&lt;localhost:7233&gt;" in view["blocks"][0]["text"]["text"]
