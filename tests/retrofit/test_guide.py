"""The manual pressure guide, the gated engine clock and controller-zone setpoints: pure code,
ticked by hand."""

from __future__ import annotations

import pytest

from firmware.config.instruments import ManualConfig
from firmware.control.pressure_parts import Phase
from firmware.retrofit.external import ExternalZone
from firmware.retrofit.guide import Hint, ManualPressureGuide
from firmware.retrofit.session import ManualSession

AREA_M2 = 31.67e-4  # 63.5 mm ram
DT_S = 0.1


def line_mpa(force_kn: float) -> float:
    return force_kn / (AREA_M2 * 1e3)


def guide_at(force_kn: float, target_kn: float = 29.5, ticks: int = 30, rate: float | None = None,
             guide: ManualPressureGuide | None = None) -> ManualPressureGuide:
    """A guide that has seen `force_kn` steadily for `ticks` ticks against `target_kn`."""
    guide = guide or ManualPressureGuide(ManualConfig(), AREA_M2)
    for _ in range(ticks):
        guide.update(line_mpa(force_kn), target_kn, rate, False, DT_S)
    return guide


def test_the_band_is_the_fraction_or_the_floor() -> None:
    guide = ManualPressureGuide(ManualConfig(), AREA_M2)
    assert guide.band_for(29.5).low_kn == pytest.approx(29.5 - 0.59)
    assert guide.band_for(5.0).high_kn == pytest.approx(5.3)  # 2 % is below the 0.3 kN floor


def test_the_upper_edge_stays_under_half_the_trip_margin() -> None:
    guide = ManualPressureGuide(ManualConfig(band_fraction=0.05), AREA_M2, 0.05)
    band = guide.band_for(100.0)
    assert band.low_kn == pytest.approx(95.0) and band.high_kn == pytest.approx(102.5)


@pytest.mark.parametrize(("force_kn", "hint"), [
    (10.0, Hint.PUMP), (29.0, Hint.PUMP), (29.4, Hint.HOLD), (30.0, Hint.HOLD),
    (30.2, Hint.RELEASE_SLOWLY)])
def test_hints_around_the_band(force_kn: float, hint: Hint) -> None:
    assert guide_at(force_kn).hint is hint


def test_pumping_goes_on_to_the_target_then_holds() -> None:
    guide = guide_at(28.8)
    assert guide_at(29.3, guide=guide).hint is Hint.PUMP  # in band, but still below target
    assert guide_at(29.6, guide=guide).hint is Hint.HOLD


def test_too_fast_a_rise_asks_to_pump_slower() -> None:
    guide = ManualPressureGuide(ManualConfig(), AREA_M2)
    for k in range(40):
        guide.update(line_mpa(10.0 + 0.5 * k), 29.5, 0.39, False, DT_S)  # 5 kN/s vs 0.39
    assert guide.hint is Hint.PUMP_SLOWER


def test_a_release_step_says_release_until_unloaded() -> None:
    guide = ManualPressureGuide(ManualConfig(), AREA_M2)
    guide.update(line_mpa(20.0), 0.0, 0.39, True, DT_S)
    assert guide.hint is Hint.RELEASE_SLOWLY and guide.phase is Phase.RELEASE
    for _ in range(30):  # the hint follows the gauge smoothed over half a second
        guide.update(line_mpa(0.2), 0.0, 0.39, True, DT_S)
    assert guide.hint is Hint.NONE and guide.phase is Phase.IDLE


def test_no_reading_asks_for_nothing_and_drives_nothing() -> None:
    guide = ManualPressureGuide(ManualConfig(), AREA_M2)
    command = guide.update(None, 29.5, None, False, DT_S)
    assert guide.hint is Hint.NO_READING and not command.pump_on and guide.phase is Phase.RAMP


def session_with_band(target_kn: float = 29.5) -> ManualSession:
    guide = guide_at(target_kn, target_kn, ticks=1)
    return ManualSession(guide, ManualConfig())


def test_the_engine_clock_stops_while_out_of_band() -> None:
    session = session_with_band()
    assert session.engine_now(100.0, 29.5, running=True) == 100.0
    assert session.engine_now(101.0, 25.0, running=True) == 100.0  # out of band: stood still
    assert session.engine_now(102.0, 29.5, running=True) == 101.0
    assert session.timer_running


def test_the_clock_runs_when_no_pressure_is_wanted_or_gating_is_off() -> None:
    session = session_with_band()
    session.engine_now(0.0, 0.0, running=True)
    assert session.engine_now(1.0, 0.0, running=False) == 1.0
    free = ManualSession(session.guide, ManualConfig(timer_in_band_only=False))
    free.engine_now(0.0, 0.0, running=True)
    assert free.engine_now(5.0, 0.0, running=True) == 5.0


def test_in_band_the_engine_sees_the_target() -> None:
    session = session_with_band()
    assert session.engine_force(29.1) == 29.5
    assert session.engine_force(28.0) == 28.0


def test_the_view_shows_the_band_on_the_sample_the_line_and_in_kn() -> None:
    view = session_with_band().view(die_area_m2=7.854e-5, ram_area_m2=AREA_M2)
    assert view["hold_band_mpa"] == pytest.approx([368.1, 383.1], abs=0.1)
    assert view["hold_band_line_mpa"] == pytest.approx([9.129, 9.501], abs=1e-3)
    assert view["operator_hint"] == "hold"


def test_a_controller_zone_ramps_its_setpoint_from_the_platen() -> None:
    zone = ExternalZone("top")
    first = zone.update(25.0, 150.0, 10.0, 6.0)  # 10 C/min for 6 s: 1 C
    assert first == pytest.approx(26.0)
    assert zone.update(26.0, 150.0, 10.0, 6.0, hold=True) == first
    assert zone.update(26.0, 150.0, None, 0.1) == 150.0  # a step (no ramp) goes straight there


def test_a_controller_zone_goes_off() -> None:
    zone = ExternalZone("top")
    zone.update(25.0, 80.0, None, 0.1)
    zone.off()
    assert zone.setpoint_c is None
