"""``dealcycle todo --user U…``: a person's open and overdue steps, soonest first."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from dealcycle.connection import connect
from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from schemas.errors import RuleViolation
from schemas.todo import TodoList
from starter.errors import CommandError
from starter.tables import when
from starter.todo import DEFAULT_LIMIT, todo_for, todo_query

SettingsFactory = Callable[[], Settings]


def add_todo_command(
    commands: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    todo = commands.add_parser(
        "todo",
        help="a person's open and overdue steps across every workflow, soonest first",
        description=(
            "Every open step the person owns (as AE, CE, Value Engineer, Security CE or PM) in"
            " every running trial, account, security review and red-account case."
        ),
    )
    todo.add_argument("--user", required=True, metavar="U…", help="whose list (Slack member id)")
    todo.add_argument(
        "--all",
        action="store_true",
        help="ask every workflow with a step of theirs (default: the"
        f" {DEFAULT_LIMIT} due soonest, the rest counted)",
    )
    todo.set_defaults(func=partial(_todo, settings_factory))


def _todo(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    try:
        todo_query(args.user)
    except RuleViolation as err:
        raise CommandError(f"rejected: {err.message}") from None
    settings = settings_factory()
    configure_logging(settings.log_format, settings.log_level)

    async def go() -> TodoList:
        client = await connect(settings)
        limit = None if args.all else DEFAULT_LIMIT
        return await todo_for(client, args.user, datetime.now(UTC), limit=limit)

    print(render_todo(asyncio.run(go())))
    return 0


def render_todo(todo: TodoList) -> str:
    if not todo.items and not todo.not_answering:
        return f"Nothing open for {todo.user}."
    lines = [
        f"To do for {todo.user}: {len(todo.items)} open, {len(todo.overdue)} overdue"
        f" (as of {when(todo.as_of)} UTC)"
    ]
    for item in todo.items:
        due = f"due {when(item.due_at)}" if item.due_at else "no due date"
        mark = "OVERDUE " if item.overdue else ""
        lines.append(
            f"  {mark}{due}  {item.title} [{item.role}]  {item.name}"
            f"  ({item.kind.value} {item.workflow_id}, step {item.step})"
        )
    lines += [f"  not answering (its steps are missing): {wid}" for wid in todo.not_answering]
    if todo.not_asked:
        lines.append(f"  and steps in {todo.not_asked} more workflows due later (--all lists them)")
    return "\n".join(lines)
