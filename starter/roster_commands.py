"""``dealcycle roster show`` and ``dealcycle roster set``: who holds the rotating roles.

The roster lives in the database at ``DATABASE_URL`` (``activities.roster``); running
workflows look it up when they need one of its people, so a rotation reaches them from their
next step. Both commands bring the schema up to date first, as the worker does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from schemas import limits
from schemas.errors import RuleViolation
from schemas.roster import REGION_KEYS, ROLE_LABELS, Roster, RotateRoster
from starter.errors import CommandError
from starter.tables import when

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.exc import SQLAlchemyError

    from activities.roster import StoredRotation

SettingsFactory = Callable[[], Settings]
HISTORY_SHOWN = 10
"""Rotations ``roster show`` lists without ``--all``."""
_SECURITY_CE_ROLES = {key: f"security_ce_{key.replace('-', '_')}" for key in REGION_KEYS}


def add_roster_commands(
    subparsers: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    """Register ``show`` and ``set`` under the ``roster`` group's ``subparsers``."""
    show = subparsers.add_parser(
        "show",
        help="who holds each role today, and the latest rotations",
        description="The roster today (the settings' until its first rotation) and its rotations.",
    )
    show.add_argument("--all", action="store_true", help="every rotation, not only the latest")
    show.set_defaults(func=partial(_show, settings_factory))

    rotate = subparsers.add_parser(
        "set",
        help="rotate roles: running workflows use the new people from their next step",
        description=(
            "Give one or more roles to someone else (Slack member ids). Roles not named stay as"
            " they are; the rotation is kept with who made it and when."
        ),
    )
    rotate.add_argument("--ce-leader", metavar="U…", help="the CE leader (escalations)")
    rotate.add_argument("--security-pm", metavar="U…", help="the Security PM")
    rotate.add_argument(
        "--security-ce",
        action="append",
        default=[],
        metavar="REGION=U…",
        help=f"the Security CE of a region ({', '.join(REGION_KEYS)}); repeatable",
    )
    rotate.add_argument(
        "--value-engineering", metavar="U…", help="who runs value-realization exercises"
    )
    rotate.add_argument("--by", dest="actor", required=True, metavar="U…", help="who rotates")
    rotate.set_defaults(func=partial(_set, settings_factory))


def rotation_from(args: argparse.Namespace) -> RotateRoster:
    """The ``RotateRoster`` the arguments ask for, within its limits, or ``CommandError``."""
    security_ces: dict[str, str] = {}
    for raw in args.security_ce:
        region, equals, member = str(raw).partition("=")
        role = _SECURITY_CE_ROLES.get(region.strip().lower())
        if not equals or role is None:
            raise CommandError(
                f"rejected: --security-ce {raw!r}: write REGION=U… with REGION one of"
                f" {', '.join(REGION_KEYS)}"
            )
        if role in security_ces:
            raise CommandError(f"rejected: --security-ce names {region.strip()} twice")
        security_ces[role] = member.strip()
    request = RotateRoster(
        by=args.actor,
        ce_leader=args.ce_leader,
        security_pm=args.security_pm,
        value_engineering=args.value_engineering,
        **security_ces,
    )
    problems = limits.problems(request, datetime.now(UTC))
    if problems:
        raise CommandError("rejected: " + "; ".join(_as_option(text) for text in problems))
    empty = [ROLE_LABELS[role] for role, member in request.changes().items() if not member]
    empty += [] if request.by else ["--by"]
    if empty:
        raise CommandError(f"rejected: a Slack member id is needed for {', '.join(empty)}")
    return request


def _as_option(problem: str) -> str:
    """A limit's message, naming the option rather than the field (``--ce-leader: …``)."""
    field, _, rest = problem.partition(": ")
    regions = {role: key for key, role in _SECURITY_CE_ROLES.items()}
    option = (
        f"--security-ce {regions[field]}" if field in regions else "--" + field.replace("_", "-")
    )
    return f"{option}: {rest}"


def _engine(settings: Settings) -> Engine:
    from sqlalchemy.exc import SQLAlchemyError

    from dealcycle.db.engine import make_engine
    from dealcycle.db.migrate import upgrade_to_head

    try:
        upgrade_to_head(settings.database_url)
        return make_engine(settings.database_url)
    except SQLAlchemyError as err:
        raise _unreachable(err) from None


def _unreachable(err: SQLAlchemyError) -> CommandError:
    cause = str(getattr(err, "orig", None) or err).splitlines()[0]
    return CommandError(f"cannot read the roster: {cause} (is DATABASE_URL right?)")


def _prepared(settings_factory: SettingsFactory) -> Settings:
    settings = settings_factory()
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _show(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from activities.roster import current_roster, roster_rotations

    settings = _prepared(settings_factory)
    engine = _engine(settings)
    try:
        roster = current_roster(engine, settings.roster())
        rotations, total = roster_rotations(engine, None if args.all else HISTORY_SHOWN)
    except SQLAlchemyError as err:
        raise _unreachable(err) from None
    finally:
        engine.dispose()
    print(render_roster(roster, rotations, total))
    return 0


def _set(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from activities.roster import rotate_roster

    request = rotation_from(args)
    settings = _prepared(settings_factory)
    engine = _engine(settings)
    try:
        rotation = rotate_roster(engine, settings.roster(), request, datetime.now(UTC))
    except RuleViolation as err:
        raise CommandError(f"rejected: {err.message}") from None
    except SQLAlchemyError as err:
        raise _unreachable(err) from None
    finally:
        engine.dispose()
    print(f"rotation {rotation.roster.rotation} recorded: " + "; ".join(rotation.changes))
    print("running workflows use the new roster from their next step (dealcycle roster show)")
    return 0


def render_roster(roster: Roster, rotations: list[StoredRotation], total: int) -> str:
    source = f"rotation {roster.rotation}" if roster.rotation else "the settings', never rotated"
    width = max(len(label) for label in ROLE_LABELS.values())
    lines = [f"Roster today ({source})"]
    lines += [
        f"  {label.ljust(width)}  {getattr(roster, role)}" for role, label in ROLE_LABELS.items()
    ]
    if rotations:
        lines += ["", "Rotations (newest first):"]
        lines += [
            f"  #{entry.roster.rotation}  {when(entry.rotated_at)} UTC  by {entry.rotated_by}:"
            f" {'; '.join(entry.changes)}"
            for entry in rotations
        ]
        if total > len(rotations):
            lines.append(f"  ... {total - len(rotations)} earlier (--all shows them)")
    return "\n".join(lines)
