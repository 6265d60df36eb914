"""HydraulicPlant against reference/plant.md: travel, rise rate, pulses, leak, relief, delays."""

from __future__ import annotations

import math
import time

import pytest

from firmware.config.model import SimConfig
from firmware.sim.hydraulic_parts import Creep
from firmware.sim.hydraulics import HydraulicPlant

CFG = SimConfig()
AREA_M2 = math.pi * 0.0635**2 / 4.0  # plant.md's 63.5 mm bore
NO_CREEP = Creep(rate_mm_per_min=0.0)
SAMPLE_S = 0.001  # observation step; the plant picks its own substeps


def _plant(**kwargs) -> HydraulicPlant:
    return HydraulicPlant(CFG, AREA_M2, **kwargs)


def _set(plant: HydraulicPlant, t_s: float, pump=True, advance=False, press=False,
         release_energised=True, prop_duty=None) -> None:
    plant.command(t_s, pump=pump, advance=advance, press=press,
                  release_energised=release_energised, prop_duty=prop_duty)


def _time_to(plant: HydraulicPlant, start_s: float, done, limit_s: float = 30.0,
             stack_c: float = 25.0) -> float:
    """Advance in SAMPLE_S steps until `done(plant)`; return that time."""
    t_s = start_s
    while not done(plant):
        t_s += SAMPLE_S
        assert t_s < start_s + limit_s, "condition never met"
        plant.advance_to(t_s, stack_c)
    return t_s


def _pressed(target_mpa: float, pump_after: bool = True, **kwargs) -> tuple[HydraulicPlant, float]:
    """A plant pressed to `target_mpa` on the fast valve, valves closed and settled."""
    plant = _plant(**kwargs)
    _set(plant, 0.0, advance=True)
    t_s = _time_to(plant, 0.0, lambda p: p.line_pressure_mpa >= target_mpa)
    _set(plant, t_s, pump=pump_after)
    plant.advance_to(t_s + 0.5, 25.0)
    return plant, t_s + 0.5


def test_ram_travels_before_contact_at_near_zero_pressure():
    plant = _plant()
    _set(plant, 0.0, advance=True)
    plant.advance_to(0.5, 25.0)
    x1_mm = plant.ram_position_mm
    plant.advance_to(1.0, 25.0)
    speed_mm_per_s = (plant.ram_position_mm - x1_mm) / 0.5
    assert not plant.in_contact and plant.line_pressure_mpa < 0.2 and plant.force_kn == 0.0
    assert speed_mm_per_s == pytest.approx(CFG.pump_flow_m3_per_s / AREA_M2 * 1e3, rel=1e-6)
    t_s = _time_to(plant, 1.0, lambda p: p.in_contact)
    assert plant.ram_position_mm == pytest.approx(CFG.ram_gap_mm, abs=0.01)
    print(f"ram closes the {CFG.ram_gap_mm} mm gap in {t_s:.3f} s")


def test_pressure_rise_after_contact_about_32_mpa_per_s():
    plant = _plant()
    _set(plant, 0.0, advance=True)
    t5_s = _time_to(plant, 0.0, lambda p: p.line_pressure_mpa >= 5.0)
    t25_s = _time_to(plant, t5_s, lambda p: p.line_pressure_mpa >= 25.0)
    rate = 20.0 / (t25_s - t5_s)
    print(f"fast-valve rise {rate:.1f} MPa/s")
    assert 25.0 <= rate <= 40.0


def test_slow_press_valve_meters_its_fraction():
    plant, t_s = _pressed(10.0)
    _set(plant, t_s, press=True)
    plant.advance_to(t_s + 2.0, 25.0)
    p0 = plant.line_pressure_mpa
    plant.advance_to(t_s + 4.0, 25.0)
    rate = (plant.line_pressure_mpa - p0) / 2.0
    assert rate == pytest.approx(32.0 * CFG.press_valve_flow_fraction, rel=0.1)


def _pulse_gain_mpa(commanded_s: float) -> float:
    plant, t_s = _pressed(20.0)
    p0 = plant.line_pressure_mpa
    _set(plant, t_s, advance=True)
    _set(plant, t_s + commanded_s)
    plant.advance_to(t_s + 0.3, 25.0)
    return plant.line_pressure_mpa - p0


