"""Empty-die calibration: where the ram closes the empty die, how far the frame gives per kN, and
how much the hot stack grows. The three figures run/density.py needs to turn a ram position into a
pellet thickness.

It is a run like any other (so it is journalled, supervised and can be aborted): the empty die is
pressed to a few forces, each held while positions are averaged; then, optionally, heated under
the middle force and held again. A straight line through (force, position) cold gives the closed
reading at zero force and the compliance; the hot hold's shift from that line, per degree, gives
the growth. Forces here are line pressure x ram area, as run/density.py uses them, so the ram's
drag setting never skews the die figures. The drag itself is measured on the way: while the ram
travels freely to the die, the line holds just the pressure that overcomes its return spring and
seals. The analysis is a pure function of the journalled samples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_FORCES_KN = (5.0, 10.0, 20.0)
HOLD_S = 20.0  # per force: the last half is averaged (creep of the punches is nil, settling fast)
HOT_SOAK_MIN = 10.0  # platens in band this long, so the die has followed them
HOT_MAX_WAIT_MIN = 60.0
MIN_POINTS = 10  # samples per hold to average, at the least
TRAVEL_MIN_MM = 0.005  # the ram moved at least this since the last sample: travelling freely
TRAVEL_MAX_LINE_MPA = 1.0  # above this the ram is pressing something, not just moving
LABEL = "calibrate"  # step labels: "calibrate <n> kN" cold, "calibrate hot" hot


class CalibrationError(ValueError):
    """The samples do not support a calibration (missing position, too few holds, bad fit)."""


@dataclass(frozen=True)
class DieCalibration:
    """The empty die's figures, in the keys of `[inputs.ram_position]`."""

    empty_die_closed_mm: float
    compliance_mm_per_kn: float
    growth_mm_per_c: float
    calibrated_at_c: float
    residual_mm: float  # worst distance of a cold hold from the fitted line
    ram_drag_kn: float | None = None  # None: the ram was never seen travelling freely

    def drag_toml(self) -> str:
        """The top-level line (next to ram_bore_mm) for the ram's drag."""
        return f"ram_drag_kn = {self.ram_drag_kn:.3f}\n" if self.ram_drag_kn is not None else ""

    def toml(self) -> str:
        """The lines to paste under `[inputs.ram_position]` in the press config."""
        return (f"empty_die_closed_mm = {self.empty_die_closed_mm:.4f}\n"
                f"compliance_mm_per_kn = {self.compliance_mm_per_kn:.6f}\n"
                f"growth_mm_per_c = {self.growth_mm_per_c:.7f}\n"
                f"calibrated_at_c = {self.calibrated_at_c:.1f}\n")


