"""Built-in material limits for solid-state battery hot pressing, and user-defined additions.

Each material carries `max_temp_c`: the highest temperature *setpoint* a recipe may use while the
material is in the die. It is a process limit, not the damage point: where a damage temperature is
known (melting, a phase change) the limit sits at least `MATERIAL_MARGIN_C` below it, and that gap
is the overshoot margin. So the validator compares a setpoint directly with `max_temp_c` (Li: 170 C
accepted, 171 C rejected) and does not subtract a second margin.

Sources: /work/shared/reference/materials.md (quoted in `source`). Where it gives no limit the entry
says so and uses `UNRATED_MAX_TEMP_C`, with the reason.

A recipe may add materials of its own (`[[custom_materials]]`) or re-state a built-in one with a
lower limit (a lab's stricter practice); it may never raise a built-in limit: see
`custom_material_problems`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Gap between a known damage temperature and the highest setpoint. materials.md keeps Li (melts
# 180.5 C) "at or below ~170 C with overshoot margin": 10.5 C. That gap has to hold MAX31855/K-type
# accuracy (+-2 C), platen non-uniformity ("up to several C", plant.md) and controller overshoot
# (0.4-1.8 C on the simulated steel platen, control.md): about 9 C, so 10 C is the floor.
MATERIAL_MARGIN_C = 10.0

# Ceiling for a material with no press limit in materials.md: the reference press's maximum platen
# temperature (300 C). Every such material here (oxides, argyrodite, carbon) is made at 550 C or
# more, so heat alone does not bound it in a press; what does bound the stack is the lowest limit of
# anything else in the die, which the validator enforces separately.
UNRATED_MAX_TEMP_C = 300.0

MATERIALS_MD = "reference/materials.md"


@dataclass(frozen=True)
class Material:
    """A material in the die and the hottest setpoint it tolerates, with the reason."""

    key: str  # canonical name used in recipes and messages, e.g. "Li"
    name: str  # human name, e.g. "Li metal"
    max_temp_c: float  # highest allowed setpoint with this material in the die
    reason: str  # why: shown in every error that cites this limit
    damage_temp_c: float | None = None  # melting / phase change, when known
    source: str = MATERIALS_MD
    aliases: tuple[str, ...] = ()
    builtin: bool = True

    def names(self) -> tuple[str, ...]:
        """Every spelling a recipe may use for this material."""
        return (self.key, self.name, *self.aliases)


def _unrated(key: str, name: str, why: str, aliases: tuple[str, ...]) -> Material:
    """A material that materials.md gives no press temperature limit for."""
    reason = (f"materials.md gives no temperature limit; {why}; capped at the "
              f"{UNRATED_MAX_TEMP_C:g} C press maximum")
    return Material(key, name, UNRATED_MAX_TEMP_C, reason, aliases=aliases)


BUILTIN_MATERIALS: tuple[Material, ...] = (
    Material("Li", "Li metal", 170.0,
             "melts at 180.5 C and a molten anode shorts the cell; 170 C keeps 10.5 C for "
             "overshoot, sensor error and platen non-uniformity (materials.md)",
             damage_temp_c=180.5, aliases=("lithium", "Li foil", "Li metal")),
    Material("In", "indium foil", 146.0,
             "melts at 156.6 C (handbook value; materials.md does not list indium, a common "
             "counter electrode); 10 C margin as for Li",
             damage_temp_c=156.6, source="handbook melting point (not in materials.md)",
             aliases=("indium", "In foil")),
    Material("PEO", "PEO polymer electrolyte", 110.0,
             "melts at ~65 C; made into films at 100-110 C as a melt (materials.md, secondary), "
             "nothing hotter is documented; in a stack where flow is unwanted, add a custom PEO "
             "entry below 65 C",
             aliases=("PEO-LiTFSI", "polyethylene oxide")),
    Material("PVDF", "PVDF / PVDF-HFP binder or separator", 150.0,
             "melts at ~160-177 C (materials.md); 10 C below the lowest melting point",
             damage_temp_c=160.0, aliases=("PVDF-HFP", "PVdF", "PVdF-HFP")),
    Material("PVdF-CTFE", "PVdF-CTFE separator", 120.0,
             "processed at 20-120 C, 0-400 MPa (Trequattrini et al. 2018 in materials.md); "
             "no data above 120 C",
             aliases=("PVDF-CTFE",)),
    Material("Li3InCl6", "Li3InCl6 halide electrolyte", 60.0,
             "phase change at ~70 C (materials.md); 10 C below it",
             damage_temp_c=70.0, aliases=("LIC",)),
    Material("LPS-glass", "70Li2S-30P2S5 glass (kept glassy)", 270.0,
             "crystallises to Li7P3S11 from 280 C (materials.md); 10 C below, to keep it a glass; "
             "to make the glass-ceramic on purpose name Li7P3S11 instead",
             damage_temp_c=280.0, aliases=("70Li2S-30P2S5", "Li2S-P2S5 glass", "LPS glass")),
    Material("Li7P3S11", "Li7P3S11 glass-ceramic", 350.0,
             "above ~360 C low-conductivity phases form (materials.md); 10 C below",
             damage_temp_c=360.0, aliases=("LPS glass-ceramic",)),
    _unrated("Li6PS5Cl", "Li6PS5Cl argyrodite",
             "it is synthesised at 550 C; in a press its limits are moisture/H2S and reaction "
             "with Li or the cathode (materials.md), which their own entries bound",
             ("LPSCl", "argyrodite", "LPSC")),
    Material("LGPS", "Li10GeP2S12 (LGPS)", 200.0,
             "materials.md gives the best hot-press temperature (150 C, Wang et al. 2021), not a "
             "limit; no data above it there, so 50 C above the documented optimum",
             aliases=("Li10GeP2S12",)),
    _unrated("LLZO", "LLZO / LLZTO garnet",
             "a sintered oxide (made far above 1000 C) compacted at 50-600 MPa (Zhu et al. 2025)",
             ("LLZTO", "Li7La3Zr2O12", "garnet")),
    _unrated("NMC", "NMC cathode active material",
             "an oxide calcined far above press temperatures; in a composite the electrolyte and "
             "binder entries bound the stack", ("NCM", "NMC811", "NMC622", "NMC532", "NMC111")),
    _unrated("LCO", "LiCoO2 cathode active material",
             "an oxide calcined far above press temperatures; in a composite the electrolyte and "
             "binder entries bound the stack", ("LiCoO2",)),
    _unrated("C", "carbon additive",
             "carbon black / fibres are inert at press temperatures in a dry, closed die",
             ("carbon", "carbon black", "Super P", "C65", "VGCF", "CNT")),
)


def _norm(name: str) -> str:
    """Spelling-insensitive form: case, spaces, hyphens and underscores do not matter."""
    return re.sub(r"[\s\-_]+", "", name).casefold()


_BY_NAME: dict[str, Material] = {_norm(n): m for m in BUILTIN_MATERIALS for n in m.names()}


def builtin_material(name: str) -> Material | None:
    """The built-in material called `name` (any listed spelling), or None."""
    return _BY_NAME.get(_norm(name))


def suggest_material(name: str) -> str | None:
    """The closest built-in name, for a did-you-mean hint."""
    spellings = {_norm(n): n for m in BUILTIN_MATERIALS for n in m.names()}
    close = difflib.get_close_matches(_norm(name), spellings, n=1, cutoff=0.6)
    return spellings[close[0]] if close else None


def same_material(a: str, b: str) -> bool:
    """True if two spellings name the same material."""
    return _norm(a) == _norm(b)


def custom_material_problems(
    name: str, max_temp_c: float, damage_temp_c: float | None
) -> list[str]:
    """What is wrong with a user-defined material (empty if fine).

    A custom entry may lower a built-in limit but never raise it: the built-in limits come from
    the literature and protect the cell and the operator; a recipe is one user's file.
    """
    problems = []
    builtin = builtin_material(name)
    if builtin is not None and max_temp_c > builtin.max_temp_c:
        problems.append(
            f"max_temp_c {max_temp_c:g} C would raise the built-in limit of {builtin.name} "
            f"({builtin.max_temp_c:g} C: {builtin.reason}); a recipe may only lower it"
        )
    if damage_temp_c is not None and max_temp_c > damage_temp_c - MATERIAL_MARGIN_C:
        problems.append(
            f"max_temp_c {max_temp_c:g} C must sit at least {MATERIAL_MARGIN_C:g} C below "
            f"damage_temp_c {damage_temp_c:g} C (overshoot, sensor error, platen non-uniformity)"
        )
    return problems


def custom_material(
    name: str, max_temp_c: float, reason: str, damage_temp_c: float | None = None,
    source: str = "recipe",
) -> Material:
    """A user-defined material; check it with `custom_material_problems` first."""
    builtin = builtin_material(name)
    key = builtin.key if builtin else name
    return Material(key, name, max_temp_c, reason, damage_temp_c, source, builtin=False)


def limiting_material(materials: Iterable[Material]) -> Material | None:
    """The material with the lowest limit: the one that bounds every setpoint of the recipe."""
    return min(materials, key=lambda m: m.max_temp_c, default=None)