def test_30_ms_of_full_flow_adds_about_1_mpa():
    open_s = 0.030 + CFG.valve_on_delay_s - CFG.valve_off_delay_s  # valve open for 30 ms
    gain_mpa = _pulse_gain_mpa(open_s)
    print(f"30 ms open at full flow: +{gain_mpa:.2f} MPa")
    assert 0.6 <= gain_mpa <= 1.5


def test_commanded_30_ms_pulse_is_shortened_by_the_valve_delays():
    gain_mpa = _pulse_gain_mpa(0.030)  # open 30 - 30 + 20 = 20 ms
    print(f"30 ms commanded pulse: +{gain_mpa:.2f} MPa")
    assert gain_mpa == pytest.approx(_pulse_gain_mpa(0.040) * 2.0 / 3.0, rel=0.02)


def test_pulse_shorter_than_the_delay_difference_never_opens():
    assert _pulse_gain_mpa(0.005) == pytest.approx(0.0, abs=0.01)


def test_valve_on_and_off_delays_honoured():
    plant, t_s = _pressed(20.0)
    p0 = plant.line_pressure_mpa
    _set(plant, t_s, advance=True)
    plant.advance_to(t_s + CFG.valve_on_delay_s - 0.001, 25.0)
    assert plant.line_pressure_mpa == pytest.approx(p0, abs=0.01)
    plant.advance_to(t_s + 0.5, 25.0)
    _set(plant, t_s + 0.5)
    plant.advance_to(t_s + 0.5 + CFG.valve_off_delay_s - 0.001, 25.0)
    p_closing = plant.line_pressure_mpa
    plant.advance_to(t_s + 0.6, 25.0)
    assert p_closing - p0 > 0.5 * 32.0 * 0.5
    assert plant.line_pressure_mpa - p_closing == pytest.approx(32.0 * 0.001, abs=0.02)


def test_check_valve_holds_with_pump_off_and_valve_open():
    plant, t_s = _pressed(30.0, pump_after=False)
    _set(plant, t_s, pump=False, advance=True)
    p0 = plant.line_pressure_mpa
    plant.advance_to(t_s + 10.0, 25.0)
    assert plant.line_pressure_mpa == pytest.approx(p0, abs=0.05)


def test_pump_run_down_keeps_delivering_after_switch_off():
    plant, t_s = _pressed(20.0)
    _set(plant, t_s, advance=True)
    plant.advance_to(t_s + 0.1, 25.0)
    p_off = plant.line_pressure_mpa
    _set(plant, t_s + 0.1, pump=False, advance=True)
    plant.advance_to(t_s + 1.0, 25.0)
    extra_mpa = plant.line_pressure_mpa - p_off
    assert extra_mpa == pytest.approx(32.0 * CFG.pump_rundown_s / 2.0, rel=0.05)


def test_leak_decay_about_0_2_mpa_per_min_at_50():
    plant, t_s = _pressed(50.0, pump_after=False)
    p0 = plant.line_pressure_mpa
    plant.advance_to(t_s + 60.0, 25.0)
    loss_per_min = (p0 - plant.line_pressure_mpa) * 50.0 / p0
    print(f"leak at 50 MPa: {loss_per_min:.3f} MPa/min")
    assert 0.15 <= loss_per_min <= 0.25


def test_leak_multiplier_fault_scales_the_leak():
    plant, t_s = _pressed(50.0, pump_after=False)
    plant.set_leak_multiplier(10.0)
    p0 = plant.line_pressure_mpa
    plant.advance_to(t_s + 60.0, 25.0)
    assert p0 - plant.line_pressure_mpa > 1.5


def test_locked_stack_heating_raises_pressure_about_1_mpa_per_0_1_mm():
    plant, t_s = _pressed(20.0, pump_after=False, creep=NO_CREEP)
    plant.set_leak_multiplier(0.0)
    p0 = plant.line_pressure_mpa
    heated_c = 25.0 + 0.1e-3 / (0.08 * 12e-6)  # 0.1 mm of growth of the 80 mm steel stack
    plant.advance_to(t_s + 600.0, heated_c)
    gain_mpa = plant.line_pressure_mpa - p0
    print(f"0.1 mm of stack growth: +{gain_mpa:.2f} MPa")
    assert plant.true_state()["thermal_growth_mm"] == pytest.approx(0.1)
    assert 0.6 <= gain_mpa <= 1.3


