"""The command line's error model: every failure is one line on stderr and an exit code.

A person reads the line, a script reads the code; a traceback helps neither, so it is printed
only when asked for (``--debug`` or ``DEALCYCLE_LOG_LEVEL=debug``), after the line, and never
for a ``CommandError``, whose message is the whole story.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Mapping

from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.codec import PayloadDecryptionError
from dealcycle.settings import Settings, SettingsError

INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for a command stopped by Ctrl-C."""
BROKEN_PIPE = 141
"""128 + SIGPIPE, what a shell reports for ``yes | head -1``'s ``yes``."""
_MAX_LINE = 400


class CommandError(Exception):
    """A command failed in a way the person can fix; the message says how."""


def one_line(text: str, limit: int = _MAX_LINE) -> str:
    """Server messages may echo a 5,000-character input or span lines; the line stays short."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def failure_reason(err: WorkflowFailureError) -> str:
    """Why a workflow the CLI ran failed: its activity's own message ("Activity task failed"
    and "Workflow execution failed" say nothing)."""
    cause: BaseException | None = err.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)


def debug_requested(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return (env.get("DEALCYCLE_LOG_LEVEL") or "").strip().lower() == "debug"


def _temporal_address() -> str:
    try:
        return Settings.from_env().temporal_address
    except SettingsError:
        return os.environ.get("DEALCYCLE_TEMPORAL_ADDRESS") or "the configured address"


def _rpc_message(err: RPCError) -> str:
    message = err.message
    if "Blob data size exceeds limit" in message:
        return (
            "the request is too large: Temporal refuses a payload over 2 MB"
            f" ({one_line(message, 120)}); send less (ids, not documents)"
        )
    if "larger than max" in message:
        return (
            "a message between dealcycle and Temporal exceeds gRPC's 4 MB limit"
            f" ({one_line(message, 160)}); the workflow's state or the request is too large"
        )
    if "Workflow Task in failed state" in message:
        return (
            "the workflow is not answering: its workflow task keeps failing, so nothing was"
            " recorded; its workflow task failure in the Temporal UI says why"
        )
    if "unexpected workflow task failure" in message:
        return (
            "the workflow failed while taking the request, so nothing was recorded; its"
            " workflow task failure in the Temporal UI says why"
        )
    if err.status == RPCStatusCode.UNAVAILABLE:
        return (
            f"cannot reach the Temporal server at {_temporal_address()}"
            f" (DEALCYCLE_TEMPORAL_ADDRESS): {one_line(message, 200)}"
        )
    if err.status == RPCStatusCode.NOT_FOUND:
        return f"not found: {one_line(message)}"
    if err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return f"the Temporal server at {_temporal_address()} did not answer in time: {message}"
    status = err.status.name if err.status is not None else "error"
    return f"the Temporal server refused the request ({status}): {one_line(message)}"


def describe(err: BaseException) -> str:
    """The line for ``err``, without the ``dealcycle:`` prefix."""
    if isinstance(err, CommandError | SettingsError | PayloadDecryptionError):
        return str(err)
    if isinstance(err, RPCError):
        return _rpc_message(err)
    if isinstance(err, WorkflowQueryFailedError):
        return f"the workflow could not answer: {one_line(err.message)}"
    if isinstance(err, OSError) and err.strerror:
        where = f": {err.filename}" if err.filename else ""
        return f"{err.strerror}{where}"
    return f"internal error: {type(err).__name__}: {one_line(str(err))}"


def report(err: BaseException, *, debug: bool = False) -> int:
    """Print ``err`` as one line on stderr and return the exit code for it."""
    if isinstance(err, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(err, BrokenPipeError):
        # The reader has gone (``| head``): say nothing, and let the final flush of what is
        # still buffered land nowhere instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    print(f"dealcycle: {describe(err)}", file=sys.stderr)
    if debug and not isinstance(err, CommandError | SettingsError):
        traceback.print_exception(err, file=sys.stderr)
    return 1
