"""The run state machine, driven with synthetic observations in virtual time."""

import pytest

from firmware.recipe import parse_recipe
from firmware.run.engine import Observed, Outcome, RunEngine, RunState

ZONES = ("top", "bottom")
HEAD = 'name = "t"\ndie_diameter_mm = 10.0\nmaterials = ["LGPS"]\n'


def recipe(steps: str):
    return parse_recipe(HEAD + steps)


def obs(temp_c=25.0, force_kn=0.0, at_target=False):
    return Observed({"top": temp_c, "bottom": temp_c}, force_kn, at_target)


def run_for(engine, o, seconds, t0=0.0, dt=0.5):
    events = []
    t = t0
    while t <= t0 + seconds:
        targets, ev = engine.advance(o, t)
        events += ev
        t += dt
    return targets, events, t


HEAT = '[[steps]]\nkind = "heat"\ntemp_c = 150\nramp_c_per_min = 10\nuntil = "target"\n'
SOAK = '[[steps]]\nkind = "heat"\ntemp_c = 150\nsoak_min = 1\n'
PRESS = '[[steps]]\nkind = "press"\npressure_mpa = 100\nuntil = "target"\n'
HOLD = '[[steps]]\nkind = "hold"\nduration_s = 30\n'
WAIT = '[[steps]]\nkind = "wait"\nprompt = "load the die"\n'
WARM = '[[steps]]\nkind = "heat"\ntemp_c = 40\nduration_s = 1\n'


def test_start_sets_the_first_steps_targets():
    eng = RunEngine(ZONES)
    events = eng.start(recipe(HEAT), None, "r1")
    targets, _ = eng.advance(obs(), 0.0)
    assert targets.temps_c == {"top": 150, "bottom": 150} and targets.ramp_c_per_min == 10
    assert [e.kind for e in events] == ["run_started", "step_started"]


def test_heat_until_target_ends_when_both_zones_in_band():
    eng = RunEngine(ZONES)
    eng.start(recipe(HEAT + HOLD), None, "r1")
    run_for(eng, obs(100.0), 10)
    assert eng.step_index == 0
    run_for(eng, obs(149.5), 1, t0=11)
    assert eng.step_index == 1


def test_soak_timer_starts_only_once_in_band():
    eng = RunEngine(ZONES)
    eng.start(recipe(SOAK + HOLD), None, "r1")
    run_for(eng, obs(120.0), 300)
    _, events, t = run_for(eng, obs(150.0), 59, t0=301)
    assert eng.step_index == 0 and "soak_started" in [e.kind for e in events]
    run_for(eng, obs(150.0), 2, t0=t)
    assert eng.step_index == 1


def test_pressure_waits_for_the_platens_to_be_in_band():
    eng = RunEngine(ZONES)
    eng.start(recipe(HEAT.replace('until = "target"', "duration_s = 1") + PRESS), None, "r1")
    targets, _, t = run_for(eng, obs(100.0), 5)
    assert targets.release and eng.step_index == 1
    targets, _, _ = run_for(eng, obs(150.0), 1, t0=t)
    assert not targets.release and targets.force_kn == pytest.approx(7.854, rel=1e-3)


def test_press_step_ends_at_target_force():
    eng = RunEngine(ZONES)
    eng.start(recipe(PRESS + HOLD), None, "r1")
    run_for(eng, obs(force_kn=7.85), 1)
    assert eng.step_index == 1


def test_pause_stops_the_step_timer_and_holds():
    eng = RunEngine(ZONES)
    eng.start(recipe(HOLD.replace("hold", "wait") + HOLD.replace("hold", "wait")), None, "r1")
    run_for(eng, obs(), 20)
    eng.pause()
    targets, _, _ = run_for(eng, obs(), 100, t0=21)
    assert targets.hold_position and eng.step_index == 0
    eng.resume()
    run_for(eng, obs(), 11, t0=122)
    assert eng.step_index == 1


def test_abort_ends_the_run_and_releases():
    eng = RunEngine(ZONES)
    eng.start(recipe(PRESS + HOLD), None, "r1")
    events = eng.abort("operator")
    targets, _ = eng.advance(obs(), 1.0)
    assert eng.last_outcome is Outcome.ABORTED and targets.release and not targets.temps_c
    assert events[-1].kind == "run_ended"


def test_operator_wait_is_confirmed_by_skip():
    eng = RunEngine(ZONES)
    events = eng.start(recipe(WAIT + WAIT), None, "r1")
    run_for(eng, obs(), 100)
    eng.skip()
    run_for(eng, obs(), 1, t0=101)
    assert eng.step_index == 1 and events[-1].kind == "waiting_operator"


def test_target_not_reached_in_max_wait_aborts():
    eng = RunEngine(ZONES)
    eng.start(recipe(HEAT + 'max_wait_min = 1\n' + HOLD), None, "r1")
    _, events, t = run_for(eng, obs(30.0), 12 * 60 + 50)  # the 12 min ramp: no timeout yet
    assert eng.state is RunState.RUNNING
    _, events, _ = run_for(eng, obs(30.0), 15, t0=t)
    assert eng.last_outcome is Outcome.ABORTED and "timeout" in [e.kind for e in events]


def test_last_step_completes_the_run():
    eng = RunEngine(ZONES)
    eng.start(recipe(WARM + HOLD), None, "r1")
    run_for(eng, obs(), 33)
    assert eng.state is RunState.IDLE and eng.last_outcome is Outcome.COMPLETED


def test_fault_ends_the_run_faulted():
    eng = RunEngine(ZONES)
    eng.start(recipe(WARM + HOLD), None, "r1")
    eng.fault("over-temperature top")
    assert eng.last_outcome is Outcome.FAULTED


def test_actions_the_state_forbids_are_refused():
    eng = RunEngine(ZONES)
    with pytest.raises(ValueError):
        eng.pause()
    eng.start(recipe(WARM), None, "r1")
    with pytest.raises(ValueError):
        eng.start(recipe(WARM), None, "r2")


def test_breathe_cycles_between_low_and_high():
    eng = RunEngine(ZONES)
    b = ('[[steps]]\nkind = "breathe"\npressure_mpa = 100\ncycles = 2\nrelease_to_mpa = 10\n'
         'dwell_s = 5\n')
    eng.start(recipe(b + HOLD.replace("30", "300")), None, "r1")
    forces = []
    t = 0.0
    for _ in range(100):
        targets, _ = eng.advance(obs(force_kn=forces[-1] if forces else 7.854), t)
        forces.append(targets.force_kn)
        t += 0.5
    assert min(forces) == pytest.approx(0.785, rel=1e-2) and eng.step_index == 1
