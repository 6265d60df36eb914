"""PID law on a small simulated platen: anti-windup, bumpless start, no D kick, b-weighting."""

from __future__ import annotations

import math

import pytest

from firmware.control.pid import PID, PidGains

DT_S = 0.25  # the loop's thermocouple period
SIMC = PidGains.from_standard(kc=0.06, ti_s=160.0)  # SIMC tight for k' 0.41 C/s, theta ~20 s


class Platen:
    """Test plant: 4.9 kJ/K heated by 2 kW, losing UA (T - 25), read through four 5 s lags in
    0.25 C steps (MAX31855). Integrating plus lag, like reference/plant.md's steel platen."""

    def __init__(self, temp_c: float = 25.0, ua_w_per_k: float = 2.5) -> None:
        self.temp_c, self.ua_w_per_k = temp_c, ua_w_per_k
        self.lags_c = [temp_c] * 4

    def step(self, duty: float, dt_s: float = DT_S) -> float:
        self.temp_c += (2000.0 * duty - self.ua_w_per_k * (self.temp_c - 25.0)) / 4900.0 * dt_s
        upstream_c = self.temp_c
        for i, lag_c in enumerate(self.lags_c):
            self.lags_c[i] = upstream_c = lag_c + (upstream_c - lag_c) * (1 - math.exp(-dt_s / 5))
        return round(upstream_c * 4) / 4

    def hold_duty(self) -> float:
        return self.ua_w_per_k * (self.temp_c - 25.0) / 2000.0


def run(law, plant: Platen, setpoint_c: float, duration_s: float) -> list[tuple[float, float]]:
    """Close the loop; return (reading, duty) per tick."""
    reading_c, trace = plant.step(0.0, 1e-9), []
    for _ in range(int(duration_s / DT_S)):
        duty = law(reading_c, setpoint_c)
        trace.append((reading_c, duty))
        reading_c = plant.step(duty)
    return trace


def naive_pi(gains: PidGains):
    """Textbook PI, integral unbounded, output clipped: what winds up."""
    state = {"i": 0.0}

    def law(measured_c: float, setpoint_c: float) -> float:
        state["i"] += gains.ki * (setpoint_c - measured_c) * DT_S
        return min(max(gains.kp * (setpoint_c - measured_c) + state["i"], 0.0), 1.0)

    return law


def hotpress_pid(**kwargs):
    pid = PID(SIMC, **kwargs)
    return lambda measured_c, setpoint_c: pid.update(measured_c, setpoint_c, DT_S)


def overshoot_c(trace: list[tuple[float, float]], setpoint_c: float) -> float:
    return max(reading for reading, _ in trace) - setpoint_c


def test_heat_up_overshoot_is_bounded_where_a_naive_integrator_winds_up():
    ours = overshoot_c(run(hotpress_pid(), Platen(), 150.0, 2400), 150.0)
    naive = overshoot_c(run(naive_pi(SIMC), Platen(), 150.0, 2400), 150.0)
    assert ours <= 1.0 and naive > 20.0


def test_output_leaves_saturation_before_the_setpoint_a_naive_one_after():
    ours = run(hotpress_pid(), Platen(), 150.0, 2400)
    naive = run(naive_pi(SIMC), Platen(), 150.0, 2400)
    first_at_setpoint = next(i for i, (reading, _) in enumerate(ours) if reading >= 150.0)
    assert ours[first_at_setpoint][1] < 0.5
    assert next(duty for reading, duty in naive if reading >= 150.0) == 1.0


def test_bumpless_start_first_output_equals_requested():
    pid = PID(SIMC, feedforward=lambda sp: 0.2)
    pid.reset(measured=148.0, output=0.37)
    assert pid.update(148.5, 160.0, DT_S) == pytest.approx(0.37)


def test_bumpless_start_then_holds_without_a_jump():
    plant = Platen(150.0)
    pid = PID(SIMC)
    pid.reset(measured=150.0, output=plant.hold_duty())
    trace = run(lambda m, s: pid.update(m, s, DT_S), plant, 150.0, 600)
    assert max(abs(reading - 150.0) for reading, _ in trace) <= 0.25


