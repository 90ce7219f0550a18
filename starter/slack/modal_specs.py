"""The six modals: their fields, and the workflow request each submission makes.

A field's bound comes from ``schemas/limits.py`` through its request class (``ModalField.owner``);
a workflow's rejection finds its block by the field's name or its ``mentions``.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas.account import (
    CheckInCadence,
    PlanContacts,
    RecordFeatureRequest,
    RecordKickoffPlan,
    RecordRenewalAssessment,
    SubmitAccountPlan,
)
from schemas.common import CustomerHealth, Role
from schemas.health import RecordActionPlan, SetHealth
from starter.slack.modal_forms import (
    CALLBACK_PREFIX,
    OPEN_ACTION_PREFIX,
    ModalField,
    ModalName,
    ModalSpec,
    Values,
)

# --- Answers, by field ----------------------------------------------------------------------


def _text(values: Values, name: str) -> str:
    value = values.get(name, "")
    return value if isinstance(value, str) else ""


def _lines(values: Values, name: str) -> list[str]:
    value = values.get(name, [])
    return value if isinstance(value, list) else []


def _ticked(values: Values, name: str) -> bool:
    return values.get(name) is True


# --- The requests ------------------------------------------------------------------------------


def _kickoff(values: Values, actor: str, role: Role, context: Mapping[str, str]) -> object:
    # The CE records the kickoff plan; whoever else submits is refused by the workflow.
    return RecordKickoffPlan(
        actor,
        Role.CE,
        _text(values, "cadence"),
        _lines(values, "optional_trainings"),
        _ticked(values, "onboarding_integration_help"),
        _lines(values, "upcoming_initiatives"),
    )


def _assessment(values: Values, actor: str, role: Role, context: Mapping[str, str]) -> object:
    return RecordRenewalAssessment(
        actor, role, _lines(values, "risks"), _ticked(values, "turns_red")
    )


def _action_plan(values: Values, actor: str, role: Role, context: Mapping[str, str]) -> object:
    return RecordActionPlan(
        actor,
        role,
        _text(values, "current_status"),
        _text(values, "needs"),
        _text(values, "intended_actions"),
    )


def _health(values: Values, actor: str, role: Role, context: Mapping[str, str]) -> object:
    return SetHealth(_text(values, "colour"), actor, role, _text(values, "reason"))


def _account_plan(values: Values, actor: str, role: Role, context: Mapping[str, str]) -> object:
    return SubmitAccountPlan(
        quarter=_text(values, "quarter").strip(),
        actor=actor,
        role=role,
        contacts=PlanContacts(
            champion=_text(values, "contacts.champion"),
            economic_buyer=_text(values, "contacts.economic_buyer"),
            advocate=_text(values, "contacts.advocate"),
            admin=_text(values, "contacts.admin"),
        ),
        use_cases=_lines(values, "use_cases"),
        health=_text(values, "health"),
        expansion_opportunities=_lines(values, "expansion_opportunities"),
        risks=_lines(values, "risks"),
        product_feedback_themes=_lines(values, "product_feedback_themes"),
        objectives=_lines(values, "objectives"),
        next_steps=_text(values, "next_steps"),
        link=_text(values, "link").strip(),
    )


def _feature_request(values: Values, actor: str, role: Role, context: Mapping[str, str]) -> object:
    return RecordFeatureRequest(_text(values, "title"), actor, role, _text(values, "detail"))


ONE_PER_LINE = "One per line."
COLOURS = tuple(colour.value for colour in CustomerHealth)


def _plan_list(name: str, label: str) -> ModalField:
    return ModalField(name, label, "lines", SubmitAccountPlan, hint=ONE_PER_LINE)


def _contact(name: str, label: str) -> ModalField:
    return ModalField(
        f"contacts.{name}", label, "text", PlanContacts, mentions=(f"contacts.{name}",)
    )


MODALS: dict[ModalName, ModalSpec] = {
    spec.name: spec
    for spec in (
        ModalSpec(
            ModalName.KICKOFF,
            "Kickoff plan",
            "Record",
            "The CE records what the kickoff agreed; 101, 102 and Admin are always planned.",
            (
                ModalField(
                    "cadence",
                    "Check-in cadence",
                    "choice",
                    RecordKickoffPlan,
                    choices=tuple(cadence.value for cadence in CheckInCadence),
                ),
                ModalField(
                    "optional_trainings",
                    "Optional trainings",
                    "lines",
                    RecordKickoffPlan,
                    optional=True,
                    hint="Beyond 101, 102 and Admin (a security use case, say). " + ONE_PER_LINE,
                    mentions=("training",),
                ),
                ModalField(
                    "onboarding_integration_help",
                    "Integration help",
                    "checkbox",
                    RecordKickoffPlan,
                    optional=True,
                    choices=("They want help with integrations during onboarding",),
                ),
                ModalField(
                    "upcoming_initiatives",
                    "Upcoming initiatives",
                    "lines",
                    RecordKickoffPlan,
                    optional=True,
                    hint=ONE_PER_LINE,
                    mentions=("initiative",),
                ),
            ),
            _kickoff,
        ),
        ModalSpec(
            ModalName.ASSESSMENT,
            "Renewal assessment",
            "Record",
            "This month's renewal health assessment: no risks says there are none this month.",
            (
                ModalField(
                    "risks",
                    "Risks",
                    "lines",
                    RecordRenewalAssessment,
                    optional=True,
                    hint=ONE_PER_LINE,
                    mentions=("risk",),
                ),
                ModalField(
                    "turns_red",
                    "Red account",
                    "checkbox",
                    RecordRenewalAssessment,
                    optional=True,
                    choices=("These risks make the account red",),
                    mentions=("turn the account red",),
                ),
            ),
            _assessment,
        ),
        ModalSpec(
            ModalName.ACTION_PLAN,
            "Red-account plan",
            "Record",
            "Your part of the red account's action plan (the AE's or the CE's).",
            (
                ModalField("current_status", "Current status", "paragraph", RecordActionPlan),
                ModalField("needs", "What you need", "paragraph", RecordActionPlan),
                ModalField("intended_actions", "Intended actions", "paragraph", RecordActionPlan),
            ),
            _action_plan,
        ),
        ModalSpec(
            ModalName.HEALTH,
            "Set health",
            "Set",
            "Set the account's health colour; the reason is kept with it.",
            (
                ModalField(
                    "colour",
                    "Colour",
                    "choice",
                    SetHealth,
                    choices=COLOURS,
                    mentions=("health is already",),
                ),
                ModalField(
                    "reason",
                    "Reason",
                    "paragraph",
                    SetHealth,
                    hint="A champion left, say.",
                ),
            ),
            _health,
        ),
        ModalSpec(
            ModalName.ACCOUNT_PLAN,
            "Account plan",
            "Submit",
            "The quarter's account plan: the same sections as the plan file"
            " (`dealcycle account plan`).",
            (
                ModalField(
                    "quarter",
                    "Quarter",
                    "text",
                    SubmitAccountPlan,
                    hint="Like 2027-Q2.",
                    mentions=("account plan is open", "plan is closed", "first account plan"),
                ),
                _contact("champion", "Champion"),
                _contact("economic_buyer", "Economic buyer"),
                _contact("advocate", "Advocate"),
                _contact("admin", "Admin"),
                _plan_list("use_cases", "Use cases"),
                ModalField(
                    "health",
                    "Health",
                    "choice",
                    SubmitAccountPlan,
                    choices=COLOURS,
                    mentions=("plan health",),
                ),
                _plan_list("expansion_opportunities", "Expansion opportunities"),
                _plan_list("risks", "Risks"),
                _plan_list("product_feedback_themes", "Product feedback themes"),
                _plan_list("objectives", "Objectives"),
                ModalField("next_steps", "Next steps", "paragraph", SubmitAccountPlan),
                ModalField("link", "Link to the plan", "text", SubmitAccountPlan, hint="https://…"),
            ),
            _account_plan,
        ),
        ModalSpec(
            ModalName.FEATURE_REQUEST,
            "Feature request",
            "Record",
            "A feature the customer asks for; it goes to the product feedback channel.",
            (
                ModalField("title", "Title", "text", RecordFeatureRequest),
                ModalField("detail", "Detail", "paragraph", RecordFeatureRequest, optional=True),
            ),
            _feature_request,
        ),
    )
}


def spec_for_callback(callback_id: str) -> ModalSpec | None:
    name = callback_id.removeprefix(CALLBACK_PREFIX)
    return MODALS.get(ModalName(name)) if name in set(ModalName) else None


def spec_for_action(action_id: str) -> ModalSpec | None:
    name = action_id.removeprefix(OPEN_ACTION_PREFIX)
    return MODALS.get(ModalName(name)) if name in set(ModalName) else None


def modal_for_step(kind: str, step: str) -> ModalSpec | None:
    """The modal that completes a step which needs answers (the kickoff plan, a quarter's
    account plan, a month's renewal assessment, a red case's action plan); ``None`` for a
    step that a plain Done completes."""
    if kind == "red_account":
        return MODALS[ModalName.ACTION_PLAN]
    if kind != "account":
        return None
    if step == "kickoff-plan":
        return MODALS[ModalName.KICKOFF]
    if step.startswith("account-plan-"):
        return MODALS[ModalName.ACCOUNT_PLAN]
    if step.startswith("renewal-assessment-"):
        return MODALS[ModalName.ASSESSMENT]
    return None
