"""Customer health as pure functions: readings to a score, a score to a colour, and who may
change the colour. The account workflow owns a ``HealthState`` and calls these."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from schemas.common import CustomerHealth, Role
from schemas.errors import RuleViolation
from schemas.health import (
    CHURNED_CASE_SIGNAL_KIND,
    OWNERS_CHANGED_CASE_SIGNAL_KIND,
    RENEWAL_MOVED_CASE_SIGNAL_KIND,
    CaseSignal,
    HealthChange,
    HealthConfig,
    HealthInput,
    HealthSignal,
    HealthState,
    SetHealth,
    red_account_workflow_id,
)

HISTORY_KEPT = 20
CASE_SCOPE_CHARS = 10
"""Hex digits of the account's effect scope in a case id: the id stays within its 100
characters for a 64-character account id, and two runs of one account collide once in
about 10^12."""


def weights(config: HealthConfig) -> dict[str, float]:
    return {
        HealthInput.USAGE.value: config.usage_weight,
        HealthInput.ADOPTION.value: config.adoption_weight,
        HealthInput.SENTIMENT.value: config.sentiment_weight,
    }


def score_of(readings: dict[str, float], config: HealthConfig) -> float | None:
    """The weighted mean of the readings there are (weights renormalized), or None."""
    weighted = [(weights(config)[name], value) for name, value in readings.items()]
    total = sum(weight for weight, _ in weighted)
    if not weighted or total <= 0:
        return None
    return round(sum(weight * value for weight, value in weighted) / total, 1)


def colour_of(score: float, config: HealthConfig) -> CustomerHealth:
    if score >= config.green_at:
        return CustomerHealth.GREEN
    if score >= config.yellow_at:
        return CustomerHealth.YELLOW
    return CustomerHealth.RED


def check_signal(signal: HealthSignal) -> str | None:
    """Why a reading is unusable, or None. Signals cannot be rejected, so a bad one is logged
    and dropped rather than raised."""
    readings = [(signal.input, signal.value), *((more.input, more.value) for more in signal.more)]
    for name, value in readings:
        try:
            HealthInput(name)
        except ValueError:
            return f"unknown health input {name!r}; use usage, adoption or sentiment"
        if not 0 <= value <= 100:
            return f"health reading {value} is outside 0 to 100"
    if len({name for name, _ in readings}) < len(readings):
        return "a health signal carries one reading per input"
    return None


def apply_signal(
    h: HealthState, signal: HealthSignal, config: HealthConfig, now: datetime
) -> CustomerHealth | None:
    """Take a reading (and those it carries); returns the new colour if the score moved it
    across a threshold."""
    taken = {signal.input: float(signal.value), **{r.input: float(r.value) for r in signal.more}}
    h.readings = {**h.readings, **taken}
    if signal.source:
        h.reading_sources = {**h.reading_sources, **dict.fromkeys(taken, signal.source)}
    h.score = score_of(h.readings, config)
    if h.score is None:
        return None
    colour = colour_of(h.score, config)
    # The first score sets the baseline; it overrides a colour only nobody set by hand.
    hand_set = bool(h.history) and h.history[-1].by != "score"
    crossed = colour is not h.score_colour and not (h.score_colour is None and hand_set)
    h.score_colour = colour
    # A hand-set colour holds until the score crosses a threshold.
    if crossed and colour is not h.colour:
        reason = f"score {h.score:g} ({', '.join(f'{k} {v:g}' for k, v in h.readings.items())})"
        _change(h, colour, now, "score", reason)
        return colour
    return None


def check_set_health(h: HealthState, request: SetHealth, ae: str, ce: str) -> CustomerHealth:
    try:
        colour = CustomerHealth(request.colour.strip().lower())
    except ValueError:
        raise RuleViolation(
            f"unknown health colour {request.colour!r}; use green, yellow or red"
        ) from None
    if not request.reason.strip():
        raise RuleViolation("a health change needs a reason (a champion left, say)")
    owner = ce if request.role is Role.CE else ae
    if not request.actor.strip():
        raise RuleViolation("say who you are (--by)")
    if request.actor != owner:
        raise RuleViolation(
            f"{request.actor} is not the account's {request.role.value} ({owner or 'nobody'} is)"
        )
    if colour is h.colour:
        raise RuleViolation(f"health is already {colour.value}")
    return colour


def apply_set_health(
    h: HealthState, request: SetHealth, ae: str, ce: str, now: datetime
) -> CustomerHealth:
    colour = check_set_health(h, request, ae, ce)
    _change(h, colour, now, request.actor, request.reason.strip())
    return colour


def turn_red(h: HealthState, by: str, reason: str, now: datetime) -> bool:
    """Risks from a renewal assessment turn the account red; True if it changed."""
    if h.colour is CustomerHealth.RED:
        _tell_open_case(h, CustomerHealth.RED, by, reason, now)
        return False
    _change(h, CustomerHealth.RED, now, by, reason)
    return True


def _change(h: HealthState, colour: CustomerHealth, now: datetime, by: str, reason: str) -> None:
    was = h.colour
    h.colour = colour
    h.changes += 1
    h.history = [*h.history, HealthChange(colour, now, by, reason, h.score)][-HISTORY_KEPT:]
    if colour is CustomerHealth.RED:
        if h.open_case is None:
            h.cases_opened += 1
            h.open_case = red_account_workflow_id(h.account_id, h.cases_opened, h.case_scope)
            h.latest_case = h.open_case
            h.case_started = False
            h.case_reason = reason
        else:
            _tell_open_case(h, colour, by, reason, now)
    elif was is CustomerHealth.RED and h.open_case is not None:
        _tell_open_case(h, colour, by, reason, now, resolved=True)
        h.open_case = None


def _tell_open_case(
    h: HealthState,
    colour: CustomerHealth,
    by: str,
    reason: str,
    now: datetime,
    resolved: bool = False,
) -> None:
    if h.open_case is None:
        return
    kind = "resolved" if resolved else "still_red"
    signal = CaseSignal(kind, colour, by, reason, now, h.open_case)
    h.pending_case_signals = [*h.pending_case_signals, signal]


def case_scope_of(effect_scope: str) -> str:
    """The account run's part of its case ids: its effect scope (workflow id and first run
    id, unique for ever) hashed short enough for an id."""
    return hashlib.sha256(effect_scope.encode()).hexdigest()[:CASE_SCOPE_CHARS]


def close_case_on_churn(h: HealthState, by: str, now: datetime) -> str | None:
    """The customer churned: the open case, if any, is told to close (reason "churned") and
    is no longer the account's. Returns its id. A second call finds no open case."""
    case = h.open_case
    if case is None:
        return None
    h.open_case = None
    if not h.case_started:  # its workflow never started: there is nothing to close
        h.case_started = True
        return case
    h.pending_case_signals = [
        *h.pending_case_signals,
        CaseSignal(CHURNED_CASE_SIGNAL_KIND, h.colour, by, "churned", now, case),
    ]
    return case


