"""Relay autotune on a known simulated platen: Ku/Tu, the process model, gains, and its bounds."""

from __future__ import annotations

import cmath
import functools
import json
import math

import pytest

from firmware.control.autotune import (
    AutotuneResult,
    AutotuneState,
    RelayAutotune,
    effective_hysteresis_c,
    simc_integrating,
)
from firmware.control.pid import PID

DT_S = 0.25
LAGS_S = (5.0, 5.0, 5.0, 5.0)  # heater-to-probe conduction and probe, as four lags


class Platen:
    """Test plant: 4.9 kJ/K heated by 2 kW with plant.md's loss law, read through four 5 s lags
    in 0.25 C steps (MAX31855). Integrating plus lag, with a known frequency response."""

    def __init__(self, temp_c: float, ua_w_per_k: float = 2.5) -> None:
        self.temp_c, self.ua_w_per_k = temp_c, ua_w_per_k
        self.lags_c = [temp_c] * len(LAGS_S)

    def step(self, duty: float) -> float:
        rise_k = self.temp_c - 25.0
        loss_w = self.ua_w_per_k * rise_k * (1.0 + rise_k / 300.0)
        self.temp_c += (2000.0 * duty - loss_w) / 4900.0 * DT_S
        upstream_c = self.temp_c
        for i, (lag_c, tau_s) in enumerate(zip(self.lags_c, LAGS_S, strict=True)):
            upstream_c = lag_c + (upstream_c - lag_c) * (1.0 - math.exp(-DT_S / tau_s))
            self.lags_c[i] = upstream_c
        return round(upstream_c * 4) / 4

    def hold_duty(self, temp_c: float) -> float:
        rise_k = temp_c - 25.0
        return self.ua_w_per_k * rise_k * (1.0 + rise_k / 300.0) / 2000.0

    def ultimate(self, temp_c: float) -> tuple[float, float]:
        """(Ku, Tu) of the plant linearised at temp_c: where its phase reaches -180 degrees."""
        ua_eff = self.ua_w_per_k * (1.0 + 2.0 * (temp_c - 25.0) / 300.0)

        def response(w: float) -> complex:
            g = (2000.0 / 4900.0) / (1j * w + ua_eff / 4900.0)
            return g / math.prod(1j * w * tau + 1 for tau in LAGS_S)

        lo, hi = 1e-4, 0.3  # phase -90.x degrees at lo, -315 at hi: one crossing of -180 between
        for _ in range(60):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if cmath.phase(response(mid)) < 0 else (lo, mid)
        return 1.0 / abs(response(lo)), 2.0 * math.pi / lo


def tune(plant: Platen, target_c: float, **kwargs) -> RelayAutotune:
    tuner = RelayAutotune(target_c, plant.hold_duty(target_c) * 1.1, **kwargs)
    reading_c = plant.step(0.0)
    while tuner.state is AutotuneState.RUNNING:
        reading_c = plant.step(tuner.update(reading_c, DT_S))
    return tuner


@functools.cache
def tuned() -> AutotuneResult:
    return tune(Platen(150.0), 150.0, ambient_c=25.0).result


def heat_up_overshoot_c(pid: PID, target_c: float = 150.0, duration_s: float = 2400.0) -> float:
    plant, peak_c = Platen(25.0), -math.inf
    reading_c = plant.step(0.0)
    for _ in range(int(duration_s / DT_S)):
        reading_c = plant.step(pid.update(reading_c, target_c, DT_S))
        peak_c = max(peak_c, reading_c)
    return peak_c - target_c


def test_identifies_ku_and_tu_of_a_known_plant_within_15_percent():
    # A small hysteresis against a large swing (UA 6 W/K: holding duty 0.53, so d = 0.35) keeps
    # the relay near the ultimate frequency; hysteresis moves it off by about e/a.
    plant = Platen(150.0, ua_w_per_k=6.0)
    ku, tu_s = plant.ultimate(150.0)
    result = tune(plant, 150.0, hysteresis_c=0.25).result
    assert (result.ku, result.tu_s) == (pytest.approx(ku, rel=0.15), pytest.approx(tu_s, rel=0.15))


def test_dead_time_is_close_to_the_sum_of_the_lags():
    assert tuned().dead_time_s == pytest.approx(sum(LAGS_S), rel=0.10)


