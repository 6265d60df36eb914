"""Helpful wording for unknown config keys: a 'did you mean' and the SI key for a foreign unit.

A press config that says `max_temp_f = 572` or `range_bar = 700` is not a typo but a unit mix-up,
and the worst fix would be to accept it silently. We never convert: we name the SI key and show
the converted number, so the file the operator keeps is the one the daemon runs.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# How close a typo must be to a known key to be suggested (difflib ratio, 0..1); 0.6 is difflib's
# default and catches one or two wrong letters without suggesting unrelated keys.
SUGGEST_CUTOFF = 0.6


@dataclass(frozen=True)
class ForeignUnit:
    """A unit suffix hotpress does not take, the SI suffix it takes instead, and the conversion."""

    label: str
    si_suffix: str
    si_label: str
    convert: Callable[[float], float]


def _scale(factor: float) -> Callable[[float], float]:
    """A conversion that multiplies by `factor`."""
    return lambda x: x * factor


# Suffix (after the last '_') -> the SI suffix used in hotpress key names.
FOREIGN_UNITS: dict[str, ForeignUnit] = {
    "f": ForeignUnit("F", "c", "C", lambda x: (x - 32.0) * 5.0 / 9.0),
    "k": ForeignUnit("K", "c", "C", lambda x: x - 273.15),
    "in": ForeignUnit("in", "mm", "mm", _scale(25.4)),
    "inch": ForeignUnit("in", "mm", "mm", _scale(25.4)),
    "inches": ForeignUnit("in", "mm", "mm", _scale(25.4)),
    "cm": ForeignUnit("cm", "mm", "mm", _scale(10.0)),
    "m": ForeignUnit("m", "mm", "mm", _scale(1000.0)),
    "bar": ForeignUnit("bar", "mpa", "MPa", _scale(0.1)),
    "psi": ForeignUnit("psi", "mpa", "MPa", _scale(0.006894757)),
    "ksi": ForeignUnit("ksi", "mpa", "MPa", _scale(6.894757)),
    "kpa": ForeignUnit("kPa", "mpa", "MPa", _scale(0.001)),
    "pa": ForeignUnit("Pa", "mpa", "MPa", _scale(1e-6)),
    "t": ForeignUnit("tonne-force", "kn", "kN", _scale(9.80665)),
    "ton": ForeignUnit("tonne-force", "kn", "kN", _scale(9.80665)),
    "tons": ForeignUnit("tonne-force", "kn", "kN", _scale(9.80665)),
    "tonf": ForeignUnit("tonne-force", "kn", "kN", _scale(9.80665)),
    "kgf": ForeignUnit("kgf", "kn", "kN", _scale(0.00980665)),
    "lbf": ForeignUnit("lbf", "kn", "kN", _scale(0.004448222)),
    "n": ForeignUnit("N", "kn", "kN", _scale(0.001)),
    "ms": ForeignUnit("ms", "s", "s", _scale(0.001)),
    "min": ForeignUnit("min", "s", "s", _scale(60.0)),
    "kw": ForeignUnit("kW", "w", "W", _scale(1000.0)),
    "mv": ForeignUnit("mV", "v", "V", _scale(0.001)),
    "khz": ForeignUnit("kHz", "hz", "Hz", _scale(1000.0)),
}


def _split_suffix(key: str) -> tuple[str, str]:
    """`max_temp_f` -> (`max_temp`, `f`); a key without '_' has no suffix."""
    stem, _, suffix = key.rpartition("_")
    return (stem, suffix.lower()) if stem else (key, "")


def si_key_for(key: str, known: Iterable[str]) -> tuple[str, ForeignUnit] | None:
    """The known key that `key` means in SI units, with its unit, or None.

    `bore_in` finds `ram_bore_mm`: the stems match exactly, as a tail (`bore` of `ram_bore`), or
    closely (difflib), among the known keys that carry the SI suffix.
    """
    stem, suffix = _split_suffix(key)
    unit = FOREIGN_UNITS.get(suffix)
    if unit is None:
        return None
    stems = {
        _split_suffix(k)[0]: k for k in known if _split_suffix(k)[1] == unit.si_suffix
    }
    for known_stem, known_key in stems.items():
        if known_stem == stem or known_stem.endswith("_" + stem):
            return known_key, unit
    close = difflib.get_close_matches(stem, list(stems), n=1, cutoff=SUGGEST_CUTOFF)
    return (stems[close[0]], unit) if close else None


def unknown_key_message(key: str, value: object, known: Iterable[str]) -> str:
    """The message for a key that is not in the table: SI hint, else closest key, else the list."""
    known = sorted(known)
    si = si_key_for(key, known)
    if si is not None:
        si_key, unit = si
        return f"unknown key: hotpress uses SI units, write {si_key} in {unit.si_label}" + (
            _converted(value, unit)
        )
    close = difflib.get_close_matches(key, known, n=1, cutoff=SUGGEST_CUTOFF)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    return "unknown key; known keys here: " + ", ".join(known)


def _converted(value: object, unit: ForeignUnit) -> str:
    """` (572 F = 300 C)` for a plain number, else nothing: the user sees the SI value to type."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return f" ({value:g} {unit.label} = {unit.convert(float(value)):.4g} {unit.si_label})"


def closest_choice(value: str, choices: Iterable[str]) -> str | None:
    """The allowed string closest to `value` (for `kind = "simulated"` -> `sim`), or None."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if value.lower() in lowered:
        return lowered[value.lower()]
    for c in choices:
        if value.lower().startswith(c.lower()) or c.lower().startswith(value.lower()):
            return c
    close = difflib.get_close_matches(value, choices, n=1, cutoff=SUGGEST_CUTOFF)
    return close[0] if close else None
