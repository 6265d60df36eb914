"""Supervisor thresholds: derived from the press's capability, tunable only within bounds."""

from __future__ import annotations

import pytest
from safety_support import press

from firmware.errors import ConfigError
from firmware.safety import GuardPolicy, derive_safety_config, parse_safety_config


def zone0(**kw: float):
    """The first zone's derived thresholds for the reference press with `kw` changed."""
    heater_w = kw.pop("heater_w", None)
    return derive_safety_config(press(heater_w, **kw)).zones[0]


def parse(table: dict, cfg=None):
    """Parse a document holding only `[safety]` = `table`."""
    return parse_safety_config({"safety": table}, "press.toml", cfg or press())


def error(table: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse(table)
    return str(info.value)


@pytest.mark.parametrize(("weak", "strong"), [(1000.0, 2000.0), (2000.0, 4000.0),
                                              (1000.0, 4000.0)])
def test_a_weaker_heater_gets_longer_windows(weak, strong) -> None:
    low, high = zone0(heater_w=weak), zone0(heater_w=strong)
    assert low.stall_window_s > high.stall_window_s
    assert low.runaway_window_s > high.runaway_window_s


@pytest.mark.parametrize(("kw", "longer"), [
    ({"platen_heat_capacity_j_per_k": 9200.0}, True),  # a heavier platen heats slower
    ({"conduction_lag_s": 24.0}, True),                 # a longer lag shows the rise later
    ({"platen_heat_capacity_j_per_k": 2900.0}, False),  # aluminium: lighter, faster
])
def test_windows_follow_heat_capacity_and_lag(kw, longer) -> None:
    assert (zone0(**kw).stall_window_s > zone0().stall_window_s) is longer


def test_reference_press_defaults() -> None:
    safety, zone = derive_safety_config(press()), zone0()
    assert zone.full_power_rate_c_per_s == pytest.approx(0.408, abs=1e-3)  # plant.md: ~0.41 K/s
    assert (zone.sensor_lag_s, zone.stall_window_s) == (22.5, pytest.approx(66.6))
    assert (safety.tc_bad_consecutive_reads, safety.loop_overrun_streak) == (4, 5)
    assert safety.pump_no_rise_slow_window_s == pytest.approx(3.62, abs=0.01)


def test_no_safety_table_means_the_derived_defaults() -> None:
    assert parse_safety_config({"id": "x"}, "press.toml", press()) == derive_safety_config(press())


@pytest.mark.parametrize(("table", "field", "value"), [
    ({"over_temp_warn_margin_c": 8}, "over_temp_warn_margin_c", 8.0),
    ({"tc_bad_consecutive_reads": 6}, "tc_bad_consecutive_reads", 6),
    ({"guard_open_when_idle": "trip"}, "guard_open_when_idle", GuardPolicy.TRIP),
    ({"over_pressure_margin_fraction": 0.02}, "over_pressure_margin_fraction", 0.02),
    ({"release_stuck_window_s": 20}, "release_stuck_window_s", 20.0),
])
def test_overrides_within_bounds_are_taken(table, field, value) -> None:
    assert getattr(parse(table), field) == value


def test_zone_windows_global_then_per_zone() -> None:
    safety = parse({"stall_window_s": 90.0, "zones": {"top": {"stall_window_s": 120.0}}})
    assert [z.stall_window_s for z in safety.zones] == [120.0, 90.0]


@pytest.mark.parametrize(("table", "message"), [
    ({"stall_window_s": 1e6}, "safety.stall_window_s: 1e+06 is out of range 10..266.4 s"),
    ({"bad_read_window_fraction": 1.0},
     "safety.bad_read_window_fraction: 1 is out of range 0.05..0.5"),
    ({"over_pressure_margin_fraction": 0.5},
     "safety.over_pressure_margin_fraction: 0.5 is out of range 0..0.1"),
    ({"tc_bad_consecutive_reads": 1000},
     "safety.tc_bad_consecutive_reads: 1000 is out of range 2..15 reads"),
    ({"zones": {"top": {"runaway_settle_s": 1.0}}},
     "safety.zones.top.runaway_settle_s: 1 is out of range 22.5..180 s"),
    # the lower end is the configured needle's own time: below it a healthy release trips
    ({"release_stuck_window_s": 0.5},
     "safety.release_stuck_window_s: 0.5 is out of range 0.625311..42.4248 s"),
    ({"release_stuck_min_pressure_mpa": 1.0},
     "safety.release_stuck_min_pressure_mpa: 1 is out of range 2..17.5 MPa"),
])
def test_out_of_bounds_overrides_are_rejected_by_key(table, message) -> None:
    assert error(table) == f"press.toml: {message}"


@pytest.mark.parametrize("table", [{"enabled": False}, {"disable_runaway": True},
                                   {"ignore_over_temp": True}, {"bypass": True}])
def test_nothing_can_switch_a_check_off(table) -> None:
    key = next(iter(table))
    assert error(table) == (f"press.toml: safety.{key}: the safety supervisor and its checks "
                            "cannot be switched off; tune a threshold within its bounds instead")


@pytest.mark.parametrize(("table", "message"), [
    ({"guard_open_when_idle": "ignore"},
     'safety.guard_open_when_idle: "ignore" is not one of "warn", "trip" (an open guard is '
     "never ignored)"),
    ({"tc_bad_consecutive_reads": True}, "safety.tc_bad_consecutive_reads: expected a whole "
                                         "number, got boolean true"),
    ({"stall_window_s": "90"}, 'safety.stall_window_s: expected a finite number, got string "90"'),
    ({"stal_window_s": 90.0}, "safety.stal_window_s: unknown key (did you mean stall_window_s?)"),
    ({"zones": {"middle": {}}}, "safety.zones.middle: no zone 'middle'; zones are top, bottom"),
    ({"platen_disagree_warn_c": 12.0}, "safety.platen_disagree_warn_c: 12 C must be below "
                                       "platen_disagree_band_c 10 C"),
])
def test_wrong_values_are_named(table, message) -> None:
    assert error(table) == f"press.toml: {message}"


def test_every_problem_is_reported_at_once() -> None:
    lines = error({"stall_window_s": 1.0, "enabled": False, "guard_open_when_idle": 3}).split("\n")
    assert lines[0] == "press.toml: 3 problems" and len(lines) == 4
