"""Signal payloads a workflow can trust.

A signal cannot be rejected, and an exception in its handler fails the workflow *task*, which
is retried for ever: queries, updates and timers stop. So each handler takes its payload as
optional (``temporal workflow signal`` without input sends none; ``handle.signal(name, None)``
sends null) and keeps it only if it is the expected record within ``schemas.limits``; anything
else is dropped with a warning, and changes nothing.
"""

from __future__ import annotations

from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits

T = TypeVar("T")


def accepted(signal: str, payload: object, expected: type[T]) -> T | None:
    """``payload`` if it is a well-formed ``expected``; else None, said in the log."""
    problem = limits.signal_problem(payload, expected, workflow.now())
    if problem is not None:
        workflow.logger.warning("signal %s dropped: %s", signal, problem)
        return None
    assert isinstance(payload, expected)
    return payload
