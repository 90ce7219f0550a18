"""Customer health's rules, without a server: readings to a score, a score to a colour, who may
set the colour by hand, and how a change to or from red opens or tells a red-account case."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest

from schemas.common import CustomerHealth, Role
from schemas.errors import RuleViolation
from schemas.health import CaseSignal, HealthConfig, HealthSignal, HealthState, SetHealth
from workflows import health_rules as rules

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AE, CE = "U0AE00001", "U0CE00001"
DAY = timedelta(days=1)
CONFIG = HealthConfig()
GREEN, YELLOW, RED = CustomerHealth.GREEN, CustomerHealth.YELLOW, CustomerHealth.RED
CASE_1, CASE_2 = "red-account-001A-1", "red-account-001A-2"


def new_health() -> HealthState:
    return HealthState(account_id="001A")


def read(
    h: HealthState, value: float, at: datetime = T0, input_: str = "usage", source: str = ""
) -> CustomerHealth | None:
    return rules.apply_signal(h, HealthSignal(input_, value, source), CONFIG, at)


def set_health(
    h: HealthState, colour: str, reason: str = "champion left", at: datetime = T0
) -> CustomerHealth:
    return rules.apply_set_health(h, SetHealth(colour, AE, Role.AE, reason), AE, CE, at)


# --- Score -----------------------------------------------------------------------------------


def test_the_score_is_the_weighted_mean_of_all_three_readings() -> None:
    readings = {"usage": 80.0, "adoption": 60.0, "sentiment": 40.0}
    # 0.4 * 80 + 0.35 * 60 + 0.25 * 40 = 32 + 21 + 10
    assert rules.score_of(readings, CONFIG) == 63.0


@pytest.mark.parametrize(
    ("readings", "score"),
    [
        ({"usage": 80.0}, 80.0),
        ({"sentiment": 20.0}, 20.0),
        # (0.4 * 80 + 0.25 * 40) / 0.65 = 64.615...
        ({"usage": 80.0, "sentiment": 40.0}, 64.6),
        # (0.35 * 90 + 0.25 * 30) / 0.6 = 65.0
        ({"adoption": 90.0, "sentiment": 30.0}, 65.0),
    ],
)
def test_weights_are_renormalized_over_the_readings_there_are(
    readings: dict[str, float], score: float
) -> None:
    assert rules.score_of(readings, CONFIG) == score


def test_custom_weights_drive_the_score() -> None:
    config = HealthConfig(usage_weight=1, adoption_weight=3, sentiment_weight=0)
    # (1 * 20 + 3 * 60) / 4; the sentiment reading has no weight and so no say.
    assert rules.score_of({"usage": 20.0, "adoption": 60.0, "sentiment": 0.0}, config) == 50.0


def test_there_is_no_score_without_readings_or_without_weight_behind_them() -> None:
    assert rules.score_of({}, CONFIG) is None
    no_sentiment = HealthConfig(sentiment_weight=0)
    assert rules.score_of({"sentiment": 90.0}, no_sentiment) is None


@pytest.mark.parametrize(
    ("adoption", "score", "colour"),
    [
        # (0.4 * 70 + 0.35 * 69.8) / 0.75 = 69.906...: shown, and coloured, as 69.9
        (69.8, 69.9, YELLOW),
        # (0.4 * 70 + 0.35 * 69.9) / 0.75 = 69.953...: shown as 70, so green like it says
        (69.9, 70.0, GREEN),
    ],
)
def test_the_score_is_rounded_to_one_decimal_and_coloured_as_shown(
    adoption: float, score: float, colour: CustomerHealth
) -> None:
    assert rules.score_of({"usage": 70.0, "adoption": adoption}, CONFIG) == score
    h = new_health()
    read(h, 70)
    read(h, adoption, input_="adoption")
    assert (h.score, h.score_colour) == (score, colour)


# --- Colour ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "colour"),
    [
        (100, GREEN),
        (70, GREEN),
        (69.9, YELLOW),
        (40, YELLOW),
        (39.9, RED),
        (0, RED),
    ],
)
def test_the_default_thresholds_at_their_edges(score: float, colour: CustomerHealth) -> None:
    assert rules.colour_of(score, CONFIG) is colour


@pytest.mark.parametrize(
    ("score", "colour"),
    [
        (80, GREEN),
        (79.9, YELLOW),
        (70, YELLOW),
        (50, YELLOW),
        (49.9, RED),
        (40, RED),
    ],
)
def test_custom_thresholds_at_their_edges(score: float, colour: CustomerHealth) -> None:
    config = HealthConfig(green_at=80, yellow_at=50)
    assert rules.colour_of(score, config) is colour


def test_with_equal_thresholds_there_is_no_yellow() -> None:
    config = HealthConfig(green_at=60, yellow_at=60)
    assert rules.colour_of(60, config) is GREEN
    assert rules.colour_of(59.9, config) is RED


# --- Readings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signal", "problem"),
    [
        (HealthSignal("usage", 0), None),
        (HealthSignal("adoption", 100), None),
        (HealthSignal("sentiment", 55.5), None),
        (
            HealthSignal("speed", 50),
            "unknown health input 'speed'; use usage, adoption or sentiment",
        ),
        (HealthSignal("", 50), "unknown health input ''"),
        (HealthSignal("usage", -1), "health reading -1 is outside 0 to 100"),
        (HealthSignal("usage", -0.1), "health reading -0.1 is outside 0 to 100"),
        (HealthSignal("sentiment", 100.5), "health reading 100.5 is outside 0 to 100"),
    ],
)
def test_check_signal_says_why_a_reading_is_unusable(
    signal: HealthSignal, problem: str | None
) -> None:
    before = copy.deepcopy(signal)
    found = rules.check_signal(signal)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)
    assert signal == before


def test_a_first_reading_sets_the_score_and_keeps_its_source() -> None:
    h = new_health()
    assert read(h, 85, source="product analytics") is None  # green already
    assert h.readings == {"usage": 85.0}
    assert h.reading_sources == {"usage": "product analytics"}
    assert (h.score, h.score_colour, h.colour) == (85.0, GREEN, GREEN)
    assert (h.changes, h.history) == (0, [])


def test_a_later_reading_replaces_the_earlier_one_of_its_input_and_keeps_a_known_source() -> None:
    h = new_health()
    read(h, 85, source="product analytics")
    read(h, 80, input_="sentiment", source="NPS survey")
    read(h, 75)  # no source: the one there was stays
    assert h.readings == {"usage": 75.0, "sentiment": 80.0}
    assert h.reading_sources == {"usage": "product analytics", "sentiment": "NPS survey"}
    # (0.4 * 75 + 0.25 * 80) / 0.65 = 76.92...
    assert h.score == 76.9


def test_a_score_crossing_a_threshold_changes_the_colour_with_its_reasons() -> None:
    h = new_health()
    read(h, 85)
    assert read(h, 55, at=T0 + DAY) is YELLOW
    assert h.colour is YELLOW
    assert h.changes == 1
    [change] = h.history
    assert (change.colour, change.at, change.by, change.reason, change.score) == (
        YELLOW,
        T0 + DAY,
        "score",
        "score 55 (usage 55)",
        55.0,
    )
    # Within the band: no change.
    assert read(h, 45, at=T0 + 2 * DAY) is None
    assert (h.colour, h.changes) == (YELLOW, 1)


def test_a_reading_without_weight_behind_it_changes_no_colour() -> None:
    h = new_health()
    no_sentiment = HealthConfig(sentiment_weight=0)
    signal = HealthSignal("sentiment", 5)
    assert rules.apply_signal(h, signal, no_sentiment, T0) is None
    assert h.readings == {"sentiment": 5.0}
    assert (h.score, h.score_colour, h.colour, h.changes) == (None, None, GREEN, 0)


def test_a_hand_set_red_holds_while_the_score_stays_green_until_it_crosses_into_yellow() -> None:
    h = new_health()
    read(h, 90)
    assert set_health(h, "red", at=T0 + DAY) is RED
    assert h.open_case == CASE_1
    h.case_started = True

    # The score moves, but stays green: the hand-set red holds.
    assert read(h, 75, at=T0 + 2 * DAY) is None
    assert (h.colour, h.score, h.score_colour) == (RED, 75.0, GREEN)
    assert h.open_case == CASE_1 and h.pending_case_signals == []

    # It crosses into yellow: the score's colour wins, and the case is resolved.
    assert read(h, 60, at=T0 + 3 * DAY) is YELLOW
    assert (h.colour, h.score_colour) == (YELLOW, YELLOW)
    assert h.open_case is None
    assert h.pending_case_signals == [
        CaseSignal("resolved", YELLOW, "score", "score 60 (usage 60)", T0 + 3 * DAY, CASE_1)
    ]
    assert [(c.colour, c.by) for c in h.history] == [(RED, AE), (YELLOW, "score")]


def test_a_score_crossing_into_the_hand_set_colour_changes_nothing() -> None:
    h = new_health()
    read(h, 90)
    set_health(h, "red")
    h.case_started = True
    assert read(h, 20, at=T0 + DAY) is None  # green to red: it is red already
    assert (h.colour, h.score_colour, h.changes, h.cases_opened) == (RED, RED, 1, 1)
    assert h.pending_case_signals == []


def test_a_score_crossing_into_red_opens_a_case_with_the_score_as_the_reason() -> None:
    h = new_health()
    read(h, 60, source="analytics")
    assert read(h, 30, at=T0 + DAY) is RED
    assert (h.open_case, h.cases_opened, h.case_started) == (CASE_1, 1, False)
    assert h.case_reason == "score 30 (usage 30)"


# --- Setting the colour by hand --------------------------------------------------------------


def test_the_ae_or_the_ce_sets_the_colour_with_a_reason() -> None:
    h = new_health()
    read(h, 90)
    request = SetHealth(" Yellow ", CE, Role.CE, "  usage dipped after the reorg  ")
    assert rules.check_set_health(h, request, AE, CE) is YELLOW
    assert h.colour is GREEN  # checking changes nothing
    assert rules.apply_set_health(h, request, AE, CE, T0 + DAY) is YELLOW
    assert (h.colour, h.changes) == (YELLOW, 1)
    [change] = h.history
    assert (change.colour, change.at, change.by, change.reason, change.score) == (
        YELLOW,
        T0 + DAY,
        CE,
        "usage dipped after the reorg",
        90.0,
    )
    assert h.open_case is None and h.cases_opened == 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            SetHealth("purple", AE, Role.AE, "why not"),
            "unknown health colour 'purple'; use green, yellow or red",
        ),
        (SetHealth("", AE, Role.AE, "why not"), "unknown health colour ''"),
        (SetHealth("red", AE, Role.AE, ""), "a health change needs a reason"),
        (SetHealth("red", AE, Role.AE, "   "), "a health change needs a reason"),
        (SetHealth("red", "", Role.AE, "champion left"), re.escape("say who you are (--by)")),
        (SetHealth("red", "  ", Role.CE, "champion left"), re.escape("say who you are (--by)")),
        (
            SetHealth("red", "U0SOMEONE", Role.AE, "champion left"),
            re.escape(f"U0SOMEONE is not the account's AE ({AE} is)"),
        ),
        (
            SetHealth("red", "U0SOMEONE", Role.CE, "champion left"),
            re.escape(f"U0SOMEONE is not the account's CE ({CE} is)"),
        ),
        (
            SetHealth("red", CE, Role.AE, "champion left"),
            re.escape(f"{CE} is not the account's AE ({AE} is)"),
        ),
        (
            SetHealth("red", AE, Role.CE, "champion left"),
            re.escape(f"{AE} is not the account's CE ({CE} is)"),
        ),
        (SetHealth("green", AE, Role.AE, "all good"), "health is already green"),
        (SetHealth(" GREEN ", CE, Role.CE, "all good"), "health is already green"),
    ],
)
def test_bad_colour_changes_are_rejected_and_change_nothing(
    request_: SetHealth, message: str
) -> None:
    h = new_health()
    read(h, 90, source="analytics")
    before = copy.deepcopy(h)
    with pytest.raises(RuleViolation, match=message):
        rules.check_set_health(h, request_, AE, CE)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_set_health(h, request_, AE, CE, T0 + DAY)
    assert h == before


def test_an_account_without_an_ae_names_nobody_as_its_ae() -> None:
    h = new_health()
    request = SetHealth("red", "U0SOMEONE", Role.AE, "champion left")
    with pytest.raises(RuleViolation, match=re.escape("not the account's AE (nobody is)")):
        rules.check_set_health(h, request, "", CE)


def test_setting_the_same_colour_again_while_red_is_rejected_and_tells_no_case() -> None:
    h = new_health()
    set_health(h, "red")
    h.case_started = True
    before = copy.deepcopy(h)
    with pytest.raises(RuleViolation, match="health is already red"):
        set_health(h, "red", reason="another reason", at=T0 + DAY)
    assert h == before


def test_history_keeps_the_latest_changes_but_the_count_keeps_them_all() -> None:
    h = new_health()
    colours = ["yellow", "green"] * 15
    for n, colour in enumerate(colours):
        set_health(h, colour, reason=f"change {n}", at=T0 + n * DAY)
    assert h.changes == 30
    assert len(h.history) == rules.HISTORY_KEPT == 20
    assert [c.reason for c in h.history] == [f"change {n}" for n in range(10, 30)]


# --- Red-account cases -----------------------------------------------------------------------


def case_of(h: HealthState) -> tuple[str | None, int, bool, str]:
    """The open case, how many were opened, whether it started, and why it opened."""
    return (h.open_case, h.cases_opened, h.case_started, h.case_reason)


@pytest.mark.parametrize("promoted_to", ["yellow", "green"])
def test_red_opens_case_n_resolution_tells_it_and_red_again_opens_case_n_plus_1(
    promoted_to: str,
) -> None:
    h = new_health()
    assert set_health(h, "red", reason="champion left") is RED
    assert case_of(h) == (CASE_1, 1, False, "champion left")
    assert h.pending_case_signals == []
    h.case_started = True  # the account's workflow starts the case

    request = SetHealth(promoted_to, CE, Role.CE, "new champion found")
    colour = rules.apply_set_health(h, request, AE, CE, T0 + DAY)
    assert h.colour is colour is CustomerHealth(promoted_to)
    assert h.open_case is None
    assert h.cases_opened == 1
    assert h.pending_case_signals == [
        CaseSignal("resolved", colour, CE, "new champion found", T0 + DAY, CASE_1)
    ]
    h.pending_case_signals = []  # sent

    assert rules.turn_red(h, AE, "budget cut for next year", T0 + 2 * DAY) is True
    assert h.colour is RED
    assert case_of(h) == (CASE_2, 2, False, "budget cut for next year")
    assert h.pending_case_signals == []  # the resolved case hears nothing more
    assert [(c.colour, c.by) for c in h.history] == [(RED, AE), (colour, CE), (RED, AE)]
    assert h.changes == 3


def test_yellow_to_green_tells_no_case() -> None:
    h = new_health()
    set_health(h, "yellow")
    set_health(h, "green", at=T0 + DAY)
    assert (h.open_case, h.cases_opened, h.pending_case_signals) == (None, 0, [])


def test_turn_red_from_green_opens_a_case() -> None:
    h = new_health()
    assert rules.turn_red(h, CE, "renewal risk: migration stalled", T0) is True
    assert (h.colour, h.open_case, h.cases_opened, h.case_started) == (RED, CASE_1, 1, False)
    assert h.case_reason == "renewal risk: migration stalled"
    [change] = h.history
    assert (change.colour, change.by, change.reason) == (
        RED,
        CE,
        "renewal risk: migration stalled",
    )


def test_turn_red_while_red_tells_the_open_case_it_is_still_red_and_opens_none() -> None:
    h = new_health()
    set_health(h, "red", reason="champion left")
    h.case_started = True
    assert rules.turn_red(h, CE, "renewal risk: budget cut", T0 + DAY) is False
    assert (h.colour, h.open_case, h.cases_opened, h.case_started) == (RED, CASE_1, 1, True)
    assert h.case_reason == "champion left"
    assert h.pending_case_signals == [
        CaseSignal("still_red", RED, CE, "renewal risk: budget cut", T0 + DAY, CASE_1)
    ]
    assert h.changes == 1 and len(h.history) == 1  # not a colour change


def test_the_case_id_names_the_account() -> None:
    h = HealthState(account_id="001XYZ")
    rules.turn_red(h, AE, "champion left", T0)
    assert h.open_case == "red-account-001XYZ-1"


def test_a_hand_set_colour_holds_against_the_first_reading() -> None:
    h = new_health()
    set_health(h, "red", "champion left")
    # The first score only sets the baseline: the AE's red stands, the case stays open.
    assert read(h, 90) is None
    assert h.colour is RED and h.score_colour is GREEN and h.open_case == CASE_1
    assert h.pending_case_signals == []
    # Crossing a threshold later does change it.
    assert read(h, 50) is YELLOW
    assert [signal.kind for signal in h.pending_case_signals] == ["resolved"]


def test_the_first_reading_sets_the_colour_when_nobody_set_it() -> None:
    h = new_health()
    assert read(h, 20) is RED
    assert h.open_case == CASE_1 and h.history[-1].by == "score"
