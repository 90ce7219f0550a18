"""What the full-scale bench reads from a side's sampled histories.

Histories are cut at the end of the account's business year (events the workflow recorded
after it, into the next year, are not the year's), then counted: events and bytes per
account-year, and Salesforce calls per business event.

A business event is something that happened to the account: its start, each update the team
sent (accepted), and each moment the calendar made something fall due (a timer that fired and
led to at least one activity or search attribute upsert). The Salesforce calls are the
activities that call Salesforce (a field update, a task).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench.business_clock import BusinessClock
from bench.common import tally
from bench.year_of_accounts import YEAR, script_of
from workflows import effects

SALESFORCE_ACTIVITIES = frozenset(
    {effects.UPDATE_SALESFORCE_RECORD, effects.CREATE_SALESFORCE_TASK}
)
_ACTIVITY_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
SUMMARIES = "the Web UI's summaries (user metadata)"
RUN_INPUTS = "run inputs (start, continue-as-new)"
ACTIVITY_INPUTS = "activity inputs"
REST = "the rest"
BYTE_PARTS = (SUMMARIES, RUN_INPUTS, ACTIVITY_INPUTS, REST)
"""Where a history's bytes are, so a ratio of two sides can be read: the parts are disjoint
and add up to the history's bytes."""


def byte_parts(histories: Sequence[WorkflowHistory]) -> Counter[str]:
    """The bytes of these runs' events by ``BYTE_PARTS``."""
    parts: Counter[str] = Counter()
    for history in histories:
        for event in history.events:
            size = event.ByteSize()
            summaries = event.user_metadata.ByteSize()
            inputs = 0
            if event.HasField("workflow_execution_started_event_attributes"):
                inputs = event.workflow_execution_started_event_attributes.input.ByteSize()
                parts[RUN_INPUTS] += inputs
            elif event.HasField("workflow_execution_continued_as_new_event_attributes"):
                inputs = event.workflow_execution_continued_as_new_event_attributes.input.ByteSize()
                parts[RUN_INPUTS] += inputs
            elif event.event_type == _ACTIVITY_SCHEDULED:
                inputs = event.activity_task_scheduled_event_attributes.input.ByteSize()
                parts[ACTIVITY_INPUTS] += inputs
            parts[SUMMARIES] += summaries
            parts[REST] += size - summaries - inputs
    return parts


def within_year(
    histories: Sequence[WorkflowHistory], clock: BusinessClock
) -> list[WorkflowHistory]:
    """The runs' events up to the end of the account's business year."""
    end = clock.real(clock.origin + YEAR)
    kept = []
    for history in histories:
        events = [e for e in history.events if e.event_time.ToDatetime(tzinfo=UTC) < end]
        if events:
            kept.append(WorkflowHistory(history.workflow_id, events))
    return kept


@dataclass(frozen=True)
class YearFigures:
    """Means over the sampled account-years of one side."""

    accounts: int
    events: float
    bytes: float
    by_type: Counter[str]
    """Event counts by type, summed over the sample."""
    by_part: Counter[str]
    """History bytes by ``BYTE_PARTS``, summed over the sample."""
    business_events: float
    salesforce_calls: float
    runs: float

    def part(self, name: str) -> float:
        """Mean bytes per account-year of one of ``BYTE_PARTS``."""
        return self.by_part[name] / self.accounts if self.accounts else 0.0

    @property
    def salesforce_per_business_event(self) -> float:
        return self.salesforce_calls / self.business_events if self.business_events else 0.0


def year_figures(
    sampled: Sequence[Sequence[WorkflowHistory]], clocks: Sequence[BusinessClock], origin: datetime
) -> YearFigures:
    del origin  # each account's clock knows its origin
    by_type: Counter[str] = Counter()
    by_part: Counter[str] = Counter()
    size = business = salesforce = runs = 0
    for histories, clock in zip(sampled, clocks, strict=True):
        year = within_year(histories, clock)
        counts, nbytes = tally(year)
        by_type += counts
        by_part += byte_parts(year)
        size += nbytes
        runs += len(year)
        business += sum(
            1
            for segment in script_of(year, clock.origin)
            if segment.startswith(("S", "U")) or segment.partition(":")[2].rstrip("!")
        )
        salesforce += sum(
            1
            for history in year
            for event in history.events
            if event.event_type == _ACTIVITY_SCHEDULED
            and event.activity_task_scheduled_event_attributes.activity_type.name
            in SALESFORCE_ACTIVITIES
        )
    n = len(sampled) or 1
    return YearFigures(
        accounts=len(sampled),
        events=by_type["(all events)"] / n,
        bytes=size / n,
        by_type=by_type,
        by_part=by_part,
        business_events=business / n,
        salesforce_calls=salesforce / n,
        runs=runs / n,
    )
