"""ZoneController on the simulated press in virtual time: behaviour, not benchmark targets.

The loop here is the daemon's: PressIO reads the emulated MAX31855 through the real driver at
10 Hz, the duty is time-proportioned by the real SSR output; the truth is only used to judge.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
from helpers import sim_io

from firmware.control.autotune import AutotuneResult
from firmware.control.pid import PidGains
from firmware.control.temperature import ZoneController, ZoneModel, predictive_gains
from firmware.hal.outputs import OutputCommands
from firmware.hal.types import TempReading
from firmware.run.core_support import zone_model
from firmware.sim.press import SimPress

ZONE = "bottom"
TICK_S = 0.1
MODEL = ZoneModel(heater_w=2000.0, heat_capacity_j_per_k=4900.0, dead_time_s=22.5)


@dataclasses.dataclass
class Run:
    """One closed loop on the sim: the controller, and per tick the truth, reading and duty."""

    zc: ZoneController
    true_c: list[float] = dataclasses.field(default_factory=list)
    read_c: list[float | None] = dataclasses.field(default_factory=list)
    duty: list[float] = dataclasses.field(default_factory=list)
    setpoint_c: list[float | None] = dataclasses.field(default_factory=list)


def close_loop(target_c: Callable[[float], float | None], seconds: float,
               ramp_c_per_min: float | None = None,
               action: Callable[[float, SimPress], None] | None = None,
               off_with_reading: bool = False) -> Run:
    """Control the bottom platen for `seconds` on the daemon's deadline grid; `target_c(t)` may
    be None (zone off); `action(t, press)` may act on the sim each tick."""
    clock, press, io = sim_io()
    run = Run(ZoneController(zone_model(io.cfg, io.cfg.zones[1])))
    assert io.cfg.zones[1].name == ZONE
    for tick in range(round(seconds / TICK_S)):
        now_s = tick * TICK_S
        if action is not None:
            action(now_s, press)
        result = io.read().temps[ZONE]
        reading = result.temp_c if isinstance(result, TempReading) else None
        target = target_c(now_s)
        if target is None:
            duty = run.zc.off(reading, TICK_S) if off_with_reading else run.zc.off()
        else:
            duty = run.zc.update(reading, target, ramp_c_per_min, TICK_S)
        io.apply(OutputCommands(heater_duty={ZONE: duty}))
        clock.sleep_until((tick + 1) * TICK_S)
        run.true_c.append(press.truth()[f"platen_{ZONE}_c"])
        run.read_c.append(reading)
        run.duty.append(duty)
        run.setpoint_c.append(run.zc.setpoint_c)
    io.close()
    return run


@pytest.fixture(scope="module")
def heat_up_80() -> Run:
    return close_loop(lambda _t: 80.0, 400.0)


def test_short_heat_up_lands_in_band_without_big_overshoot(heat_up_80: Run):
    assert max(heat_up_80.true_c) <= 80.5
    assert all(abs(c - 80.0) <= 0.5 for c in heat_up_80.true_c[-600:])


def test_heat_up_runs_at_full_power_until_it_brakes(heat_up_80: Run):
    assert heat_up_80.duty[100:1000] == [1.0] * 900
    assert heat_up_80.duty[-1] < 0.3


def test_predicted_temperature_leads_the_reading_at_full_power():
    run = close_loop(lambda _t: 150.0, 200.0)
    lead_c = run.zc.predicted_c - run.read_c[-1]
    assert 5.0 < lead_c < 12.0  # ~0.35 C/s x 22.5 s of lag


def test_prediction_settles_on_the_reading_when_holding(heat_up_80: Run):
    assert run_mean(heat_up_80.read_c[-600:]) == pytest.approx(heat_up_80.zc.predicted_c, abs=0.2)


def run_mean(values: list[float | None]) -> float:
    valid = [v for v in values if v is not None]
    return sum(valid) / len(valid)


def test_ramp_is_followed():
    run = close_loop(lambda _t: 60.0, 400.0, ramp_c_per_min=6.0)
    at_200_s = 2000
    assert run.setpoint_c[at_200_s] == pytest.approx(25.0 + 6.0 * 200.0 / 60.0, abs=0.5)
    assert abs(run.true_c[at_200_s] - run.setpoint_c[at_200_s]) < 1.5
    assert max(run.true_c) <= 60.5


def test_off_turns_the_heater_off():
    run = close_loop(lambda t: 80.0 if t < 60.0 else None, 70.0)
    assert run.duty[599] == 1.0 and run.duty[600:] == [0.0] * 100
    assert run.zc.duty == 0.0 and run.zc.setpoint_c is None


@pytest.mark.parametrize("off_with_reading", [False, True])
def test_restart_soon_after_off_does_not_heat_the_heat_in_flight_again(off_with_reading: bool):
    run = close_loop(lambda t: None if 80.0 <= t < 90.0 else 60.0, 300.0,
                     off_with_reading=off_with_reading)
    assert max(run.true_c) <= 60.5


def test_fault_reading_reuses_the_last_valid_reading():
    with_fault, without = ZoneController(MODEL), ZoneController(MODEL)
    readings = [100.0, 100.25, None, 100.5]
    duties = [(with_fault.update(r, 120.0, None, TICK_S),
               without.update(100.25 if r is None else r, 120.0, None, TICK_S))
              for r in readings]
    assert [a for a, _ in duties] == [b for _, b in duties]


def test_no_valid_reading_yet_keeps_the_heater_off():
    zc = ZoneController(MODEL)
    assert zc.update(None, 150.0, None, TICK_S) == 0.0 and zc.setpoint_c is None


def test_changed_target_continues_the_ramp_from_where_the_setpoint_is():
    zc = ZoneController(MODEL)
    for _ in range(600):
        zc.update(25.0, 100.0, 10.0, TICK_S)
    before_c, duty_before = zc.setpoint_c, zc.duty
    zc.update(25.0, 120.0, 10.0, TICK_S)
    assert zc.setpoint_c == pytest.approx(before_c + 10.0 / 60.0 * TICK_S)
    assert zc.duty == pytest.approx(duty_before, abs=0.05)


def test_hold_freezes_the_ramp():
    zc = ZoneController(MODEL)
    zc.update(25.0, 100.0, 10.0, TICK_S)
    held_c = zc.setpoint_c
    for _ in range(50):
        zc.update(25.0, 100.0, 10.0, TICK_S, hold=True)
    assert zc.setpoint_c == held_c


def test_duty_stays_within_zero_and_one():
    zc = ZoneController(MODEL)
    duties = [zc.update(r, 150.0, None, TICK_S) for r in (25.0, 200.0, 25.0, 400.0, 150.0)]
    assert all(0.0 <= d <= 1.0 for d in duties)


def test_a_cold_die_shows_as_load_within_a_minute():
    def drop_die(t: float, press: SimPress) -> None:
        if math.isclose(t, 300.0, abs_tol=TICK_S / 2):
            press.thermal.place_mass(0.6, 25.0)

    run = close_loop(lambda _t: 80.0, 360.0, action=drop_die)
    assert run.zc.observer.load_duty > 0.05


def test_default_gains_are_a_fast_proportional_trim():
    gains = predictive_gains(MODEL)
    assert gains.ki == 0.0 and gains.kd == 0.0 and gains.kp > 0.5


def test_explicit_gains_are_used():
    gains = PidGains(kp=0.3)
    assert ZoneController(MODEL, gains).pid.gains == gains


def test_apply_autotune_takes_the_measured_model():
    zc = ZoneController(MODEL)
    zc.update(150.0, 150.0, None, TICK_S)
    result = AutotuneResult(
        target_c=150.0, bias_duty=0.23, relay_amplitude=0.17, hysteresis_c=0.375, cycles=5,
        amplitude_c=0.6, tu_s=120.0, ku=0.4, slope_c_per_s_per_duty=0.5, dead_time_s=18.0,
        hold_duty=0.25, simc=PidGains(0.1), simc_smooth=PidGains(0.05),
        ziegler_nichols=PidGains(0.2))
    zc.apply_autotune(result)
    assert zc.model.heat_capacity_j_per_k == pytest.approx(4000.0)
    assert zc.model.dead_time_s == 18.0 and zc.setpoint_c is None
    assert zc.feedforward.duty(150.0) == pytest.approx(0.25)
    assert zc.pid.gains == predictive_gains(zc.model)