def test_creep_takes_pressure_away_faster_when_hot():
    cool, t_s = _pressed(10.0, pump_after=False)
    hot, _ = _pressed(10.0, pump_after=False, stack_length_m=0.0)  # creep without growth
    cool.advance_to(t_s + 300.0, 25.0)
    hot.advance_to(t_s + 0.001, 150.0)
    hot.advance_to(t_s + 300.0, 150.0)
    assert hot.line_pressure_mpa < cool.line_pressure_mpa - 0.3
    assert hot.true_state()["creep_mm"] > 10 * cool.true_state()["creep_mm"]


def test_relief_valve_caps_the_line():
    plant = _plant()
    _set(plant, 0.0, advance=True)
    plant.advance_to(10.0, 25.0)
    assert CFG.relief_crack_mpa < plant.line_pressure_mpa <= CFG.relief_crack_mpa + 1.05


def test_proportional_relief_sets_the_line_pressure():
    plant = _plant()
    _set(plant, 0.0, advance=True, prop_duty=0.5)
    plant.advance_to(10.0, 25.0)
    assert 35.0 < plant.line_pressure_mpa <= 36.05


def test_release_valve_open_when_de_energised_drops_the_pressure():
    plant, t_s = _pressed(50.0, pump_after=False)
    p0 = plant.line_pressure_mpa
    _set(plant, t_s, pump=False, release_energised=False)
    plant.advance_to(t_s + CFG.valve_off_delay_s - 0.001, 25.0)
    assert plant.line_pressure_mpa == pytest.approx(p0, abs=0.01)
    done_s = _time_to(plant, t_s + 0.019, lambda p: p.line_pressure_mpa < 1.0)
    print(f"release from {p0:.1f} MPa to 1 MPa in {done_s - t_s:.2f} s")
    # The needle is set for controlled release (3e-10 m3/s/sqrt(Pa)): ~17 s from 50 MPa, the
    # 2.56 s of a 2e-9 needle scaled by the orifice ratio.
    assert 12.0 < done_s - t_s < 24.0
    plant.advance_to(done_s + 600.0, 25.0)
    assert plant.ram_position_mm == 0.0 and plant.line_pressure_mpa < 0.01


def test_pump_failed_builds_no_pressure():
    plant = _plant()
    plant.set_pump_failed(True)
    _set(plant, 0.0, advance=True)
    plant.advance_to(5.0, 25.0)
    assert plant.ram_position_mm == 0.0 and plant.line_pressure_mpa == 0.0


def test_release_stuck_open_bleeds_while_energised():
    plant, t_s = _pressed(30.0, pump_after=False)
    plant.set_valve_stuck("release", "open")
    plant.advance_to(t_s + 30.0, 25.0)  # the controlled-release needle: ~13 s from 30 MPa
    assert plant.line_pressure_mpa < 1.0


def test_advance_stuck_closed_stops_the_approach():
    plant = _plant()
    plant.set_valve_stuck("advance", "closed")
    _set(plant, 0.0, advance=True)
    plant.advance_to(5.0, 25.0)
    assert plant.ram_position_mm == 0.0


def test_one_big_advance_matches_many_small_ones():
    big, small = _plant(), _plant()
    for plant in (big, small):
        _set(plant, 0.0, advance=True)
        _set(plant, 2.5, press=True)
        _set(plant, 4.0, pump=False, release_energised=False)
    big.advance_to(5.0, 60.0)
    for i in range(1, 5001):
        small.advance_to(i * 0.001, 25.0 + 35.0 * i / 5000)
    assert big.line_pressure_mpa == pytest.approx(small.line_pressure_mpa, abs=0.01)
    assert big.ram_position_mm == pytest.approx(small.ram_position_mm, abs=0.001)


def test_speed_printed():
    plant, t_s = _pressed(20.0, pump_after=False)
    start, ticks = time.perf_counter(), 36000
    for i in range(ticks):
        plant.advance_to(t_s + 0.1 * (i + 1), 25.0 + i * 0.003)
    quiet_x = ticks * 0.1 / (time.perf_counter() - start)
    plant, t_s = _pressed(20.0)
    start, ticks = time.perf_counter(), 30000
    for _ in range(ticks):  # bang-bang on the slow valve at 100 Hz: a busy hold
        _set(plant, t_s, press=plant.line_pressure_mpa < 20.0)
        t_s += 0.01
        plant.advance_to(t_s, 25.0)
    active_x = ticks * 0.01 / (time.perf_counter() - start)
    print(f"hydraulics: quiet {quiet_x:.0f}x real time (0.1 s ticks), "
          f"active {active_x:.0f}x (100 Hz valve loop)")
