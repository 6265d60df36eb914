"""The supervisor as a whole: latching, safe outputs from the same tick, reset, no off switch."""

from __future__ import annotations

import inspect

from safety_support import Rig, ctx

from firmware.hal.types import FaultKind
from firmware.safety import FaultCode, Supervisor
from firmware.safety.checks_inputs import EstopCheck


def test_a_fault_forces_safe_outputs_on_the_tick_it_is_found() -> None:
    verdict = Rig().tick(estop=True)
    assert verdict.outputs_safe_required and [f.code for f in verdict.new_faults] == [
        FaultCode.ESTOP]


def test_a_fault_stays_latched_after_its_condition_goes() -> None:
    rig = Rig()
    rig.tick(estop=True)
    verdict = rig.run(5.0)
    assert verdict.outputs_safe_required and verdict.new_faults == ()
    assert verdict.latched[0].t_s == 0.1 and verdict.latched[0].subject == "estop"


def test_reset_refused_while_the_condition_persists_then_accepted() -> None:
    rig = Rig()
    rig.tick(estop=True)
    assert not rig.reset(estop=True)[0] and rig.sup.latched
    assert rig.reset()[0] and not rig.sup.latched and rig.tick().ok


def test_a_condition_that_returns_after_reset_trips_again() -> None:
    rig = Rig()
    rig.tick(estop=True)
    rig.tick()
    rig.reset()
    assert rig.tick(estop=True).new_faults[0].code is FaultCode.ESTOP


def test_reset_with_nothing_latched_is_accepted() -> None:
    assert Rig().reset() == (True, "nothing latched")


def test_a_persisting_warning_is_reported_once() -> None:
    rig = Rig()
    verdicts = [rig.tick(guard=True) for _ in range(20)]
    assert [len(v.warnings) for v in verdicts] == [1] + [0] * 19 and verdicts[-1].ok


def test_a_reading_flickering_across_a_warning_threshold_is_one_warning() -> None:
    rig = Rig()
    for i in range(100):  # 294.75 / 295.25: one MAX31855 step either side of 300 - 5 C
        rig.tick(temps=295.25 if i % 2 else 294.75)
    assert [len(v.warnings) for v in rig.verdicts].count(2) == 1  # top and bottom, once


def test_separate_sporadic_frames_are_each_reported() -> None:
    rig = Rig()
    for _ in range(3):
        rig.tick({"top": FaultKind.TC_SHORT_VCC, "bottom": 25.0})
        rig.run(30.0)
    assert sum(len(v.warnings) for v in rig.verdicts) == 3 and rig.verdicts[-1].ok


def test_a_check_that_raises_trips_instead_of_going_blind(monkeypatch) -> None:
    def broken(self, obs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(EstopCheck, "evaluate", broken)
    verdict = Rig().tick()
    assert [(f.code, f.subject) for f in verdict.latched] == [
        (FaultCode.SUPERVISOR_ERROR, "EstopCheck")]


def test_there_is_no_way_to_switch_the_supervisor_off() -> None:
    names = [n.lower() for n in dir(Supervisor)]
    names += list(inspect.signature(Supervisor.check).parameters)
    assert not [n for n in names if any(w in n for w in ("enable", "disable", "bypass", "ignore"))]
    assert list(inspect.signature(Supervisor).parameters) == ["cfg", "safety"]


def test_findings_carry_their_numbers() -> None:
    verdict = Rig().run(1.0, temps=310.0, c=ctx())
    fault = verdict.latched[0]
    assert fault.describe() == ("over_temp top: 310.0 C is above the press limit 300 C "
                                "(temp_c=310, limit_c=300, limit=press limit)")
    assert fault.as_dict()["values"] == {"temp_c": 310.0, "limit_c": 300.0, "limit": "press limit"}