def test_setpoint_step_gives_no_derivative_kick():
    pid = PID(PidGains(kp=0.0, ki=0.0, kd=10.0), feedforward=lambda sp: 0.5)
    pid.update(100.0, 100.0, DT_S)
    assert pid.update(100.0, 150.0, DT_S) == 0.5
    assert pid.update(100.25, 150.0, DT_S) < 0.5  # a rising reading does act on D


def test_derivative_is_filtered_against_a_quantisation_step():
    pid = PID(PidGains(kp=0.0, kd=1.0), derivative_tau_s=5.0)
    pid.update(100.0, 100.0, DT_S)
    pid.update(100.25, 100.0, DT_S)
    assert pid.slope_c_per_s == pytest.approx(0.25 / (5.0 + DT_S))


def test_setpoint_weighting_reduces_overshoot_on_a_small_step():
    def step_overshoot(b: float) -> float:
        plant = Platen(150.0)
        pid = PID(SIMC, setpoint_weight=b)
        pid.reset(150.0, plant.hold_duty())
        pid.update(150.0, 150.0, DT_S)  # holding; then the step
        return overshoot_c(run(lambda m, s: pid.update(m, s, DT_S), plant, 155.0, 1500), 155.0)

    assert step_overshoot(1.0) >= 1.0 and step_overshoot(0.5) <= 0.25


def test_setpoint_weighting_still_reaches_the_setpoint():
    plant = Platen(150.0)
    pid = PID(SIMC, setpoint_weight=0.5)
    pid.reset(150.0, plant.hold_duty())
    pid.update(150.0, 150.0, DT_S)
    trace = run(lambda m, s: pid.update(m, s, DT_S), plant, 155.0, 3000)
    assert trace[-1][0] == pytest.approx(155.0, abs=0.25)


def test_integral_never_holds_more_than_the_output_range():
    pid = PID(PidGains(kp=0.0, ki=1.0), feedforward=lambda sp: 0.3)
    for _ in range(1000):
        pid.update(20.0, 150.0, DT_S)
    assert pid.terms.i == pytest.approx(0.7) and pid.terms.output == 1.0


def test_integrates_out_of_saturation_at_once():
    pid = PID(PidGains(kp=0.0, ki=0.01))
    for _ in range(1000):
        pid.update(20.0, 150.0, DT_S)
    assert pid.update(151.0, 150.0, DT_S) < 1.0


def test_output_limits_are_configurable():
    pid = PID(PidGains(kp=1.0), out_min=-0.5, out_max=0.5)
    assert (pid.update(0.0, 100.0, DT_S), pid.update(100.0, 0.0, DT_S)) == (0.5, -0.5)


def test_feedforward_argument_overrides_the_model():
    pid = PID(PidGains(kp=0.0), feedforward=lambda sp: sp / 1000.0)
    assert pid.update(150.0, 150.0, DT_S) == 0.15
    assert pid.update(150.0, 150.0, DT_S, feedforward=0.4) == 0.4


def test_gain_change_is_bumpless():
    pid = PID(SIMC)
    pid.reset(140.0, 0.3)
    before = pid.update(140.0, 150.0, DT_S)
    pid.gains = PidGains(kp=0.2, ki=0.001, kd=2.0)
    assert pid.update(140.0, 150.0, DT_S) == pytest.approx(before + 0.001 * 10.0 * DT_S)


def test_standard_form_converts_to_parallel_gains():
    gains = PidGains.from_standard(kc=0.06, ti_s=160.0, td_s=10.0)
    assert (gains.ki, gains.kd, gains.ti_s, gains.td_s) == pytest.approx((0.06 / 160, 0.6, 160, 10))


def test_gains_round_trip_through_a_dict():
    assert PidGains.from_dict(SIMC.to_dict()) == SIMC


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_reading_is_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        PID(SIMC).update(bad, 150.0, DT_S)


def test_time_must_advance():
    with pytest.raises(ValueError, match="dt_s"):
        PID(SIMC).update(150.0, 150.0, 0.0)


def test_negative_gain_is_refused():
    with pytest.raises(ValueError, match="kp"):
        PidGains(kp=-0.1)
