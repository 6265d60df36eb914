"""ThermalPlant against reference/plant.md: holding duties, ramp rates, probe lag, die, faults."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from firmware.config.model import SimConfig
from firmware.sim.thermal import ThermalPlant

STEEL = SimConfig()
ALUMINIUM = replace(STEEL, platen_material="aluminium", platen_heat_capacity_j_per_k=2900.0,
                    conduction_lag_s=3.0)
ZONES = (("top", 2000.0), ("bottom", 2000.0))
BOTH_ON = {"top": 1.0, "bottom": 1.0}
STEADY_RUN_S = 15000.0  # ~14 time constants of the loaded platen near 150-200 C


def _plant(cfg: SimConfig = STEEL, **kwargs: float) -> ThermalPlant:
    return ThermalPlant(cfg, ZONES, **kwargs)


def _steady_top_c(duty: float, max_substep_s: float = 50.0) -> float:
    """Steady platen temperature at constant duty. The scheme's fixed point is the exact energy
    balance whatever the substep, so coarse substeps find it fast."""
    plant = _plant(max_substep_s=max_substep_s)
    plant.step(STEADY_RUN_S, {"top": duty, "bottom": duty})
    return plant.platen_temp_c("top")


def _holding_duty(target_c: float) -> float:
    low, high = 0.0, 1.0
    for _ in range(20):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if _steady_top_c(mid) < target_c else (low, mid)
    return 0.5 * (low + high)


def _full_power_run(cfg: SimConfig, duration_s: float, dt_s: float = 0.1):
    """(max platen ramp K/s, time the probe first reads 150 C) from 25 C at full power."""
    plant, t_s, max_rate, reached_s = _plant(cfg), 0.0, 0.0, None
    while t_s < duration_s:
        before_c = plant.platen_temp_c("top")
        plant.step(dt_s, BOTH_ON)
        t_s += dt_s
        max_rate = max(max_rate, (plant.platen_temp_c("top") - before_c) / dt_s)
        if reached_s is None and plant.probe_temp_c("top") >= 150.0:
            reached_s = t_s
    return max_rate, reached_s


def test_starts_at_ambient():
    plant = _plant()
    assert plant.platen_temp_c("top") == plant.probe_temp_c("bottom") == 25.0
    assert plant.sample_temp_c() == plant.heater_temp_c("top") == 25.0


@pytest.mark.parametrize(("target_c", "low", "high"), [(150.0, 0.18, 0.27), (200.0, 0.28, 0.42)])
def test_holding_duty_in_plant_md_range(target_c, low, high):
    duty = _holding_duty(target_c)
    print(f"holding duty at {target_c:.0f} C: {duty:.3f}")
    assert low <= duty <= high
    assert _steady_top_c(duty, max_substep_s=0.5) == pytest.approx(target_c, abs=0.05)


def test_full_power_ramp_rate_steel():
    max_rate, _ = _full_power_run(STEEL, 200.0)
    print(f"steel max ramp {max_rate:.3f} K/s")
    assert 0.35 <= max_rate <= 0.47


def test_full_power_ramp_rate_aluminium():
    max_rate, _ = _full_power_run(ALUMINIUM, 200.0)
    print(f"aluminium max ramp {max_rate:.3f} K/s")
    assert 0.55 <= max_rate <= 0.70


def test_probe_reads_150_after_about_370_s():
    _, reached_s = _full_power_run(STEEL, 450.0)
    print(f"probe reads 150 C after {reached_s:.1f} s")
    assert reached_s is not None and 330.0 <= reached_s <= 420.0


def test_probe_lags_the_platen_while_ramping_and_settles_on_it():
    plant = _plant()
    plant.step(200.0, BOTH_ON)
    lag_k = plant.platen_temp_c("top") - plant.probe_temp_c("top")
    assert 4.0 < lag_k < 8.0  # ~0.4 K/s x (d_lag 12 s + tau_tc 3 s)
    plant.step(STEADY_RUN_S, {"top": 0.2})
    assert plant.probe_temp_c("top") == pytest.approx(plant.platen_temp_c("top"), abs=0.01)


@pytest.mark.parametrize("closed", [False, True])
def test_large_steps_match_fine_steps(closed):
    coarse, fine = _plant(), _plant(max_substep_s=0.005)
    coarse.set_closed(closed)
    fine.set_closed(closed)
    for duty in (1.0, 0.0, 0.3, 1.0, 0.0) * 20:
        coarse.step(1.0, {"top": duty})
        for _ in range(20):
            fine.step(0.05, {"top": duty})
    for read in (ThermalPlant.platen_temp_c, ThermalPlant.probe_temp_c,
                 ThermalPlant.heater_temp_c):
        assert read(coarse, "top") == pytest.approx(read(fine, "top"), abs=0.01)


def test_heater_open_fault_gives_no_heat():
    plant = _plant()
    plant.set_heater_open("top", True)
    plant.step(600.0, BOTH_ON)
    assert plant.platen_temp_c("top") == pytest.approx(25.0, abs=0.01)
    assert plant.platen_temp_c("bottom") > 200.0


def test_closed_press_couples_the_platens_through_the_die():
    plant = _plant()
    plant.set_closed(True)
    plant.step(3600.0, {"top": 0.3})
    top_c, bottom_c = plant.platen_temp_c("top"), plant.platen_temp_c("bottom")
    assert bottom_c > 100.0 and top_c - bottom_c < 10.0
    assert bottom_c < plant.sample_temp_c() < top_c


def test_open_press_keeps_the_top_platen_apart():
    plant = _plant()
    plant.step(3600.0, {"top": 0.3})
    assert plant.platen_temp_c("bottom") < 30.0


def test_cold_die_placed_on_hot_platen_mixes_then_warms():
    plant = _plant()
    plant.step(1200.0, BOTH_ON)
    hot_c = plant.sample_temp_c()
    plant.place_mass(0.6, 25.0)
    assert plant.sample_temp_c() == pytest.approx((150 * hot_c + 294 * 25.0) / 444, rel=1e-9)
    bottom_before_c, top_before_c = plant.platen_temp_c("bottom"), plant.platen_temp_c("top")
    plant.step(60.0, {})
    bottom_drop_k = bottom_before_c - plant.platen_temp_c("bottom")
    top_drop_k = top_before_c - plant.platen_temp_c("top")
    assert bottom_drop_k > top_drop_k + 2.0  # the die draws its heat from the bottom platen
    plant.step(600.0, {"bottom": 0.5})
    assert plant.platen_temp_c("bottom") - plant.sample_temp_c() < 3.0


def test_speed_printed():
    plant, steps = _plant(), 20000
    start = time.perf_counter()
    for i in range(steps):
        plant.step(0.1, {"top": float(i % 10 < 3), "bottom": 1.0})
    wall_s = time.perf_counter() - start
    print(f"thermal: {steps * 0.1 / wall_s:.0f} simulated s per wall s (2 zones, dt 0.1 s)")