def calibration_recipe(forces_kn: Sequence[float] = DEFAULT_FORCES_KN,
                       hot_c: float | None = 150.0) -> str:
    """The calibration as a recipe (kN targets: an empty die has no sample pressure)."""
    lines = ['name = "Empty-die calibration"',
             'description = "Empty die pressed cold at several forces'
             + (f', then held hot at {hot_c:g} C' if hot_c is not None else '') + '."',
             'author = "hotpressd calibrate-die"', "die_diameter_mm = 10.0", "materials = []",
             "", "[[custom_materials]]", 'name = "empty die"', "max_temp_c = 300",
             'reason = "steel die and punches only: the press limits apply"', ""]
    for force_kn in forces_kn:
        label = f"{LABEL} {force_kn:g} kN"
        lines += ["[[steps]]", 'kind = "press"', f'label = "{label}"', f"force_kn = {force_kn:g}",
                  "require_temp_in_band = false", 'until = "target"', "",
                  "[[steps]]", 'kind = "hold"', f'label = "{label}"', f"duration_s = {HOLD_S:g}",
                  ""]
    if hot_c is not None:
        mid_kn = sorted(forces_kn)[len(forces_kn) // 2]
        lines += ["[[steps]]", 'kind = "press"', f'label = "{LABEL} hot"', f"force_kn = {mid_kn:g}",
                  "require_temp_in_band = false", 'until = "target"', "",
                  "[[steps]]", 'kind = "heat"', f'label = "{LABEL} hot"', f"temp_c = {hot_c:g}",
                  f"soak_min = {HOT_SOAK_MIN:g}", f"max_wait_min = {HOT_MAX_WAIT_MIN:g}",
                  'on_timeout = "abort"', "",
                  "[[steps]]", 'kind = "hold"', f'label = "{LABEL} hot"',
                  f"duration_s = {HOLD_S:g}", ""]
    lines += ["[[steps]]", 'kind = "release"', ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class _Hold:
    force_kn: float
    position_mm: float
    temp_c: float
    points: int


def _holds(samples: Iterable[dict[str, Any]], labels: dict[int, str],
           ram_area_m2: float) -> dict[str, _Hold]:
    """Mean force, position and platen temperature over the last half of each hold step."""
    by_label: dict[str, list[tuple[float, float, float, float]]] = {}
    for s in samples:
        label = labels.get(s.get("step_index", -1), "")
        temps = [t for t in (s.get("temps_c") or {}).values() if t is not None]
        if (not label or s.get("line_mpa") is None or s.get("position_mm") is None
                or not temps):
            continue
        by_label.setdefault(label, []).append((s["t_s"], s["line_mpa"] * ram_area_m2 * 1e3,
                                               s["position_mm"], sum(temps) / len(temps)))
    holds = {}
    for label, rows in by_label.items():
        end_s = rows[-1][0]
        tail = [r for r in rows if r[0] >= end_s - HOLD_S / 2.0]
        if len(tail) >= MIN_POINTS:
            n = len(tail)
            holds[label] = _Hold(sum(r[1] for r in tail) / n, sum(r[2] for r in tail) / n,
                                 sum(r[3] for r in tail) / n, n)
    return holds


def ram_drag_kn(samples: Iterable[dict[str, Any]], ram_area_m2: float) -> float | None:
    """The mean line force while the ram travelled freely (None if it never did)."""
    travel, last_mm = [], None
    for s in samples:
        pos, line = s.get("position_mm"), s.get("line_mpa")
        if pos is None or line is None:
            last_mm = None
            continue
        if last_mm is not None and pos - last_mm >= TRAVEL_MIN_MM and line < TRAVEL_MAX_LINE_MPA:
            travel.append(line * ram_area_m2 * 1e3)
        last_mm = pos
    # The ends are the pump starting and the ram meeting the die: the middle is free travel.
    trim = len(travel) // 10
    travel = travel[trim:len(travel) - trim]
    if len(travel) < MIN_POINTS:
        return None
    return max(0.0, sum(travel) / len(travel))


def fit_calibration(samples: Iterable[dict[str, Any]], labels: dict[int, str],
                    ram_area_m2: float) -> DieCalibration:
    """The die's figures from a calibration run's samples; `labels` maps step index to label,
    for the hold steps only."""
    samples = list(samples)
    holds = _holds(samples, labels, ram_area_m2)
    cold = [h for name, h in holds.items() if name != f"{LABEL} hot"]
    if len(cold) < 2:
        raise CalibrationError(f"{len(cold)} cold holds with position readings; need at least 2 "
                               "(is a ram position sensor fitted and reading?)")
    n = len(cold)
    mean_f = sum(h.force_kn for h in cold) / n
    mean_x = sum(h.position_mm for h in cold) / n
    sxx = sum((h.force_kn - mean_f) ** 2 for h in cold)
    if sxx <= 0.0:
        raise CalibrationError("the cold holds all sat at the same force; nothing to fit")
    slope = sum((h.force_kn - mean_f) * (h.position_mm - mean_x) for h in cold) / sxx
    closed_mm = mean_x - slope * mean_f
    residual = max(abs(h.position_mm - (closed_mm + slope * h.force_kn)) for h in cold)
    if slope < 0.0:
        raise CalibrationError(f"the ram read {slope:.5f} mm per kN: it moved back as the force "
                               "rose; check the sensor's direction and wiring")
    cold_c = sum(h.temp_c for h in cold) / n
    growth = 0.0
    hot = holds.get(f"{LABEL} hot")
    if hot is not None and hot.temp_c - cold_c > 20.0:
        expected_mm = closed_mm + slope * hot.force_kn
        growth = max(0.0, (expected_mm - hot.position_mm) / (hot.temp_c - cold_c))
    return DieCalibration(closed_mm, slope, growth, cold_c, residual,
                          ram_drag_kn(samples, ram_area_m2))


def config_text_with(config_text: str, cal: DieCalibration) -> str:
    """A press config's text with `cal` pasted in, replacing an older calibration: the die under
    its `[inputs.ram_position]` header, the drag after `ram_bore_mm`. What an engineer pastes,
    done for the demo and the tests."""
    header = "[inputs.ram_position]\n"
    if header not in config_text:
        raise CalibrationError("the config has no [inputs.ram_position] table to calibrate")
    keys = [line.split("=")[0].strip() for line in (cal.toml() + cal.drag_toml()).splitlines()]
    for key in keys:  # an older calibration's lines go (commented examples stay)
        config_text = re.sub(rf"^{key}\s*=.*\n", "", config_text, flags=re.M)
    text = config_text.replace(header, header + cal.toml(), 1)
    if cal.ram_drag_kn is None:
        return text
    bore = re.search(r"^ram_bore_mm\s*=.*\n", text, re.M)
    if bore is None:
        raise CalibrationError("the config has no ram_bore_mm line to put ram_drag_kn after")
    return text[:bore.end()] + cal.drag_toml() + text[bore.end():]
