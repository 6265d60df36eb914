"""Which keys a recipe may use where, and helpful messages for the ones it may not.

Kept apart from the parser so the allowed keys read as one table: the README's format section and
the error messages both come from here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from firmware.recipe.model import EndKind, StepKind
from firmware.recipe.units import c_from_f, c_from_k, kn_from_lbf, mpa_from_bar, mpa_from_psi

TOP_KEYS = frozenset({
    "name", "description", "author", "die_diameter_mm", "sample_area_mm2", "powder_mass_g",
    "theoretical_density_g_cm3", "materials", "custom_materials", "steps",
})
CUSTOM_MATERIAL_KEYS = frozenset({"name", "max_temp_c", "reason", "damage_temp_c", "source"})

_TEMP = {"temp_c", "ramp_c_per_min"}
_PRESSURE = {"pressure_mpa", "force_kn", "force_tf", "pressure_rate_mpa_per_s"}
END_KEYS = {
    EndKind.TIME: {"duration_min", "duration_s"},
    EndKind.TARGET: {"until", "band_c", "max_wait_min", "max_wait_s", "on_timeout"},
    EndKind.SOAK: {"soak_min", "soak_s", "band_c", "max_wait_min", "max_wait_s", "on_timeout"},
    EndKind.OPERATOR: {"until", "prompt"},
}

# How each kind may end; breathe and release end by themselves (after cycles / once released).
ENDS: dict[StepKind, tuple[EndKind, ...]] = {
    StepKind.HEAT: (EndKind.TARGET, EndKind.SOAK, EndKind.TIME, EndKind.OPERATOR),
    StepKind.PRESS: (EndKind.TARGET, EndKind.TIME, EndKind.OPERATOR),
    StepKind.HOLD: (EndKind.TIME, EndKind.SOAK, EndKind.OPERATOR),
    StepKind.COOL: (EndKind.TARGET, EndKind.TIME, EndKind.OPERATOR),
    StepKind.WAIT: (EndKind.OPERATOR, EndKind.TIME),
    StepKind.BREATHE: (),
    StepKind.RELEASE: (),
}

_OWN_KEYS: dict[StepKind, set[str]] = {
    StepKind.HEAT: _TEMP,
    StepKind.PRESS: _PRESSURE | {"require_temp_in_band", "band_c"},
    StepKind.HOLD: set(),
    StepKind.BREATHE: _PRESSURE | {"cycles", "release_to_mpa", "dwell_s"},
    StepKind.COOL: _TEMP | {"under_pressure"},
    StepKind.RELEASE: {"pressure_rate_mpa_per_s"},
    StepKind.WAIT: set(),
}


def step_keys(kind: StepKind) -> frozenset[str]:
    """Every key a step of `kind` may contain."""
    keys = {"kind", "label"} | _OWN_KEYS[kind]
    for end in ENDS[kind]:
        keys |= END_KEYS[end]
    return frozenset(keys)


# Keys in other units (or without one): which SI key to use, and how to convert the value.
_SAMPLE = "pressure on the sample in MPa: use pressure_mpa"
_FORCE = "force in kN: use force_kn (or force_tf for metric tonnes-force)"
_LINE = ("a recipe gives no line pressure: use pressure_mpa (on the sample), or force_kn / "
         "force_tf; the press converts to line pressure from its ram bore")
UNIT_HINTS: dict[str, tuple[str, object]] = {
    "temp_f": ("temperatures are in C: use temp_c", c_from_f),
    "temp_k": ("temperatures are in C: use temp_c", c_from_k),
    "temp": ("give the unit: use temp_c", None),
    "temperature_c": ("use temp_c", None),
    "temperature": ("give the unit: use temp_c", None),
    "ramp_f_per_min": ("ramps are in C/min: use ramp_c_per_min", None),
    "ramp_c_per_s": ("ramps are in C/min: use ramp_c_per_min (x60)", lambda v: v * 60.0),
    "ramp_c_per_h": ("ramps are in C/min: use ramp_c_per_min (/60)", lambda v: v / 60.0),
    "ramp": ("give the unit: use ramp_c_per_min", None),
    "pressure_bar": (_SAMPLE + " (1 MPa = 10 bar)", mpa_from_bar),
    "pressure_psi": (_SAMPLE + " (1 MPa = 145 psi)", mpa_from_psi),
    "pressure_kpa": (_SAMPLE, lambda v: v / 1e3),
    "pressure_pa": (_SAMPLE, lambda v: v / 1e6),
    "pressure_gpa": (_SAMPLE, lambda v: v * 1e3),
    "pressure": ("give the unit: use pressure_mpa (on the sample)", None),
    "force_lbf": (_FORCE, kn_from_lbf),
    "force_n": (_FORCE, lambda v: v / 1e3),
    "force_kgf": (_FORCE, lambda v: v * 9.80665e-3),
    "force_t": ("use force_tf (metric tonnes-force) or force_kn", None),
    "force_ton": ("use force_tf (metric tonnes-force) or force_kn; US short tons are not accepted",
                  None),
    "force_tons": ("use force_tf (metric tonnes-force) or force_kn", None),
    "force": ("give the unit: use force_kn or force_tf", None),
    "line_pressure_mpa": (_LINE, None),
    "line_pressure_bar": (_LINE, None),
    "gauge_bar": (_LINE, None),
    "gauge_mpa": (_LINE, None),
    "gauge_psi": (_LINE, None),
    "pressure_rate_bar_per_s": ("use pressure_rate_mpa_per_s (on the sample)", None),
    "pressure_rate_mpa_per_min": ("use pressure_rate_mpa_per_s (/60)", lambda v: v / 60.0),
    "duration_h": ("use duration_min (x60)", lambda v: v * 60.0),
    "duration_hr": ("use duration_min (x60)", lambda v: v * 60.0),
    "duration_ms": ("use duration_s", lambda v: v / 1e3),
    "duration": ("give the unit: use duration_min or duration_s", None),
    "soak_h": ("use soak_min (x60)", lambda v: v * 60.0),
    "soak": ("give the unit: use soak_min or soak_s", None),
    "max_wait_h": ("use max_wait_min (x60)", lambda v: v * 60.0),
    "max_wait": ("give the unit: use max_wait_min or max_wait_s", None),
    "band_f": ("use band_c", lambda v: v * 5.0 / 9.0),
    "band": ("give the unit: use band_c", None),
    "dwell_min": ("use dwell_s (x60)", lambda v: v * 60.0),
    "dwell": ("give the unit: use dwell_s", None),
    "release_to_bar": ("use release_to_mpa (on the sample)", None),
    "release_to": ("give the unit: use release_to_mpa (on the sample)", None),
    "die_diameter_in": ("use die_diameter_mm (x25.4)", lambda v: v * 25.4),
    "die_diameter_cm": ("use die_diameter_mm (x10)", lambda v: v * 10.0),
    "die_diameter": ("give the unit: use die_diameter_mm", None),
    "die_radius_mm": ("use die_diameter_mm (x2)", lambda v: v * 2.0),
    "sample_area_cm2": ("use sample_area_mm2 (x100)", lambda v: v * 100.0),
    "sample_area_m2": ("use sample_area_mm2 (x1e6)", lambda v: v * 1e6),
    "sample_area": ("give the unit: use sample_area_mm2", None),
    "powder_mass_mg": ("use powder_mass_g (/1000)", lambda v: v / 1e3),
    "max_temp_f": ("use max_temp_c", c_from_f),
}


def stands_in_for(data: dict[str, object], si_keys: Iterable[str]) -> bool:
    """True if `data` holds a wrong-unit key that replaces one of `si_keys` (temp_f for temp_c).

    Then "temp_c: required" would only repeat the unit message, so the parser stays quiet.
    """
    wanted = set(si_keys)
    for key in data:
        hint = UNIT_HINTS.get(key.lower())
        match = re.search(r"use (\w+)", hint[0]) if hint else None
        if match and match.group(1) in wanted:
            return True
    return False


def unit_hint(key: str, value: object) -> str | None:
    """Message for a key in the wrong unit (or none), with the converted value where possible."""
    hint = UNIT_HINTS.get(key.lower())
    if hint is None:
        return None
    text, convert = hint
    if callable(convert) and isinstance(value, int | float) and not isinstance(value, bool):
        text += f" ({value:g} here would be {convert(value):.4g})"
    return text


def did_you_mean(key: str, allowed: Iterable[str]) -> str:
    """' (did you mean X?)' for a near-miss key, else ''."""
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key_message(key: str, value: object, allowed: frozenset[str], where: str) -> str:
    """Explain an unknown key: wrong unit, a key of another step kind, or a typo."""
    hint = unit_hint(key, value)
    if hint is not None:
        return f"{key}: not a recipe key; {hint}"
    owners = [k.value for k in StepKind if key in step_keys(k)]
    if owners:
        return f"{key}: not allowed in {where}; it belongs in {', '.join(owners)} steps"
    return f"{key}: unknown key{did_you_mean(key, allowed)}; allowed: {', '.join(sorted(allowed))}"
