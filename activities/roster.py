"""The roster in our database (``roster_rotations``): ``look_up_roster`` for the workflows,
``rotate_roster`` and ``roster_rotations`` for ``dealcycle roster``.

Each rotation is a row holding the whole roster after it, so the newest row is today's roster
and the rows are its history; with no row the settings' roster (``Settings.roster``) holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from temporalio import activity

from activities.errors import clip, retryable
from activities.records import _utc
from dealcycle.db.models import RosterRotation
from schemas.errors import RuleViolation
from schemas.roster import ROLE_LABELS, Roster, RotateRoster

UNAVAILABLE = "RosterUnavailable"
LOOKUP_TIMEOUT = timedelta(seconds=5)
"""Shorter than the workflows' start-to-close, so an attempt ends before Temporal gives up on
it; a database slower than this is retried, then the workflow keeps its last known roster."""
_ROTATION_ROUNDS = 5


@dataclass(frozen=True)
class StoredRotation:
    """A ``roster_rotations`` row: the roster after it, who rotated it, when, what changed."""

    roster: Roster
    rotated_by: str
    rotated_at: datetime
    changes: list[str]


def _roster(row: RosterRotation) -> Roster:
    return Roster(
        ce_leader=row.ce_leader,
        security_pm=row.security_pm,
        security_ce_us_west_apac=row.security_ce_us_west_apac,
        security_ce_us_east_emea=row.security_ce_us_east_emea,
        value_engineering=row.value_engineering,
        rotation=row.number,
    )


def _newest(session: Session) -> RosterRotation | None:
    return session.scalars(
        select(RosterRotation).order_by(RosterRotation.number.desc()).limit(1)
    ).first()


def current_roster(engine: Engine, default: Roster) -> Roster:
    """Today's roster: the newest rotation's, else ``default`` (the settings')."""
    with Session(engine) as session:
        row = _newest(session)
        return _roster(row) if row is not None else replace(default, rotation=0)


def roster_rotations(engine: Engine, limit: int | None = None) -> tuple[list[StoredRotation], int]:
    """The newest ``limit`` rotations (all when ``None``), newest first, and how many there are."""
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(RosterRotation)) or 0
        query = select(RosterRotation).order_by(RosterRotation.number.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = session.scalars(query).all()
        return [
            StoredRotation(_roster(row), row.rotated_by, _utc(row.rotated_at), list(row.changes))
            for row in rows
        ], total


def rotate_roster(
    engine: Engine, default: Roster, request: RotateRoster, now: datetime
) -> StoredRotation:
    """Record a rotation of the roles ``request`` names; the others stay as they are.

    Refuses (``RuleViolation``) a rotation that changes nothing. Two rotations at once both
    read the same roster; the second to write loses on the row number and starts again from
    the first's result, so neither's change is lost.
    """
    wanted = request.changes()
    if not wanted:
        raise RuleViolation(
            "nothing to rotate: name a role (--ce-leader, --security-pm,"
            " --security-ce REGION=U…, --value-engineering)"
        )
    for _ in range(_ROTATION_ROUNDS):
        with Session(engine) as session:
            newest = _newest(session)
            before = _roster(newest) if newest is not None else default
            changes = [
                f"{ROLE_LABELS[role]} {getattr(before, role)} -> {member}"
                for role, member in wanted.items()
                if getattr(before, role) != member
            ]
            if not changes:
                held = ", ".join(f"{ROLE_LABELS[role]} {member}" for role, member in wanted.items())
                raise RuleViolation(f"nothing changes: the roster already has {held}")
            after = replace(before, **wanted, rotation=(newest.number if newest else 0) + 1)
            session.add(
                RosterRotation(
                    number=after.rotation,
                    ce_leader=after.ce_leader,
                    security_pm=after.security_pm,
                    security_ce_us_west_apac=after.security_ce_us_west_apac,
                    security_ce_us_east_emea=after.security_ce_us_east_emea,
                    value_engineering=after.value_engineering,
                    rotated_by=request.by,
                    rotated_at=now.astimezone(UTC),
                    changes=changes,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            return StoredRotation(after, request.by, now.astimezone(UTC), changes)
    raise RuntimeError(f"the roster kept changing under {_ROTATION_ROUNDS} rotations; try again")


class RosterActivities:
    """``look_up_roster``: the roster today, for a workflow about to need one of its people."""

    def __init__(self, engine: Engine, default: Roster) -> None:
        self._engine = engine
        self._default = default

    @activity.defn
    async def look_up_roster(self) -> Roster:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(current_roster, self._engine, self._default),
                LOOKUP_TIMEOUT.total_seconds(),
            )
        except TimeoutError:
            raise retryable(
                f"the roster could not be read within {LOOKUP_TIMEOUT.total_seconds():g} s",
                UNAVAILABLE,
            ) from None
        except SQLAlchemyError as err:
            cause = str(getattr(err, "orig", None) or err)
            raise retryable(f"the roster could not be read: {clip(cause)}", UNAVAILABLE) from None
