"""``DailyDigestWorkflow``: one run of the daily digest schedule.

An activity gathers, for each person who prefers the digest, their overdue steps and the
steps due in the coming week (from ``todo_for``: one visibility query, then only the
workflows it names); the workflow owes each of them ONE DM, keyed by person and day, so a
second run the same day (a manual one, a schedule catching up) posts nothing again. Their
reminders are not sent one by one: the Slack post activity holds a reminder DM to a person
who prefers the digest (``activities.digest``), so no workflow's commands changed for it.

The run ends once no DM is in flight; a DM that failed or expired is reported in the result,
not retried by a person: tomorrow's digest lists the same steps.
"""

from __future__ import annotations

import functools
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits
    from schemas.digest import DigestBatch, DigestRequest, DigestResult, DigestRun, PersonDigest
    from schemas.effects import Effect, EffectKind, EffectState, SlackPost, SlackPostResult
    from schemas.todo import TodoItem
    from workflows import effects
    from workflows.mrkdwn import escape
    from workflows.owed_work import OwedWork, OwedWorkHandlers

DIGEST_SCOPE = "digest"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%a %d %b %H:%M UTC") if moment else "no due date"


def _line(item: TodoItem) -> str:
    return (
        f"• {escape(item.title)}: {escape(item.name)}, due {_when(item.due_at)}"
        f" ({item.workflow_id} {item.step})"
    )


def digest_text(person: PersonDigest, day: str) -> str:
    lines = [
        f"Your dealcycle digest for {day}: {len(person.overdue)} overdue,"
        f" {len(person.due_this_week)} due this week."
    ]
    if person.overdue:
        lines += ["*Overdue*", *(_line(item) for item in person.overdue)]
    if person.due_this_week:
        lines += ["*Due this week*", *(_line(item) for item in person.due_this_week)]
    if person.not_listed:
        lines.append(f"…and {person.not_listed} more: dealcycle todo --user {person.member_id}")
    return "\n".join(lines)


def digest_key(member_id: str, day: str) -> str:
    """Per person per day, for ever: a second run the same day posts nothing again."""
    return f"{DIGEST_SCOPE}/{member_id}/{day}"


@workflow.defn(name="DailyDigestWorkflow")
class DailyDigestWorkflow(OwedWorkHandlers):
    @workflow.init
    def __init__(self, run: DigestRun) -> None:
        self._book: list[Effect] = []
        self._fx = OwedWork(self._book, DIGEST_SCOPE, lambda: None)

    @workflow.run
    async def run(self, run: DigestRun) -> DigestResult:
        limits.check(run, workflow.now(), "cannot send the digest: ")
        now = workflow.now()
        day = now.date().isoformat()
        batch: DigestBatch = await effects.execute(
            effects.GATHER_DAILY_DIGESTS,
            DigestRequest(now, run.week_days, run.items_per_person),
            DigestBatch,
            summary=f"gather the digests of {day}",
        )
        posted_before: set[str] = set()

        def note(member_id: str, result: SlackPostResult | None) -> None:
            if result is not None and result.posted_before:
                posted_before.add(member_id)

        for person in batch.people:
            await effects.post_slack(
                self._fx,
                SlackPost(
                    digest_key(person.member_id, day), person.member_id, digest_text(person, day)
                ),
                kind=EffectKind.REMINDER,
                then=functools.partial(note, person.member_id),
            )
        await workflow.wait_condition(self._fx.idle)
        states = {effect.key: effect.state for effect in self._book}
        done = [
            person.member_id
            for person in batch.people
            if states.get(digest_key(person.member_id, day)) is EffectState.DONE
        ]
        not_sent = [person.member_id for person in batch.people if person.member_id not in done]
        return DigestResult(
            day,
            sent=[member for member in done if member not in posted_before],
            not_sent=not_sent,
            nothing_due=list(batch.nothing_due),
            already_sent=[member for member in done if member in posted_before],
        )
