"""Supervisor configuration: derived defaults, tuned by an optional `[safety]` table, in bounds.

    [safety]
    over_temp_warn_margin_c = 8.0        # any SafetyConfig field, in its unit
    stall_window_s = 90.0                # a per-zone key here applies to every zone
    guard_open_when_idle = "trip"        # "warn" or "trip"

    [safety.zones.top]
    stall_window_s = 120.0               # per-zone keys: stall_window_s, runaway_settle_s,
                                         # runaway_window_s

Every key is optional; a missing one keeps the default derived from the press's capability
(`thresholds.derive_safety_config`). Every value is bounded so that the check can still trip:
a window at most `DERIVED_MAX_FACTOR` times what the plant needs, a fraction that cannot reach
"never". Keys that would switch something off (`enabled`, `disable_*`, `ignore_*`, ...) are
refused by name: the supervisor has no off switch. All problems are reported at once, one line
each, naming the file and the key, as the press config loader does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from firmware.config.build import Problem, describe
from firmware.config.model import PressConfig
from firmware.config.suggest import unknown_key_message
from firmware.errors import ConfigError
from firmware.safety.thresholds import (
    RELEASE_MIN_FALL_MPA,
    RELEASE_MIN_PRESSURE_MPA,
    GuardPolicy,
    SafetyConfig,
    ZoneSafety,
    derive_safety_config,
    release_window_s,
)

__all__ = ["GuardPolicy", "SafetyConfig", "ZoneSafety", "bounds_for", "derive_safety_config",
           "parse_safety_config"]

# A derived window or rate may be tuned up to this multiple of what the plant needs: beyond it
# the check waits so long (or tolerates so much) that it no longer protects anything.
DERIVED_MAX_FACTOR = 4.0
TABLE = "safety"
ZONE_KEYS = ("stall_window_s", "runaway_settle_s", "runaway_window_s")
# Key prefixes and names that ask for a check to be off. Refused with their own message.
DISABLING_PREFIXES = ("enable", "disable", "ignore", "skip", "bypass", "suppress", "no_")
DISABLING_NAMES = ("off", "checks", "active")


@dataclass(frozen=True)
class Bound:
    """A closed range with its unit; `integer` for counts."""

    lo: float
    hi: float
    unit: str = ""
    integer: bool = False

    def problem(self, value: float) -> str | None:
        """`900 is out of range 10..258.4 s` when outside, else None."""
        if self.lo <= value <= self.hi:
            return None
        return f"{value:g} is out of range {self.lo:g}..{self.hi:g} {self.unit}".rstrip()


def _count(lo: int, hi: int) -> Bound:
    return Bound(lo, hi, "reads", integer=True)


def bounds_for(press: PressConfig, derived: SafetyConfig) -> dict[str, Bound]:
    """The allowed range of every global key, for `press` and its derived defaults."""
    d, tick_s, tc_s = derived, 1.0 / press.loop.tick_hz, press.loop.tc_period_s
    f = DERIVED_MAX_FACTOR
    return {
        "over_temp_warn_margin_c": Bound(1.0, 50.0, "C"),
        "over_temp_confirm_reads": _count(1, 3),  # 3 reads: 0.75 s late at most
        "over_temp_reset_hysteresis_c": Bound(2.0, 50.0, "C"),
        "tc_bad_consecutive_reads": _count(2, 15),  # Marlin's 15 is the field's most tolerant
        "pressure_bad_consecutive_reads": _count(1, max(2, math.ceil(0.5 / tick_s))),
        "bad_read_window_reads": _count(10, 100),
        "bad_read_window_fraction": Bound(0.05, 0.5),
        "reset_good_reads": _count(1, 50),
        "tc_stale_s": Bound(2 * tc_s, 10 * tc_s, "s"),
        "pressure_stale_s": Bound(2 * tick_s, max(1.0, 3 * tick_s), "s"),
        "stall_min_rise_c": Bound(0.5, 10.0, "C"),
        "stall_duty_fraction": Bound(0.5, 0.95),
        "runaway_min_rise_c": Bound(1.0, 10.0, "C"),
        "runaway_off_duty_fraction": Bound(0.0, 0.2),
        "runaway_neighbour_band_c": Bound(0.0, 10.0, "C"),
        "platen_disagree_band_c": Bound(3.0, 50.0, "C"),
        "platen_disagree_warn_c": Bound(1.0, 50.0, "C"),
        "platen_steady_rate_c_per_s": Bound(0.01, 0.2, "C/s"),
        "platen_steady_window_s": Bound(10.0, 600.0, "s"),
        "platen_setpoint_match_c": Bound(0.0, 5.0, "C"),
        "over_pressure_margin_fraction": Bound(0.0, 0.10),  # beyond: only the relief valve
        "hydraulic_reset_max_mpa": Bound(0.2, 0.1 * press.limits.max_line_pressure_mpa, "MPa"),
        "pump_no_rise_min_rise_mpa": Bound(0.1, 5.0, "MPa"),
        "pump_no_rise_fast_window_s": Bound(0.5, f * d.pump_no_rise_fast_window_s, "s"),
        "pump_no_rise_slow_window_s": Bound(0.5, f * d.pump_no_rise_slow_window_s, "s"),
        "pump_no_rise_approach_window_s": Bound(2.0, f * d.pump_no_rise_approach_window_s, "s"),
        "hold_band_fraction": Bound(0.02, 0.3),
        "hold_band_min_mpa": Bound(0.2, 10.0, "MPa"),
        "hold_decay_dwell_s": Bound(1.0, f * d.hold_decay_dwell_s, "s"),
        "locked_band_mpa": Bound(0.2, 10.0, "MPa"),
        "locked_expansion_mpa_per_k": Bound(0.0, f * d.locked_expansion_mpa_per_k, "MPa/K"),
        "locked_settle_s": Bound(0.1, 5.0, "s"),
        # Below the configured needle's own time a healthy release trips; a bigger fall or a
        # lower pressure than the defaults would need a longer window than the one derived.
        "release_stuck_window_s": Bound(release_window_s(press, 1.0),
                                        f * d.release_stuck_window_s, "s"),
        "release_stuck_min_fall_mpa": Bound(0.2, RELEASE_MIN_FALL_MPA, "MPa"),
        "release_stuck_min_pressure_mpa": Bound(RELEASE_MIN_PRESSURE_MPA,
                                                0.25 * press.limits.max_line_pressure_mpa, "MPa"),
        "guard_active_pressure_mpa": Bound(0.1, 10.0, "MPa"),
        "loop_overrun_streak": Bound(1, max(2, math.ceil(2.0 / tick_s)), "ticks", integer=True),
    }


def zone_bounds(zone: ZoneSafety) -> dict[str, Bound]:
    """The allowed range of each per-zone key; below the lag the heat soak alone would trip."""
    f = DERIVED_MAX_FACTOR
    return {
        "stall_window_s": Bound(10.0, f * zone.stall_window_s, "s"),
        "runaway_settle_s": Bound(zone.sensor_lag_s, f * zone.runaway_settle_s, "s"),
        "runaway_window_s": Bound(5.0, f * zone.runaway_window_s, "s"),
    }


def parse_safety_config(data: Mapping[str, Any], source: str, press: PressConfig) -> SafetyConfig:
    """The supervisor config for `press` from the parsed press TOML document `data`.

    `data` is the whole document (as given to `config.load.parse_config`); only its `[safety]`
    table is read, and it may be absent. `source` names the file in messages. Raises one
    ConfigError listing every problem, each with its key (`safety.stall_window_s: ...`).
    """
    derived = derive_safety_config(press)
    table = data.get(TABLE, {})
    problems: list[Problem] = []
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: {TABLE}: expected a table, got {describe(table)}")
    result = _parse_table(table, press, derived, problems)
    if problems:  # a global zone key is checked once per zone: say each problem once
        raise ConfigError(_format(list(dict.fromkeys(problems)), source))
    return result


def _parse_table(table: Mapping[str, Any], press: PressConfig, derived: SafetyConfig,
                 problems: list[Problem]) -> SafetyConfig:
    """Overrides from the `[safety]` table applied to `derived`; problems appended."""
    bounds = bounds_for(press, derived)
    known = [*bounds, "guard_open_when_idle", "guard_open_when_running", *ZONE_KEYS, "zones"]
    changes: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{TABLE}.{key}"
        if key in bounds:
            changes[key] = _number(value, bounds[key], path, problems)
        elif key in ("guard_open_when_idle", "guard_open_when_running"):
            changes[key] = _policy(value, path, problems)
        elif key not in ZONE_KEYS and key != "zones":
            problems.append(Problem(path, _unknown(key, value, known)))
    zones = _zones(table, derived, problems)
    changes = {k: v for k, v in changes.items() if v is not None}
    result = dataclasses.replace(derived, zones=zones, **changes)
    if result.platen_disagree_warn_c >= result.platen_disagree_band_c:
        problems.append(Problem(f"{TABLE}.platen_disagree_warn_c",
                                f"{result.platen_disagree_warn_c:g} C must be below "
                                f"platen_disagree_band_c {result.platen_disagree_band_c:g} C"))
    return result


def _zones(table: Mapping[str, Any], derived: SafetyConfig,
           problems: list[Problem]) -> tuple[ZoneSafety, ...]:
    """Per-zone windows: the global key for every zone, then `[safety.zones.<name>]`."""
    per_zone = table.get("zones", {})
    if not isinstance(per_zone, Mapping):
        problems.append(Problem(f"{TABLE}.zones", f"expected a table of zone tables, got "
                                                  f"{describe(per_zone)}"))
        per_zone = {}
    names = [z.name for z in derived.zones]
    for name in per_zone:
        if name not in names:
            problems.append(Problem(f"{TABLE}.zones.{name}",
                                    f"no zone {name!r}; zones are {', '.join(names)}"))
    out = []
    for zone in derived.zones:
        own = per_zone.get(zone.name, {})
        if not isinstance(own, Mapping):
            problems.append(Problem(f"{TABLE}.zones.{zone.name}", "expected a table"))
            own = {}
        out.append(_zone(zone, table, own, problems))
    return tuple(out)


def _zone(zone: ZoneSafety, table: Mapping[str, Any], own: Mapping[str, Any],
          problems: list[Problem]) -> ZoneSafety:
    """One zone's thresholds with the global and its own overrides (its own win)."""
    bounds = zone_bounds(zone)
    changes: dict[str, float] = {}
    for key, value in own.items():
        if key not in bounds:
            problems.append(Problem(f"{TABLE}.zones.{zone.name}.{key}",
                                    _unknown(key, value, bounds)))
    if not zone.heated:
        return zone
    for key, bound in bounds.items():
        if key in own:
            path, value = f"{TABLE}.zones.{zone.name}.{key}", own[key]
        elif key in table:
            path, value = f"{TABLE}.{key}", table[key]
        else:
            continue
        number = _number(value, bound, path, problems)
        if number is not None:
            changes[key] = number
    return dataclasses.replace(zone, **changes)


