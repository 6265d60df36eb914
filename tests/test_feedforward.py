"""Holding-power model: plant.md's loss law, and UA learnt online from steady holding."""

from __future__ import annotations

import math

import pytest

from firmware.control.feedforward import HoldingPowerModel
from firmware.control.pid import PID, PidGains

DT_S = 0.25
SIMC = PidGains.from_standard(kc=0.06, ti_s=160.0)


class Platen:
    """Test plant with plant.md's loss law UA (T - Ta)(1 + (T - Ta)/300), 4.9 kJ/K, 2 kW, read
    through four 5 s lags in 0.25 C steps."""

    def __init__(self, temp_c: float, ua_w_per_k: float) -> None:
        self.temp_c, self.ua_w_per_k = temp_c, ua_w_per_k
        self.lags_c = [temp_c] * 4

    def step(self, duty: float) -> float:
        rise_k = self.temp_c - 25.0
        loss_w = self.ua_w_per_k * rise_k * (1.0 + rise_k / 300.0)
        self.temp_c += (2000.0 * duty - loss_w) / 4900.0 * DT_S
        upstream_c = self.temp_c
        for i, lag_c in enumerate(self.lags_c):
            self.lags_c[i] = upstream_c = lag_c + (upstream_c - lag_c) * (1 - math.exp(-DT_S / 5))
        return round(upstream_c * 4) / 4


def hold(model: HoldingPowerModel, plant: Platen, setpoint_c, duration_s: float) -> int:
    """PID + model feed-forward holding `setpoint_c` (C, or a function of time); count learnt
    steps."""
    pid, reading_c, learnt = PID(SIMC, feedforward=model.duty), plant.temp_c, 0
    for k in range(int(duration_s / DT_S)):
        target_c = setpoint_c(k * DT_S) if callable(setpoint_c) else setpoint_c
        duty = pid.update(reading_c, target_c, DT_S)
        learnt += model.observe(reading_c, target_c, duty, DT_S)
        reading_c = plant.step(duty)
    return learnt


def test_duty_follows_the_loss_law_of_plant_md():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.5, ambient_c=25.0)
    assert model.duty(150.0) == pytest.approx(2.5 * 125 * (1 + 125 / 300) / 2000)


def test_duty_within_plant_md_table_for_ua_2_to_3():
    duties = [HoldingPowerModel(2000.0, ua).duty(t) for t in (150.0, 200.0) for ua in (2.0, 3.0)]
    assert duties == pytest.approx([0.18, 0.27, 0.28, 0.42], abs=0.01)


def test_learns_ua_to_within_a_few_percent_from_steady_holding():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.0)
    hold(model, Platen(150.0, ua_w_per_k=3.0), 150.0, 2 * 3600)
    assert model.ua_w_per_k == pytest.approx(3.0, rel=0.03)


def test_learns_downward_too():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=3.5)
    hold(model, Platen(200.0, ua_w_per_k=2.5), 200.0, 2 * 3600)
    assert model.ua_w_per_k == pytest.approx(2.5, rel=0.03)


def test_does_not_learn_while_ramping():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.0)
    assert hold(model, Platen(100.0, 3.0), lambda t_s: 100.0 + 0.2 * t_s, 300) == 0
    assert model.ua_w_per_k == 2.0


def test_does_not_learn_on_a_slow_ramp_that_looks_settled():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.0)
    assert hold(model, Platen(100.0, 3.0), lambda t_s: 100.0 + t_s / 30.0, 600) == 0


def test_does_not_learn_near_ambient():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.0)
    assert hold(model, Platen(40.0, 3.0), 40.0, 1800) == 0


def test_waits_for_the_settle_dwell_before_learning():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.0)
    assert not any(model.observe(150.0, 150.0, 0.3, DT_S) for _ in range(int(100 / DT_S)))
    assert model.observe(150.0, 150.0, 0.3, 30.0)


def test_learning_is_bounded_to_a_factor_of_the_estimate():
    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.0, learn_tau_s=1.0)
    for _ in range(int(600 / DT_S)):
        model.observe(150.0, 150.0, 1.0, DT_S)  # a cold die soaking up full power
    assert model.ua_w_per_k == pytest.approx(8.0)


def test_starts_from_a_stored_learnt_value_within_bounds():
    assert HoldingPowerModel(2000.0, 2.5, learnt_ua_w_per_k=3.1).ua_w_per_k == 3.1
    assert HoldingPowerModel(2000.0, 2.5, learnt_ua_w_per_k=50.0).ua_w_per_k == 10.0


def test_ramp_term_adds_heat_capacity_times_rate():
    model = HoldingPowerModel(2000.0, 2.5, heat_capacity_j_per_k=4900.0)
    assert model.duty(150.0, rate_c_per_s=0.1) == pytest.approx(model.duty(150.0) + 490.0 / 2000)


def test_duty_is_clipped_to_the_output_range():
    model = HoldingPowerModel(2000.0, 2.5, heat_capacity_j_per_k=4900.0)
    assert (model.duty(20.0), model.duty(150.0, rate_c_per_s=1.0)) == (0.0, 1.0)


def test_calibrate_from_a_measured_holding_duty():
    model = HoldingPowerModel(2000.0, 2.5)
    model.calibrate(150.0, hold_duty=0.2655)
    assert model.ua_w_per_k == pytest.approx(3.0, rel=1e-3)


def test_invalid_reading_resets_settling():
    model = HoldingPowerModel(2000.0, 2.5)
    model.observe(150.0, 150.0, 0.3, DT_S)
    assert model.observe(150.0, 150.0, 0.3, 200.0) and model.settled
    assert not model.observe(math.nan, 150.0, 0.3, DT_S) and not model.settled
