"""``dealcycle security …``: a security review's steps, snoozes, a declined first pass and an
escalation to the Security PM."""

from __future__ import annotations

from typing import Any

from schemas.common import DeploymentType
from schemas.security_review import (
    SECURITY_REVIEW_WORKFLOW_TYPE,
    CompleteSecurityStep,
    DeclineFirstPass,
    EscalateToSecurityPM,
)
from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
from starter.cli_common import snooze_arguments, update_command


def add_security_commands(commands: Any) -> None:
    security = commands.add_parser("security", help="security reviews").add_subparsers(
        dest="security_command", required=True, metavar="ACTION"
    )
    expected = (SECURITY_REVIEW_WORKFLOW_TYPE,)
    step = security.add_parser("step", help="complete a step of a security review (its owner)")
    step.add_argument("workflow_id", help="security-review-{opportunity}")
    step.add_argument("step")
    step.add_argument("--by", dest="actor", required=True)
    step.add_argument("--note", default="")
    step.add_argument("--deployment-type", choices=[d.value for d in DeploymentType], default=None)
    step.set_defaults(
        func=update_command(
            "complete_step",
            lambda a: CompleteSecurityStep(
                a.step,
                a.actor,
                a.note,
                DeploymentType(a.deployment_type) if a.deployment_type else None,
            ),
            expected,
        )
    )
    snooze = security.add_parser("snooze", help="move a step's next reminder by business days")
    snooze_arguments(snooze, "workflow_id")
    snooze.set_defaults(
        func=update_command(
            SNOOZE_STEP_UPDATE, lambda a: SnoozeStep(a.step, a.actor, a.days), expected
        )
    )
    decline = security.add_parser("decline-first-pass", help="the CE leaves the first pass out")
    decline.add_argument("workflow_id")
    decline.add_argument("--by", dest="actor", required=True)
    decline.add_argument("--reason", required=True)
    decline.set_defaults(
        func=update_command(
            "decline_first_pass", lambda a: DeclineFirstPass(a.actor, a.reason), expected
        )
    )
    escalate = security.add_parser("escalate", help="bring in the Security PM (moves the due date)")
    escalate.add_argument("workflow_id")
    escalate.add_argument("--by", dest="actor", required=True)
    escalate.add_argument("--reason", required=True)
    escalate.set_defaults(
        func=update_command(
            "escalate_to_security_pm", lambda a: EscalateToSecurityPM(a.actor, a.reason), expected
        )
    )