def _number(value: object, bound: Bound, path: str, problems: list[Problem]) -> Any:
    """`value` as the bound's kind (int or float) and within it, else None and a problem."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    is_num = is_int or isinstance(value, float)
    if bound.integer and not is_int:
        problems.append(Problem(path, f"expected a whole number, got {describe(value)}"))
        return None
    if not is_num or not math.isfinite(value):  # type: ignore[arg-type]
        problems.append(Problem(path, f"expected a finite number, got {describe(value)}"))
        return None
    message = bound.problem(float(value))  # type: ignore[arg-type]
    if message is not None:
        problems.append(Problem(path, message))
        return None
    return int(value) if bound.integer else float(value)  # type: ignore[arg-type]


def _policy(value: object, path: str, problems: list[Problem]) -> GuardPolicy | None:
    """"warn" or "trip"; there is deliberately no "ignore"."""
    allowed = [p.value for p in GuardPolicy]
    if value in allowed:
        return GuardPolicy(value)
    shown = f'"{value}"' if isinstance(value, str) else describe(value)
    problems.append(Problem(path, f'{shown} is not one of "warn", "trip" (an open guard is '
                                  "never ignored)"))
    return None


def _format(problems: list[Problem], source: str) -> str:
    """One line per problem, after a count when there are several (as the press loader does;
    not imported from it, so the loader can import this module without a cycle).
    """
    lines = [p.render(source) for p in problems]
    return "\n".join(([f"{source}: {len(lines)} problems"] if len(lines) > 1 else []) + lines)


def _unknown(key: str, value: object, known: Any) -> str:
    """The message for an unknown key; a request to switch something off gets its own."""
    lowered = key.lower()
    if lowered.startswith(DISABLING_PREFIXES) or lowered in DISABLING_NAMES:
        return ("the safety supervisor and its checks cannot be switched off; tune a threshold "
                "within its bounds instead")
    return unknown_key_message(key, value, known)
