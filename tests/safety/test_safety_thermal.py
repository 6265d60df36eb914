"""Thermal checks: each trips on its condition within its bound, and not on its look-alike."""

from __future__ import annotations

import pytest
from safety_support import Platen, Rig, ctx, drive, press

from firmware.safety import FaultCode, derive_safety_config

OVER = FaultCode.OVER_TEMP
STALL = FaultCode.HEATING_STALL
RUNAWAY = FaultCode.RUNAWAY
DISAGREE = FaultCode.PLATEN_DISAGREE
ZONE = derive_safety_config(press()).zones[0]  # reference: 2 kW on 4.6 kJ/K steel


@pytest.mark.parametrize(("temp_c", "material_c", "tripped"), [
    (300.5, None, True),    # above the zone max (300) and the press max (300)
    (299.5, None, False),   # below both
    (182.5, 180.0, True),   # above the running recipe's material limit + its 2 C trip margin
    (181.5, 180.0, False),  # a hold at the material limit (a setpoint limit) may sit above it
])
def test_over_temp_trips_above_the_lowest_limit(temp_c, material_c, tripped) -> None:
    rig = Rig()
    verdict = rig.run(1.0, temps=temp_c, c=ctx(material_limit_c=material_c, run_in_progress=True))
    assert (OVER in verdict.codes()) is tripped
    assert rig.warned(OVER)  # within 5 C of the limit is always a warning


def test_one_over_limit_read_is_confirmed_before_tripping() -> None:
    rig = Rig()
    assert OVER not in rig.tick(temps=305.0).codes()
    assert OVER in rig.tick(temps=305.0).codes()  # the second fresh read confirms it


def test_over_temp_reset_waits_for_the_hysteresis() -> None:
    rig = Rig()
    rig.run(1.0, temps=305.0)
    assert rig.run(1.0, temps=295.0).outputs_safe_required  # latched: still safe
    assert rig.reset() == (False, "reset refused: over_temp top: 295.0 C, must be at or below "
                                  "290 C; over_temp bottom: 295.0 C, must be at or below 290 C")
    rig.run(1.0, temps=289.0)
    assert rig.reset()[0] and not rig.tick(temps=289.0).latched


def test_dead_heater_trips_a_stall_within_its_window() -> None:
    rig = Rig()
    cold = {"top": Platen(), "bottom": Platen()}
    drive(rig, ZONE.stall_window_s + 1.0, cold, duty={"top": 1.0, "bottom": 1.0},
          power={"top": 0.0, "bottom": 1.0})
    assert ZONE.stall_window_s <= rig.first(STALL) <= ZONE.stall_window_s + 1.0
    assert [f.subject for f in rig.verdicts[-1].latched] == ["top"]


@pytest.mark.parametrize("heater_w", [1000.0, 2000.0, 4000.0])
def test_full_power_heat_up_is_not_a_stall(heater_w) -> None:
    cfg = press(heater_w)
    rig = Rig(cfg)
    platens = {name: Platen(heater_w) for name in ("top", "bottom")}
    verdict = drive(rig, 3 * derive_safety_config(cfg).zones[0].stall_window_s, platens,
                    duty={"top": 1.0, "bottom": 1.0})
    assert verdict.ok, verdict.latched


def test_welded_ssr_trips_runaway_once_the_lag_has_passed() -> None:
    rig = Rig()
    platens = {"top": Platen(start_c=150.0), "bottom": Platen(start_c=150.0)}
    drive(rig, 120.0, platens, duty={"top": 0.0, "bottom": 0.0}, power={"top": 1.0, "bottom": 0.0})
    bound_s = ZONE.runaway_settle_s + ZONE.runaway_window_s + 1.0
    assert rig.first(RUNAWAY) <= bound_s
    assert [f.subject for f in rig.verdicts[-1].latched] == ["top"]


@pytest.mark.parametrize(("heater_w", "lag_s", "c_platen", "start_c", "heat_first_s"), [
    (2000.0, 12.0, 4600.0, 25.0, 300.0),   # heat soak: the probe rises ~8 C after power stops
    (4000.0, 20.0, 4600.0, 25.0, 40.0),    # 4 kW, long lag: ~22 C of soak after a short burst
    (2000.0, 3.0, 2900.0, 100.0, 120.0),   # a light, fast aluminium platen
    (1000.0, 12.0, 9200.0, 250.0, 0.0),    # a heavy platen cooling with its SSR off
])
def test_heat_soak_and_cooling_are_not_runaway(heater_w, lag_s, c_platen, start_c,
                                               heat_first_s) -> None:
    rig = Rig(press(heater_w, conduction_lag_s=lag_s, platen_heat_capacity_j_per_k=c_platen))
    platens = {n: Platen(heater_w, c_platen, lag_s=lag_s, start_c=start_c)
               for n in ("top", "bottom")}
    if heat_first_s:
        drive(rig, heat_first_s, platens, duty={"top": 1.0, "bottom": 1.0})
    verdict = drive(rig, 400.0, platens, duty={"top": 0.0, "bottom": 0.0})
    assert verdict.ok, verdict.latched


@pytest.mark.parametrize(("top_duty", "tripped"), [(1.0, False), (0.0, True)])
def test_a_heating_neighbour_excuses_a_rise_through_the_die(top_duty, tripped) -> None:
    rig = Rig()
    for i in range(1500):  # bottom rises 0.2 C/s with its SSR off, top 2 C above it
        bottom_c = 150.0 + 0.02 * i
        rig.tick({"top": bottom_c + 2.0, "bottom": bottom_c},
                 c=ctx({"top": top_duty, "bottom": 0.0}))
    assert (RUNAWAY in rig.verdicts[-1].codes()) is tripped


def test_runaway_reset_refused_while_rising_accepted_once_stopped() -> None:
    rig = Rig()
    platens = {"top": Platen(start_c=150.0), "bottom": Platen(start_c=150.0)}
    drive(rig, 90.0, platens, duty={"top": 0.0, "bottom": 0.0}, power={"top": 1.0, "bottom": 0.0})
    ok, why = rig.reset()
    assert not ok and "runaway top: still rising" in why
    drive(rig, 120.0, platens, duty={"top": 0.0, "bottom": 0.0})  # SSR replaced: power gone
    assert rig.reset()[0]


@pytest.mark.parametrize(("top_c", "setpoints", "tripped", "warned"), [
    (212.0, (200.0, 200.0), True, False),   # 12 C apart, same setpoint, both steady
    (207.0, (200.0, 200.0), False, True),   # 7 C: a warning
    (212.0, (210.0, 200.0), False, False),  # different setpoints: they need not agree
])
def test_platen_disagreement(top_c, setpoints, tripped, warned) -> None:
    rig = Rig()
    sp = {"top": setpoints[0], "bottom": setpoints[1]}
    verdict = rig.run(60.0, temps={"top": top_c, "bottom": 200.0}, c=ctx(0.3, zone_setpoints_c=sp))
    assert (DISAGREE in verdict.codes(), rig.warned(DISAGREE)) == (tripped, warned)


def test_platens_apart_while_still_ramping_do_not_disagree() -> None:
    rig = Rig()
    c = ctx(1.0, zone_setpoints_c={"top": 200.0, "bottom": 200.0})
    for i in range(600):
        rig.tick({"top": 100.0 + 0.2 * i, "bottom": 80.0 + 0.2 * i}, c=c)
    assert DISAGREE not in rig.verdicts[-1].codes()
