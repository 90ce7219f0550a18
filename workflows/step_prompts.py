"""A step's Slack prompts: remembered as posted, marked done in place once, snoozed.

Shared by every workflow whose steps have an owner and reminders (trial, account). A step
keeps the channel and ``ts`` of its latest posts (the post effect's result, so remembering
adds no command); when it is done (or closed), each of those messages is owed one
``chat.update`` that replaces its buttons by who did it and when. That edit is a new command:
a run recorded before it (``SLACK_DONE_UPDATE_PATCH``) marks the prompts closed and edits
nothing, so it replays as recorded.

"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.common import StepStatus
    from schemas.effects import SlackMessageUpdate, SlackPostResult
    from schemas.steps import MAX_PROMPTS_KEPT, PostedPrompt
    from workflows import effects
    from workflows.owed_work import OwedWork
    from workflows.slack_blocks import closed_blocks, closed_text, done_text
    from workflows.step_snooze import PromptedStep

SLACK_DONE_UPDATE_PATCH = "slack-prompt-marked-done"
"""Runs recorded before it kept their prompts' buttons once a step was done."""


def remember_prompt(step: PromptedStep) -> Callable[[SlackPostResult | None], bool]:
    """The ``then`` of a step's prompt: keeps where it was posted (nothing if it expired).

    Its main loop has a use for the prompt at once only when the step closed while it was
    being posted: it is then marked done. Otherwise the step's closing marks it, later."""

    def keep(result: SlackPostResult | None) -> bool:
        if result is None or result.held_for_digest:  # expired, or held: no message to mark
            return False
        step.prompts.append(PostedPrompt(result.channel, result.ts))
        del step.prompts[:-MAX_PROMPTS_KEPT]
        return step.status in (StepStatus.DONE, StepStatus.SKIPPED)

    return keep


async def mark_prompts_done(
    fx: OwedWork,
    steps: Iterable[PromptedStep],
    key: Callable[[PromptedStep, str], str],
    subject: str,
) -> None:
    """Owe one edit of each remembered prompt of a step that is done or closed; ``key(step,
    ts)`` is that edit's idempotency key (the ``ts`` makes it unique for ever)."""
    for step in steps:
        if step.status not in (StepStatus.DONE, StepStatus.SKIPPED):
            continue
        waiting = [prompt for prompt in step.prompts if not prompt.closed]
        if not waiting:
            continue
        if not workflow.patched(SLACK_DONE_UPDATE_PATCH):
            for prompt in waiting:
                prompt.closed = True
            continue
        if step.status is StepStatus.DONE and step.completed_by and step.completed_at:
            text = done_text(step.title, subject, step.completed_by, step.completed_at)
        else:
            text = closed_text(step.title, subject, step.note)
        for prompt in waiting:
            await effects.update_slack_message(
                fx,
                SlackMessageUpdate(
                    key(step, prompt.ts), prompt.channel, prompt.ts, text, closed_blocks(text)
                ),
            )
            prompt.closed = True
