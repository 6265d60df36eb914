"""Sensor health: sporadic frames tolerated, streaks and bad windows tripped, stale readers seen."""

from __future__ import annotations

import pytest
from safety_support import Rig, ctx, pumping

from firmware.hal.types import FaultKind
from firmware.safety import FaultCode

OPEN = FaultKind.TC_OPEN
SHORT = FaultKind.TC_SHORT_GND
BUS = FaultKind.BUS_ERROR
WIRING = FaultKind.WIRING


def test_one_sporadic_fault_frame_is_a_warning_not_a_trip() -> None:
    rig = Rig()
    rig.run(1.0)
    verdict = rig.tick({"top": SHORT, "bottom": 25.0})
    assert verdict.ok and [w.code for w in verdict.warnings] == [FaultCode.TC_FAULT]
    assert rig.run(5.0).ok


@pytest.mark.parametrize(("kind", "code"), [(OPEN, FaultCode.TC_FAULT),
                                            (BUS, FaultCode.SENSOR_BUS)])
def test_consecutive_bad_reads_trip_on_the_nth(kind, code) -> None:
    rig = Rig()  # reference: 4 reads (1 s of thermocouple polls at 0.25 s)
    verdicts = [rig.tick({"top": kind, "bottom": 25.0}) for _ in range(4)]
    assert [v.ok for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].codes() == {code}


def test_too_many_scattered_bad_reads_trip_the_window() -> None:
    rig = Rig()  # 7 of 20 bad (> 30 %), never more than one in a row
    reads = [SHORT if i % 3 == 0 else 25.0 for i in range(20)]
    verdicts = [rig.tick({"top": r, "bottom": 25.0}) for r in reads]
    assert verdicts[-1].codes() == {FaultCode.TC_FAULT} and verdicts[17].ok


@pytest.mark.parametrize(("c", "ticks_to_trip"), [(ctx(), 2), (pumping(), 1)])
def test_transducer_wiring_trips_sooner_while_pumping(c, ticks_to_trip) -> None:
    rig = Rig()
    verdicts = [rig.tick(p=WIRING, c=c) for _ in range(2)]
    assert [not v.ok for v in verdicts].index(True) + 1 == ticks_to_trip
    assert FaultCode.TRANSDUCER_WIRING in verdicts[-1].codes()


@pytest.mark.parametrize(("temps", "p", "subject"), [
    ({"top": None, "bottom": 25.0}, 0.0, "top"),  # top's last result reused for 1.2 s
    (25.0, None, "pressure"),                      # the transducer result stopped changing
])
def test_stale_readings_trip(temps, p, subject) -> None:
    rig = Rig()
    rig.tick()
    verdict = rig.run(1.2, temps=temps, p=p)
    assert [(f.code, f.subject) for f in verdict.latched] == [(FaultCode.STALE_SENSOR, subject)]


def test_a_missing_thermocouple_is_stale_at_once() -> None:
    assert Rig().tick({"top": 25.0}).codes() == {FaultCode.STALE_SENSOR}


def test_tc_fault_reset_needs_good_reads_again() -> None:
    rig = Rig()
    for _ in range(4):
        rig.tick({"top": OPEN, "bottom": 25.0})
    assert rig.reset() == (False, "reset refused: tc_fault top: still not reading: check the "
                                  "wiring, the connector and the bus")
    rig.tick()
    assert not rig.reset()[0]  # one good read is not enough
    rig.run(0.2)
    assert rig.reset()[0] and rig.tick().ok
