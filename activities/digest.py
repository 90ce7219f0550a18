"""The daily digest's activities, and the hold on reminders for the people who prefer it.

``gather_daily_digests`` reads who prefers the digest (our database) and, for each, their
to-do list (``todo_for``, given by the worker: activities do not import ``starter``), and keeps
what is overdue or due in the coming week.

Reminders to such a person are held where they are posted: ``SlackActivities`` asks
``reminder_recipient`` whether a post is a reminder DM, and the preference whether its person
takes the digest; if so the post is answered "held for the digest" (an effect done, nothing
posted). The workflows' reminders, and so their commands, are as before: no guard needed, and
a change of preference applies to the next reminder of every running workflow.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.client import Client

from dealcycle.db.preferences import ReminderPreferences
from schemas.digest import DigestBatch, DigestRequest, PersonDigest
from schemas.effects import SlackPost
from schemas.limits import MEMBER
from schemas.todo import TodoList

TodoSource = Callable[[Client, str, datetime], Awaitable[TodoList]]
REMINDER_KEY_PART = "reminder"
"""Every workflow keys its reminders ``…/reminder/<n>`` (``…/step/<key>/reminder/<n>``)."""


def reminder_recipient(post: SlackPost) -> str | None:
    """The person a post reminds, when it is a reminder in their DMs (a reply in a thread,
    such as a red case's reminder, is for the thread's readers: never held)."""
    if post.thread_ts or not re.fullmatch(MEMBER.pattern or "", post.channel):
        return None
    if REMINDER_KEY_PART not in post.idempotency_key.split("/"):
        return None
    return post.channel


class DailyDigestActivities:
    def __init__(
        self, client: Client, preferences: ReminderPreferences, todo_for: TodoSource
    ) -> None:
        self._client = client
        self._preferences = preferences
        self._todo_for = todo_for

    @activity.defn
    async def gather_daily_digests(self, request: DigestRequest) -> DigestBatch:
        people = await asyncio.to_thread(self._preferences.digest_people)
        week_end = request.as_of + timedelta(days=request.week_days)
        digests: list[PersonDigest] = []
        nothing_due: list[str] = []
        for member_id in people:
            todo = await self._todo_for(self._client, member_id, request.as_of)
            overdue = [item for item in todo.items if item.overdue]
            this_week = [
                item
                for item in todo.items
                if not item.overdue and item.due_at is not None and item.due_at <= week_end
            ]
            if not overdue and not this_week:
                nothing_due.append(member_id)
                continue
            room = request.items_per_person
            listed_overdue = overdue[:room]
            listed_week = this_week[: max(0, room - len(listed_overdue))]
            hidden = len(overdue) + len(this_week) - len(listed_overdue) - len(listed_week)
            digests.append(PersonDigest(member_id, listed_overdue, listed_week, hidden))
            activity.heartbeat(member_id)
        return DigestBatch(digests, nothing_due)