def test_slope_is_at_most_the_full_power_heat_up_slope():
    assert 0.7 * 2000.0 / 4900.0 < tuned().slope_c_per_s_per_duty <= 2000.0 / 4900.0


def test_hold_duty_is_the_plants_holding_duty():
    assert tuned().hold_duty == pytest.approx(Platen(150.0).hold_duty(150.0), rel=0.02)


def test_fopdt_static_gain_and_time_constant():
    ua_eff = 2.5 * (1.0 + 2.0 * 125.0 / 300.0)
    result = tuned()
    assert result.fopdt_gain_c_per_duty == pytest.approx(2000.0 / ua_eff, rel=0.05)
    assert result.fopdt_tau_s == pytest.approx(4900.0 / ua_eff, rel=0.25)


def test_simc_gains_heat_the_plant_up_with_small_overshoot():
    assert heat_up_overshoot_c(PID(tuned().simc)) <= 0.5


def test_simc_overshoots_less_than_ziegler_nichols():
    simc = heat_up_overshoot_c(PID(tuned().simc))
    assert simc < heat_up_overshoot_c(PID(tuned().ziegler_nichols))


def test_ziegler_nichols_uses_klippers_factors():
    result = tuned()
    zn = result.ziegler_nichols
    assert (zn.kp, zn.ti_s, zn.td_s) == pytest.approx(
        (0.6 * result.ku, 0.5 * result.tu_s, 0.125 * result.tu_s)
    )


def test_simc_integrating_rule():
    gains = simc_integrating(slope_c_per_s=0.4, dead_time_s=20.0, tauc_s=20.0)
    assert (gains.kp, gains.ti_s, gains.kd) == pytest.approx((1 / (0.4 * 40), 160.0, 0.0))


def test_smooth_simc_is_gentler_than_tight():
    result = tuned()
    assert result.simc_smooth.kp < result.simc.kp and result.simc_smooth.ti_s > result.simc.ti_s


def test_result_round_trips_through_json():
    result = tuned()
    assert AutotuneResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_from_dict_names_an_unknown_key():
    with pytest.raises(ValueError, match="colour"):
        AutotuneResult.from_dict({**tuned().to_dict(), "colour": "red"})


def test_relay_switches_at_target_plus_and_minus_hysteresis():
    tuner = RelayAutotune(150.0, 0.3, relay_amplitude=0.2, hysteresis_c=0.5)
    duties = [tuner.update(t, DT_S) for t in (149.0, 150.25, 150.5, 150.0, 149.75, 149.5)]
    assert duties == pytest.approx([0.5, 0.5, 0.1, 0.1, 0.1, 0.5])


def test_amplitude_cap_fails_the_tune_and_turns_the_heater_off():
    plant = Platen(150.0)
    tuner = tune(plant, 150.0, max_rise_c=0.75)
    assert tuner.state is AutotuneState.FAILED and "over target" in tuner.failure_reason
    assert plant.temp_c < 152.0 and tuner.update(150.0, DT_S) == 0.0


def test_timeout_fails_the_tune():
    tuner = tune(Platen(25.0), 150.0, max_duration_s=600.0)
    assert tuner.state is AutotuneState.FAILED and "600 s" in tuner.failure_reason
    assert tuner.elapsed_s == pytest.approx(600.0, abs=DT_S)


def test_invalid_reading_fails_the_tune():
    tuner = RelayAutotune(150.0, 0.3)
    assert tuner.update(math.nan, DT_S) == 0.0 and tuner.state is AutotuneState.FAILED


def test_abort_gives_the_reason_and_heater_off():
    tuner = RelayAutotune(150.0, 0.3)
    tuner.abort("operator abort")
    assert (tuner.failure_reason, tuner.update(140.0, DT_S)) == ("operator abort", 0.0)


def test_effective_hysteresis_accounts_for_quantisation():
    assert effective_hysteresis_c(150.0, 0.5, 0.25) == 0.375
    assert effective_hysteresis_c(150.0, 0.5, 0.0) == 0.5


def test_hysteresis_that_quantisation_cancels_is_refused():
    with pytest.raises(ValueError, match="hysteresis"):
        RelayAutotune(150.0, 0.3, hysteresis_c=0.0)
