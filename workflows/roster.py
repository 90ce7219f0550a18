"""The roster as a workflow sees it: looked up when one of its people is needed.

The CE leader, the Security PM, the Security CE of each region and Value Engineering rotate
(``dealcycle roster set``). A workflow asks for the roster (activity ``look_up_roster``) at the
moment it needs one of them, an escalation, a Security CE to assign, a value-realization task
to give, and keeps the answer for the rest of that wake-up of its main loop only: the next
wake-up asks again, so a rotation reaches running workflows from their next step.

A lookup that fails never fails the workflow: it is logged, and the workflow goes on with the
last roster it knew, which it carries (``remember`` writes each answer there, so it survives
continue-as-new). Runs recorded before lookups existed keep the carried roster
(``ROSTER_LOOKUP_PATCH``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from schemas.roster import Roster

ROSTER_LOOKUP_PATCH = "look-up-roster-when-needed"
LOOK_UP_ROSTER = "look_up_roster"

# A lookup is a read on the way to a step: short, a few tries, then the last known roster.
LOOKUP_ATTEMPT = timedelta(seconds=10)
LOOKUP_BUDGET = timedelta(seconds=30)
LOOKUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=3,
)


class RosterLookup:
    """One workflow's roster: ``await current()`` when a member is needed, ``new_wake_up()``
    at the top of each main-loop round.

    ``last_known`` reads the roster the workflow carries; ``remember`` stores a fresh one there.
    """

    def __init__(
        self, last_known: Callable[[], Roster], remember: Callable[[Roster], None]
    ) -> None:
        self._last_known = last_known
        self._remember = remember
        self._this_wake_up: Roster | None = None

    def new_wake_up(self) -> None:
        self._this_wake_up = None

    async def of_today(self) -> Roster:
        """The roster asked again, whatever this wake-up knows: for an update handler, which
        may run long after its main loop last woke (and looked)."""
        self._this_wake_up = None
        return await self.current()

    async def current(self) -> Roster:
        if self._this_wake_up is not None:
            return self._this_wake_up
        # Asked only where a member is needed, so a run recorded before this guard replays
        # with the roster it carried, and starts asking after its next continue-as-new.
        if not workflow.patched(ROSTER_LOOKUP_PATCH):
            return self._last_known()
        try:
            roster: Roster = await workflow.execute_activity(
                LOOK_UP_ROSTER,
                result_type=Roster,
                start_to_close_timeout=LOOKUP_ATTEMPT,
                schedule_to_close_timeout=LOOKUP_BUDGET,
                retry_policy=LOOKUP_RETRY,
                summary="look up the roster",
            )
        except ActivityError as err:
            roster = self._last_known()
            workflow.logger.warning(
                "roster lookup failed, going on with the last roster known (CE leader %s): %s",
                roster.ce_leader,
                err.cause or err,
            )
        else:
            self._remember(roster)
        self._this_wake_up = roster
        return roster
