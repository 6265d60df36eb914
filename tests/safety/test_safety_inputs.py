"""Interlocks and loop health: e-stop, guard policy by state, loop overruns, the journal."""

from __future__ import annotations

import dataclasses

import pytest
from safety_support import Rig, ctx, press, pumping

from firmware.safety import FaultCode, GuardPolicy, PressurePhase, RunMode, derive_safety_config

GUARD = FaultCode.GUARD_OPEN


def test_estop_trips_and_reset_waits_for_release() -> None:
    rig = Rig()
    assert rig.tick(estop=True).codes() == {FaultCode.ESTOP}
    rig.tick()
    assert rig.reset(estop=True) == (False, "reset refused: estop estop: the e-stop is still "
                                            "pressed (or its circuit open)")
    assert rig.reset() == (True, "reset: cleared estop estop")


@pytest.mark.parametrize(("c", "p", "idle_policy", "tripped"), [
    (ctx(), 0.0, GuardPolicy.WARN, False),                             # idle: loading a die
    (ctx(), 0.0, GuardPolicy.TRIP, True),                              # idle, strict policy
    (ctx(mode=RunMode.RUNNING, run_in_progress=True), 0.0, GuardPolicy.WARN, True),
    (ctx(mode=RunMode.PAUSED, run_in_progress=True), 0.0, GuardPolicy.WARN, False),
    (pumping(), 0.0, GuardPolicy.WARN, True),                          # hydraulics active
    (ctx(pressure_phase=PressurePhase.HOLD), 20.0, GuardPolicy.WARN, True),
    (ctx(), 20.0, GuardPolicy.WARN, True),                             # platens under load
])
def test_guard_policy_by_state(c, p, idle_policy, tripped) -> None:
    safety = dataclasses.replace(derive_safety_config(press()), guard_open_when_idle=idle_policy)
    rig = Rig(safety=safety)
    verdict = rig.tick(p=p, c=c, guard=True)
    assert (GUARD in verdict.codes(), rig.warned(GUARD)) == (tripped, not tripped)


@pytest.mark.parametrize(("streak", "tripped", "warned"), [(0, False, False), (1, False, True),
                                                           (4, False, True), (5, True, False)])
def test_loop_overrun_streak(streak, tripped, warned) -> None:
    rig = Rig()
    verdict = rig.tick(c=ctx(consecutive_overruns=streak))
    assert (FaultCode.LOOP_OVERRUNS in verdict.codes(), rig.warned(FaultCode.LOOP_OVERRUNS)) == (
        tripped, warned)


@pytest.mark.parametrize(("in_run", "tripped"), [(True, True), (False, False)])
def test_unwritable_journal_trips_a_run_and_warns_at_idle(in_run, tripped) -> None:
    rig = Rig()
    verdict = rig.tick(c=ctx(journal_ok=False, run_in_progress=in_run))
    assert (FaultCode.JOURNAL_UNWRITABLE in verdict.codes()) is tripped
    assert rig.warned(FaultCode.JOURNAL_UNWRITABLE) is not tripped
