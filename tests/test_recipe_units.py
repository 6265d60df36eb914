"""Unit conversions: the DESIGN.md and materials.md check values."""

import pytest

from firmware.recipe import units


def test_10mm_die_at_375mpa_needs_29_5_kn():
    force_kn = units.force_from_pressure_kn(375, units.die_area_m2(10))
    assert force_kn == pytest.approx(29.5, abs=0.05)


def test_10mm_die_at_375mpa_is_3_0_tonnes_force():
    force_kn = units.force_from_pressure_kn(375, units.die_area_m2(10))
    assert units.tf_from_kn(force_kn) == pytest.approx(3.0, abs=0.05)


def test_one_tonne_force_on_13mm_die_is_73_9_mpa():
    pressure = units.pressure_from_force_mpa(units.kn_from_tf(1), units.die_area_m2(13))
    assert pressure == pytest.approx(73.9, abs=0.05)


@pytest.mark.parametrize(("die_mm", "mpa_per_tf"), [(5, 499), (10, 125), (13, 73.9), (16, 48.8)])
def test_mpa_per_tonne_force_table(die_mm, mpa_per_tf):
    pressure = units.pressure_from_force_mpa(units.kn_from_tf(1), units.die_area_m2(die_mm))
    assert pressure == pytest.approx(mpa_per_tf, rel=0.002)


def test_375mpa_on_13mm_die_needs_5_1_tonnes():
    force_kn = units.force_from_pressure_kn(375, units.die_area_m2(13))
    assert units.tf_from_kn(force_kn) == pytest.approx(5.1, abs=0.05)


def test_line_pressure_for_375mpa_on_10mm_die_and_63_5mm_ram_is_9_3mpa():
    force_kn = units.force_from_pressure_kn(375, units.die_area_m2(10))
    assert units.line_pressure_mpa(force_kn, units.die_area_m2(63.5)) == pytest.approx(
        9.3, abs=0.05
    )


def test_gauge_rule_p_sample_is_p_line_times_bore_ratio_squared():
    force_kn = units.force_from_line_kn(10.0, units.die_area_m2(63.5))
    sample = units.pressure_from_force_mpa(force_kn, units.die_area_m2(10))
    assert sample == pytest.approx(10.0 * (63.5 / 10) ** 2)


def test_70mpa_line_on_63_5mm_ram_is_222_kn():
    assert units.force_from_line_kn(70, units.die_area_m2(63.5)) == pytest.approx(222, abs=0.5)


@pytest.mark.parametrize(
    ("to_edge", "back", "value"),
    [
        (units.bar_from_mpa, units.mpa_from_bar, 9.3),
        (units.psi_from_mpa, units.mpa_from_psi, 9.3),
        (units.tf_from_kn, units.kn_from_tf, 29.5),
    ],
)
def test_edge_units_round_trip(to_edge, back, value):
    assert back(to_edge(value)) == pytest.approx(value)


def test_one_mpa_is_ten_bar_and_145_psi():
    assert (units.bar_from_mpa(1), round(units.psi_from_mpa(1), 1)) == (10, 145.0)


def test_sample_area_from_mm2():
    assert units.area_m2_from_mm2(1600) == pytest.approx(1.6e-3)
