"""The pellet's thickness and relative density from the ram position: the figure densification
papers report, live while the press works.

The ram position sensor reads where the ram is, not how thick the pellet is. With the empty die
calibrated (`hotpressd calibrate-die`), the pellet is the distance the ram stops short of where it
closes the empty die:

    thickness = (empty_die_closed - growth x (T - T_cal)) - position + compliance x force

The frame and punches stretch under load, so the ram travels further than the pellet shrinks
(compliance); hot platens and die grow towards each other, so the empty die would close earlier
(growth). Relative density is then the full-density thickness (powder mass / (theoretical density
x die area), from the recipe) over the thickness. A density above 1 is shown as computed: it says
the calibration or the recipe's mass is wrong, and hiding it would hide that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from firmware.config.model import RamPositionConfig

MIN_FORCE_KN = 1.0  # below this the ram may not bear on the pellet yet (or any more)


@dataclass(frozen=True)
class Densification:
    """Thickness (mm) and relative density (0..1, None without powder data) of one reading."""

    thickness_mm: float
    relative_density: float | None


def pellet_thickness_mm(cal: RamPositionConfig, position_mm: float, force_kn: float,
                        stack_temp_c: float) -> float | None:
    """The pellet's thickness under load (mm); None when the die is not calibrated, the ram
    does not bear on the pellet, or the numbers say the ram is past the empty die."""
    if cal.empty_die_closed_mm is None or force_kn < MIN_FORCE_KN:
        return None
    closed_mm = cal.empty_die_closed_mm - cal.growth_mm_per_c * (stack_temp_c - cal.calibrated_at_c)
    thickness_mm = closed_mm - position_mm + cal.compliance_mm_per_kn * force_kn
    return thickness_mm if thickness_mm > 0.0 else None


def densification(cal: RamPositionConfig | None, position_mm: float | None,
                  force_kn: float | None, temps_c: Iterable[float | None],
                  full_density_thickness_mm: float | None) -> Densification | None:
    """Thickness and relative density now, or None when any input is missing (a zone reading
    None is left out of the mean platen temperature)."""
    if cal is None or cal.empty_die_closed_mm is None or position_mm is None or force_kn is None:
        return None
    read = [t for t in temps_c if t is not None]
    if not read:
        return None
    thickness_mm = pellet_thickness_mm(cal, position_mm, force_kn, sum(read) / len(read))
    if thickness_mm is None:
        return None
    density = (full_density_thickness_mm / thickness_mm
               if full_density_thickness_mm is not None else None)
    return Densification(thickness_mm, density)
