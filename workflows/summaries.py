"""What a workflow's page in the Temporal Web UI says while it runs: a summary on each activity
(from the effect it writes), a summary on each timer (what wakes the workflow), and the
current details (the phase and the open steps, with owners and due dates, overdue marked).

Pure text from plain values, so the rules are unit-tested without Temporal. None of it
changes a command: Temporal keeps summaries as user metadata beside the command, which replay
does not compare (tests/test_replay_histories.py replays histories recorded without them).
Summaries are one line of at most 200 characters, with no message bodies past their first
sentence: the customer's words stay in the payloads (which the codec encrypts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.effects import (
    EffectKind,
    LicenseRequest,
    SalesforceFieldUpdate,
    SalesforceTaskRequest,
    SlackMessageUpdate,
    SlackPost,
)
from schemas.start_summaries import clip
from schemas.todo import OpenStep
from workflows.mrkdwn import unescape

FIRST_SENTENCE_LIMIT = 96
"""Long enough for a step and its due date; the Web UI shows a summary on one line, and each
is kept in the history beside its command (an account-year has a hundred)."""
DETAILS_STEPS_SHOWN = 12
STEP_TITLE_LIMIT = 80
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def utc_minute(moment: datetime) -> str:
    """``2027-03-01 09:30 UTC``. Not ``strftime``: in the workflow sandbox each call of it goes
    through the sandbox's import hook (it imports ``time``), a cost every wake-up paid."""
    return f"{moment.date().isoformat()} {moment.hour:02d}:{moment.minute:02d} UTC"


def _mention_text(match: re.Match[str]) -> str:
    return f"@{match.group(1)}"


def _link_text(match: re.Match[str]) -> str:
    return match.group(2)


def first_sentence(text: str, limit: int = FIRST_SENTENCE_LIMIT) -> str:
    """The message's first sentence, Slack markup made plain (``<@U1>`` reads ``@U1``)."""
    # Only the head can be shown: a brief or a plan runs to kilobytes, read on every post.
    plain = " ".join(text[: limit * 4].split())
    if "<" in plain:
        # Functions, not templates: a template is parsed on each call, which in the workflow
        # sandbox goes through its import hook.
        plain = _LINK.sub(_link_text, _MENTION.sub(_mention_text, plain))
    # After the markup: an escaped ``&lt;!channel&gt;`` someone typed reads as they typed it.
    plain = unescape(plain)
    return clip(_SENTENCE_END.split(plain, maxsplit=1)[0], limit)


def _is_person(channel: str) -> bool:
    """A member id (a direct message), not a channel name or id."""
    return channel[:1] in ("U", "W") and channel.isalnum()


# --- Activities (owed effects) ----------------------------------------------------------------


def slack_post(post: SlackPost, kind: EffectKind) -> str:
    """ "remind U0…: Overdue: 'Trial rollout plan' …", "post #customer-accounts: New
    customer Acme Corp …", "reply in #red-accounts: …"."""
    if kind is EffectKind.REMINDER:
        verb = "remind"
    elif post.thread_ts:
        verb = "reply in"
    elif _is_person(post.channel):
        verb = "message"
    else:
        verb = "post"
    return clip(f"{verb} {post.channel}: {first_sentence(post.text)}")


def slack_update(update: SlackMessageUpdate) -> str:
    return clip(f"update a message in {update.channel}: {first_sentence(update.text)}")


def salesforce_update(update: SalesforceFieldUpdate) -> str:
    """ "Salesforce Opportunity OPP-1: set StageName"."""
    return clip(f"Salesforce {update.sobject} {update.record_id}: set {', '.join(update.fields)}")


def salesforce_task(task: SalesforceTaskRequest) -> str:
    """ "Salesforce Task: Value-realization exercise before the 2027-03-01 renewal …"."""
    return clip(f"Salesforce Task: {first_sentence(task.subject)}")


def license_key(request: LicenseRequest) -> str:
    return clip(f"issue a {request.kind} license: {request.customer}, {request.seats} seats")


# --- Timers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WakeUp:
    """A moment time alone changes something, and what it is (the timer's summary)."""

    at: datetime
    summary: str


def earliest(wake_ups: Iterable[WakeUp]) -> WakeUp | None:
    """The first to come; of two at the same moment, the first named."""
    found: WakeUp | None = None
    for wake_up in wake_ups:
        if found is None or wake_up.at < found.at:
            found = wake_up
    return found


def reminder(title: str) -> str:
    """A step's next reminder (or escalation): "next reminder: Kickoff plan"."""
    return clip(f"next reminder: {title}")


def opens(what: str) -> str:
    """ "T-90 value exercise opens"."""
    return clip(f"{what} opens")


def moment(what: str) -> str:
    return clip(what)


# --- Current details --------------------------------------------------------------------------


def _day(at: datetime) -> str:
    return at.date().isoformat()


def _step_line(step: OpenStep, now: datetime) -> str:
    who = f"{step.role} {step.owner}".strip() if step.owner else "nobody yet"
    if step.due_at is None:
        when = "no due date"
    elif step.due_at < now:
        when = f"**overdue** since {_day(step.due_at)}"
    else:
        when = f"due {_day(step.due_at)}"
    return f"- {clip(step.title, STEP_TITLE_LIMIT)} · {who} · {when}"


def current_details(
    headline: str,
    phase: str,
    steps: Iterable[OpenStep] | None,
    now: datetime,
    notes: Iterable[str] = (),
) -> str:
    """Markdown for ``workflow.set_current_details``: the headline (the static summary,
    which continue-as-new drops), the phase, the open steps soonest due first (overdue in
    bold), then ``notes`` (what else the workflow waits on). ``steps`` None: the workflow has
    no steps of its own (an opportunity), and no count is shown."""
    ordered = sorted(
        steps or [],
        key=lambda step: (step.due_at is None, step.due_at.timestamp() if step.due_at else 0.0),
    )
    overdue = sum(1 for step in ordered if step.due_at is not None and step.due_at < now)
    late = f", {overdue} overdue" if overdue else ""
    count = f" · {len(ordered)} open step{'' if len(ordered) == 1 else 's'}{late}"
    # The Web UI shows this in a box a few lines high: the headline and phase share a line.
    blocks = [
        f"**{clip(headline)}** · phase **{clip(phase, 80)}**{count if steps is not None else ''}"
    ]
    items = [_step_line(step, now) for step in ordered[:DETAILS_STEPS_SHOWN]]
    if len(ordered) > DETAILS_STEPS_SHOWN:
        items.append(f"- … and {len(ordered) - DETAILS_STEPS_SHOWN} more")
    items += [f"- {clip(note, 160)}" for note in notes]
    if items:
        # A blank line first: markdown joins single lines into one paragraph.
        blocks.append("\n".join(items))
    return "\n\n".join(blocks)
