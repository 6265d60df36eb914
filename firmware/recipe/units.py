"""Unit conversions for recipes: SI inside, tons-force, bar and psi only at the edges.

A recipe states pressure on the *sample* (force / die area) because that is what the literature
reports and what decides whether a pellet densifies or cracks. The press only knows its line
pressure (force / ram area). Everything between the two goes through force in kN:

    force_kn = pressure_mpa * die_area_m2 * 1e3
    line_pressure_mpa = force_kn / ram_area_m2 / 1e3

Checks (DESIGN.md, materials.md): a 10 mm die at 375 MPa needs 29.5 kN (3.0 t-force) and 9.3 MPa
of line pressure on a 63.5 mm ram; 1 t-force on a 13 mm die is 73.9 MPa.
"""

from __future__ import annotations

import math

KN_PER_TONNE_FORCE = 9.80665  # metric tonne-force: 1000 kg under standard gravity (exact)
BAR_PER_MPA = 10.0  # 1 bar = 0.1 MPa (exact)
PSI_PER_MPA = 145.037737730  # 1 psi = 6894.757 Pa
N_PER_LBF = 4.4482216152605  # pound-force, exact by definition


def die_area_m2(diameter_mm: float) -> float:
    """Face area of a round die (m^2) from its bore diameter in mm: what the force spreads over."""
    return math.pi * (diameter_mm / 1000.0) ** 2 / 4.0


def area_m2_from_mm2(area_mm2: float) -> float:
    """Area in m^2 from mm^2 (a non-round sample, a film between sheets)."""
    return area_mm2 * 1e-6


def force_from_pressure_kn(pressure_mpa: float, area_m2: float) -> float:
    """Force (kN) that puts `pressure_mpa` (MPa) on a sample of `area_m2` (m^2)."""
    return pressure_mpa * 1e6 * area_m2 / 1e3


def pressure_from_force_mpa(force_kn: float, area_m2: float) -> float:
    """Pressure (MPa) on a sample of `area_m2` (m^2) under `force_kn` (kN)."""
    return force_kn * 1e3 / area_m2 / 1e6


def line_pressure_mpa(force_kn: float, ram_area_m2: float) -> float:
    """Hydraulic line pressure (MPa) that makes `force_kn` (kN) on a ram of `ram_area_m2` (m^2)."""
    return pressure_from_force_mpa(force_kn, ram_area_m2)


def force_from_line_kn(line_mpa: float, ram_area_m2: float) -> float:
    """Ram force (kN) from line pressure `line_mpa` (MPa) on a ram of `ram_area_m2` (m^2)."""
    return force_from_pressure_kn(line_mpa, ram_area_m2)


def kn_from_tf(force_tf: float) -> float:
    """kN from metric tonnes-force: the unit most press gauges and papers quote loads in."""
    return force_tf * KN_PER_TONNE_FORCE


def tf_from_kn(force_kn: float) -> float:
    """Metric tonnes-force from kN, for display."""
    return force_kn / KN_PER_TONNE_FORCE


def kn_from_lbf(force_lbf: float) -> float:
    """kN from pound-force (only to tell a user what their imperial value would be)."""
    return force_lbf * N_PER_LBF / 1e3


def bar_from_mpa(pressure_mpa: float) -> float:
    """bar from MPa, for gauge-style display of line pressure."""
    return pressure_mpa * BAR_PER_MPA


def mpa_from_bar(pressure_bar: float) -> float:
    """MPa from bar."""
    return pressure_bar / BAR_PER_MPA


def psi_from_mpa(pressure_mpa: float) -> float:
    """psi from MPa, for US gauges."""
    return pressure_mpa * PSI_PER_MPA


def mpa_from_psi(pressure_psi: float) -> float:
    """MPa from psi."""
    return pressure_psi / PSI_PER_MPA


def c_from_f(temp_f: float) -> float:
    """Celsius from Fahrenheit (only to tell a user what their value would be)."""
    return (temp_f - 32.0) * 5.0 / 9.0


def c_from_k(temp_k: float) -> float:
    """Celsius from kelvin."""
    return temp_k - 273.15
