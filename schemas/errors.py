"""The one error a rule violation raises, in every workflow, validator and CLI check."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

RULE_VIOLATION = "RuleViolation"


class RuleViolation(ApplicationError):
    """Bad input or an action the rules do not allow: non-retryable, the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type=RULE_VIOLATION, non_retryable=True)
