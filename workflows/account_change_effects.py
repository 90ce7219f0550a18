"""What an account change owes the outside world (``account_changes`` decides it): the
notices, and each carried step's Salesforce Task revised in place, each under a key of the
change's number, so each is written once. Called from the account's main loop."""

from __future__ import annotations

from collections.abc import Callable

from schemas.account import AccountSnapshot
from schemas.effects import SalesforceTaskRequest, SlackPost
from workflows import effects
from workflows.owed_work import OwedWork


async def write_account_changes(s: AccountSnapshot, fx: OwedWork, key: Callable[..., str]) -> None:
    """Owe what each pending change owes; a change whose writes are owed is dropped (the
    owed work keeps them to the end)."""
    while s.changes:
        change = s.changes[0]
        for notice in change.notices:
            await effects.post_slack(
                fx,
                SlackPost(
                    key("change", change.number, "tell", notice.recipient),
                    notice.recipient,
                    notice.text,
                ),
            )
        for task in change.tasks:
            await effects.create_salesforce_task(
                fx,
                SalesforceTaskRequest(
                    idempotency_key=key("change", change.number, "task", task.step_key),
                    what_id=s.profile.account_id,
                    subject=f"{task.title}: {s.profile.account_name}",
                    activity_date=task.due_at.date().isoformat(),
                    description=f"dealcycle step {task.step_key}",
                    owner_hint=task.owner,
                    task_key=key("step", task.opened_as, "task"),
                ),
            )
        s.changes = s.changes[1:]
