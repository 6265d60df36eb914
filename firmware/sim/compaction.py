"""Powder in the simulated die: how far it compacts under the punch (the Heckel equation).

A loose powder fills the die at its fill (tap) density; pressing packs it plastically, and it stays
packed when the load comes off. Heckel's law, the standard fit for ceramic and sulfide powders,
relates relative density D to the pressure on the powder P:

    ln(1 / (1 - D)) = K P + A,   A = ln(1 / (1 - D_fill))

so the pellet's thickness is h(P) = m / (rho A_die D(P)), and pressing past the highest pressure
seen so far shortens it by -dh/dP per pascal. Below that pressure the compact is already as dense as
the load can make it: unloading and reloading are elastic (the die's stiffness, not the powder's).
Creep at temperature (hydraulic_parts.Creep) densifies it further at constant load.

K of 0.003 /MPa (an estimate: soft sulfides reach ~80-85 % at 375 MPa cold; oxides are stiffer,
~0.001 /MPa) and a fill density of 50 % are the defaults; config can change both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware.config.model import SimSampleConfig

MAX_RELATIVE_DENSITY = 0.995  # a compact never quite closes its last pores


@dataclass(frozen=True)
class Powder:
    """A charge of powder in a cylindrical die."""

    mass_g: float
    theoretical_density_g_cm3: float
    die_diameter_mm: float
    fill_density_frac: float = 0.5
    heckel_k_per_mpa: float = 0.003

    @property
    def die_area_m2(self) -> float:
        return math.pi / 4.0 * (self.die_diameter_mm * 1e-3) ** 2

    @property
    def full_density_thickness_m(self) -> float:
        """The pellet's thickness with no pores left (m)."""
        volume_m3 = self.mass_g * 1e-3 / (self.theoretical_density_g_cm3 * 1e3)
        return volume_m3 / self.die_area_m2

    def density_at(self, powder_pa: float) -> float:
        """Relative density (0..1) the powder packs to under `powder_pa` of pressure."""
        a = -math.log(1.0 - self.fill_density_frac)
        density = 1.0 - math.exp(-(self.heckel_k_per_mpa * max(0.0, powder_pa) * 1e-6 + a))
        return min(MAX_RELATIVE_DENSITY, density)

    def thickness_m(self, powder_pa: float) -> float:
        """Pellet thickness once pressed to `powder_pa` (m)."""
        return self.full_density_thickness_m / self.density_at(powder_pa)

    def compliance_m_per_pa(self, powder_pa: float) -> float:
        """-dh/dP: how much more the pellet shortens per pascal pressed past `powder_pa` (m/Pa).

        From h = h_full / D and dD/dP = K (1 - D): -dh/dP = h K (1 - D) / D.
        """
        density = self.density_at(powder_pa)
        if density >= MAX_RELATIVE_DENSITY:
            return 0.0
        k_per_pa = self.heckel_k_per_mpa * 1e-6
        return self.thickness_m(powder_pa) * k_per_pa * (1.0 - density) / density


class PowderCharge:
    """The powder as the hydraulic plant sees it: packed by the highest load so far, so only
    pressing past that load adds compliance to the line (and shortens the stack for good)."""

    def __init__(self, powder: Powder, ram_area_m2: float, p_drag_pa: float) -> None:
        self.powder = powder
        self.fill_m = powder.thickness_m(0.0)  # loose powder meets the punch this much early
        self.compact_m = 0.0  # plastic shortening so far
        self.p_max_pa = p_drag_pa  # highest line pressure it was pressed at
        self._ram_area_m2 = ram_area_m2
        self._p_drag_pa = p_drag_pa

    @classmethod
    def from_config(cls, cfg: SimSampleConfig | None, ram_area_m2: float,
                    p_drag_pa: float) -> PowderCharge | None:
        """The charge `cfg` describes; None for no sample table (plant.md's generic pellet) or
        an empty die (no powder)."""
        if cfg is None or cfg.powder_mass_g <= 0.0:
            return None
        powder = Powder(cfg.powder_mass_g, cfg.theoretical_density_g_cm3, cfg.die_diameter_mm,
                        cfg.fill_density_frac, cfg.heckel_k_per_mpa)
        return cls(powder, ram_area_m2, p_drag_pa)

    def powder_pa(self, line_pa: float) -> float:
        """Pressure on the powder for a line pressure: the ram's net force over the die area."""
        return max(0.0, line_pa - self._p_drag_pa) * self._ram_area_m2 / self.powder.die_area_m2

    def line_compliance_m3_per_pa(self, line_pa: float, rising: bool) -> float:
        """Oil volume the compaction takes per pascal of line pressure (0 unless pressing on
        past the highest load: unloading and reloading below it are elastic)."""
        if not rising or line_pa < self.p_max_pa:
            return 0.0
        per_powder_pa = self.powder.compliance_m_per_pa(self.powder_pa(line_pa))
        return self._ram_area_m2 * per_powder_pa * self._ram_area_m2 / self.powder.die_area_m2

    def pressed_to(self, line_pa: float) -> None:
        """The line reached `line_pa` in contact: a new highest load packs the powder further."""
        if line_pa > self.p_max_pa:
            self.p_max_pa = line_pa
            self.compact_m = self.fill_m - self.powder.thickness_m(self.powder_pa(line_pa))

    def truth(self, creep_m: float) -> dict[str, float]:
        """The pellet as it is (plastic thickness after compaction and creep), for benchmarks."""
        thickness_m = self.fill_m - self.compact_m - creep_m
        return {"sample_thickness_mm": thickness_m * 1e3,
                "relative_density": self.powder.full_density_thickness_m / thickness_m}
