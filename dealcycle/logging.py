"""structlog set-up: JSON lines in production, readable lines on a terminal.

Temporal's ``workflow.logger`` and ``activity.logger`` are stdlib adapters that attach the
workflow and activity context as ``extra``; the stdlib records are rendered by structlog too,
with that context lifted into top-level ``workflow_id``, ``run_id`` and ``activity`` keys.
The worker binds an activity's context to structlog's own loggers too
(``dealcycle.worker_interceptors.ActivityLogContext``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
SLACK_BOLT_LOGGER = "dealcycle.slack.bolt"
"""The Slack app's bolt logger, which its Socket Mode client logs through too: at debug, every
envelope received whole (the request's verification token, its ``response_url``, what people
typed), so it never logs below info."""
# Keys that must never reach a log line, whoever passes them.
_SECRET_KEYS = frozenset(
    {
        "password",
        "client_secret",
        "token",
        "bot_token",
        "access_token",
        "private_key",
        "signing_secret",
    }
)


def _lift_temporal_context(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is None:
        return event
    workflow_info = getattr(record, "temporal_workflow", None)
    if isinstance(workflow_info, dict):
        event.setdefault("workflow_id", workflow_info.get("workflow_id"))
        event.setdefault("run_id", workflow_info.get("run_id"))
        event.setdefault("workflow_type", workflow_info.get("workflow_type"))
    activity_info = getattr(record, "temporal_activity", None)
    if isinstance(activity_info, dict):
        event.setdefault("workflow_id", activity_info.get("workflow_id"))
        event.setdefault("run_id", activity_info.get("workflow_run_id"))
        event.setdefault("activity", activity_info.get("activity_type"))
        event.setdefault("attempt", activity_info.get("attempt"))
    return event


def _redact_secrets(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in _SECRET_KEYS.intersection(event):
        event[key] = "[redacted]"
    return event


def configure_logging(log_format: str = "auto", level: str = "info", stream: Any = None) -> None:
    stream = stream or sys.stderr
    console = log_format == "console" or (log_format == "auto" and stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _lift_temporal_context],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    # Client libraries log request details (and, at debug, headers with tokens).
    for noisy in ("urllib3", "simple_salesforce", "slack_sdk", "alembic"):
        logging.getLogger(noisy).setLevel(max(_LEVELS[level], logging.WARNING))
    logging.getLogger(SLACK_BOLT_LOGGER).setLevel(max(_LEVELS[level], logging.INFO))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