def tell_case_of_owners(
    h: HealthState, ae: str, ce: str, by: str, reason: str, now: datetime
) -> str | None:
    """The account's AE or CE changed hands: the open case, if any, is told once, and its open
    parts and reminders follow. Returns its id."""
    return _tell_case_of_change(
        h,
        CaseSignal(
            OWNERS_CHANGED_CASE_SIGNAL_KIND, h.colour, by, reason, now, ae_owner=ae, ce_owner=ce
        ),
    )


def tell_case_of_renewal(
    h: HealthState, renewal_date: datetime, by: str, reason: str, now: datetime
) -> str | None:
    """The account's renewal date moved: the open case, if any, is told once. Returns its id."""
    return _tell_case_of_change(
        h,
        CaseSignal(
            RENEWAL_MOVED_CASE_SIGNAL_KIND, h.colour, by, reason, now, renewal_date=renewal_date
        ),
    )


def _tell_case_of_change(h: HealthState, signal: CaseSignal) -> str | None:
    # Told even before its workflow has started (the start already carries the change, but it
    # may have been built before the change): ``_sync_health`` starts a case before it sends
    # it anything, and a change the case already knows changes nothing.
    if h.open_case is None:
        return None
    h.pending_case_signals = [*h.pending_case_signals, replace(signal, case_id=h.open_case)]
    return h.open_case
