"""Ramp generator: exact rate in C/min, exact end, holdback, sensor-lag reference, ramp rate."""

from __future__ import annotations

import math

import pytest

from firmware.control.ramp import RampGenerator

DT_S = 0.1


def advance(ramp: RampGenerator, duration_s: float, measured_c: float | None = None) -> float:
    setpoint_c = ramp.setpoint_c
    for _ in range(round(duration_s / DT_S)):
        setpoint_c = ramp.update(DT_S, measured_c=measured_c)
    return setpoint_c


def test_rate_is_exact_over_five_minutes():
    ramp = RampGenerator(rate_c_per_min=6.0)
    ramp.start(25.0, 85.0)
    assert advance(ramp, 300.0) == pytest.approx(55.0, abs=1e-9)


def test_ends_exactly_on_the_target_and_stays():
    ramp = RampGenerator(rate_c_per_min=6.0)
    ramp.start(25.0, 85.0)
    assert (advance(ramp, 700.0), ramp.done, ramp.remaining_s) == (85.0, True, 0.0)


def test_ramps_down_as_well():
    ramp = RampGenerator(rate_c_per_min=3.0)
    ramp.start(150.0, 60.0)
    assert advance(ramp, 600.0) == pytest.approx(120.0)


def test_holdback_pauses_while_the_reading_lags_beyond_the_band():
    ramp = RampGenerator(rate_c_per_min=6.0, holdback_band_c=2.0)
    ramp.start(25.0, 85.0)
    advance(ramp, 100.0)  # setpoint 35 C
    assert (advance(ramp, 60.0, measured_c=32.5), ramp.held) == (pytest.approx(35.0), True)


def test_holdback_resumes_once_the_reading_is_within_the_band():
    ramp = RampGenerator(rate_c_per_min=6.0, holdback_band_c=2.0)
    ramp.start(25.0, 85.0)
    advance(ramp, 100.0, measured_c=20.0)  # held at 25 C the whole time
    assert advance(ramp, 10.0, measured_c=24.0) == pytest.approx(26.0)


def test_holdback_when_cooling_waits_for_a_reading_that_stays_high():
    ramp = RampGenerator(rate_c_per_min=6.0, holdback_band_c=2.0)
    ramp.start(150.0, 50.0)
    assert advance(ramp, 60.0, measured_c=153.0) == 150.0 and ramp.held


def test_rate_change_applies_from_now_on():
    ramp = RampGenerator(rate_c_per_min=6.0)
    ramp.start(25.0, 85.0)
    advance(ramp, 60.0)  # 31 C
    ramp.rate_c_per_min = 12.0
    assert advance(ramp, 60.0) == pytest.approx(43.0)


def test_rate_for_feedforward_is_signed_and_zero_when_done():
    ramp = RampGenerator(rate_c_per_min=6.0)
    ramp.start(85.0, 25.0)
    advance(ramp, 10.0)
    assert ramp.rate_c_per_s == -0.1
    advance(ramp, 700.0)
    assert ramp.rate_c_per_s == 0.0


def test_expected_reading_trails_by_rate_times_measurement_lag():
    ramp = RampGenerator(rate_c_per_min=6.0, measurement_lag_s=20.0)
    ramp.start(25.0, 150.0)
    advance(ramp, 300.0)
    assert ramp.setpoint_c - ramp.expected_c == pytest.approx(0.1 * 20.0, abs=0.01)


def test_expected_reading_settles_on_the_target():
    ramp = RampGenerator(rate_c_per_min=6.0, measurement_lag_s=20.0)
    ramp.start(25.0, 35.0)
    advance(ramp, 400.0)
    assert ramp.expected_c == pytest.approx(35.0, abs=1e-3)


def test_infinite_rate_is_a_step():
    ramp = RampGenerator(rate_c_per_min=math.inf)
    ramp.start(25.0, 150.0)
    assert (ramp.update(DT_S), ramp.done, ramp.rate_c_per_s) == (150.0, True, 0.0)


def test_equal_ends_are_done_at_once():
    ramp = RampGenerator(rate_c_per_min=5.0)
    ramp.start(150.0, 150.0)
    assert ramp.done and ramp.update(DT_S) == 150.0


def test_update_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="start"):
        RampGenerator(rate_c_per_min=5.0).update(DT_S)


@pytest.mark.parametrize("rate", [0.0, -5.0, math.nan])
def test_rate_must_be_positive(rate):
    with pytest.raises(ValueError, match="rate_c_per_min"):
        RampGenerator(rate_c_per_min=rate)
