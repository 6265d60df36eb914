"""RELEASE_STUCK: the release commanded open and the line not falling (pressure locked in)."""

from __future__ import annotations

import math

import pytest
from safety_support import LOCKED, TICK_S, Rig, ctx, press, pumping

from firmware.hal.outputs import SAFE_COMMANDS, OutputCommands
from firmware.safety import FaultCode, derive_safety_config
from firmware.safety.thresholds import RELEASE_NEEDLE_MARGIN, release_speed_mpa05_per_s

SAFETY = derive_safety_config(press())
STUCK = FaultCode.RELEASE_STUCK
WINDOW_S = SAFETY.release_stuck_window_s
OPEN = ctx(outputs=SAFE_COMMANDS)  # pump off, feeds closed, release open: a dump or a trip
SPEED = release_speed_mpa05_per_s(press())  # the configured needle, MPa^0.5/s


def needle(rig: Rig, p0_mpa: float, seconds: float, slower: float = 1.0) -> None:
    """Release through a needle `slower` times slower than configured: sqrt(p) falls linearly."""
    root = math.sqrt(p0_mpa)
    for _ in range(round(seconds / TICK_S)):
        root = max(0.0, root - SPEED / slower / 2 * TICK_S)
        rig.tick(p=root**2, c=OPEN)


def test_reference_window_and_margin() -> None:
    speed, window_s = SPEED, WINDOW_S
    assert speed == pytest.approx(0.72, abs=0.01)  # 9 MPa in ~8 s: plant.md's "~10 s"
    assert window_s == pytest.approx(10.6, abs=0.1)  # a 20x slower needle, 2 -> 1.5 MPa
    assert RELEASE_NEEDLE_MARGIN == 20.0


@pytest.mark.parametrize("p_mpa", [3.0, 7.4, 60.0])
def test_a_line_that_does_not_fall_trips_within_the_window(p_mpa) -> None:
    rig = Rig()
    rig.run(WINDOW_S + 1.0, p=p_mpa, c=OPEN)
    assert WINDOW_S <= rig.first(STUCK) <= WINDOW_S + 2 * TICK_S


def test_the_message_says_locked_in_do_not_open_relieve_by_hand() -> None:
    rig = Rig()
    fault = rig.run(WINDOW_S + 1.0, p=7.4, c=OPEN).latched[0]
    text = fault.message
    assert (fault.code, fault.subject) == (STUCK, "release")
    for words in ("PRESSURE IS LOCKED IN", "Do not open the press", "manual release",
                  "pump off, feed valves closed, release commanded open"):
        assert words in text


@pytest.mark.parametrize("slower", [1.0, 10.0, 15.0])
def test_a_working_or_nearly_closed_needle_does_not_trip(slower) -> None:
    rig = Rig()
    needle(rig, 60.0, 600.0, slower)
    assert rig.first(STUCK) is None and rig.verdicts[-1].ok


def test_a_needle_far_slower_than_the_margin_trips() -> None:
    rig = Rig()
    needle(rig, 7.4, 60.0, slower=4 * RELEASE_NEEDLE_MARGIN)
    assert rig.first(STUCK) is not None


def test_short_bleeds_in_a_hold_never_add_up() -> None:
    rig = Rig()  # heating pushes the line up as fast as one-tick bleeds take it down
    for _ in range(600):  # 10 minutes, a 0.1 s bleed every second
        rig.tick(p=30.0, c=OPEN)
        rig.run(0.9, p=30.0, c=ctx(outputs=LOCKED))
    assert rig.verdicts[-1].ok


def test_a_release_pulsed_at_high_duty_counts() -> None:
    rig = Rig()  # the controller's release ramp answering a line that does not move
    for _ in range(round(2 * WINDOW_S)):
        rig.run(0.8, p=7.4, c=OPEN)
        rig.run(0.2, p=7.4, c=ctx(outputs=LOCKED))
    assert rig.first(STUCK) is not None


@pytest.mark.parametrize("out", [
    OutputCommands(pump_on=True, release_open=True),  # the pump still on: not judged
    OutputCommands(advance_open=True, release_open=True),  # a feed valve open: not judged
])
def test_only_a_release_with_pump_off_and_feeds_closed_is_judged(out) -> None:
    assert Rig().run(3 * WINDOW_S, p=7.4, c=ctx(outputs=out)).ok


def test_pumping_starts_the_count_over() -> None:
    rig = Rig()
    rig.run(0.8 * WINDOW_S, p=7.4, c=OPEN)
    rig.tick(p=7.4, c=pumping())
    assert rig.run(0.8 * WINDOW_S, p=7.4, c=OPEN).ok


def test_a_low_line_or_no_reading_is_not_judged() -> None:
    assert Rig().run(3 * WINDOW_S, p=1.5, c=OPEN).ok  # below 2 MPa: too slow to judge
    rig = Rig()
    rig.tick(p=7.4, c=OPEN)
    sample = rig.sample()  # a hung reader: the same reading, never new (STALE_SENSOR's fault)
    for i in range(1, round(3 * WINDOW_S / TICK_S)):
        verdict = rig.sup.check(sample, OPEN, rig.t_s + i * TICK_S)
    assert STUCK not in verdict.codes() and FaultCode.STALE_SENSOR in verdict.codes()


def test_reset_waits_until_the_line_is_relieved_by_hand() -> None:
    rig = Rig()
    rig.run(WINDOW_S + 1.0, p=7.4, c=OPEN)
    ok, why = rig.reset()
    assert not ok and "locked in; relieve it by hand with the manual release" in why
    rig.tick(p=0.3, c=OPEN)
    assert rig.reset() == (True, "reset: cleared release_stuck release")


def test_a_manual_press_has_no_release_check() -> None:
    import dataclasses

    manual = dataclasses.replace(press(), hydraulics=None)
    assert Rig(manual).run(3 * WINDOW_S, p=7.4, c=OPEN).ok
