"""The plan of a recipe: what each step sets, in every unit the operator thinks in, and how long.

`plan_recipe(recipe, press)` is pure arithmetic; `format_plan` renders it as a plain-text table and
`Plan.to_dict()` as JSON-ready data (the host's `recipe check` and the run record use both).

How durations are estimated (`ESTIMATE_METHOD`, also printed under the table):
- heating: each zone at its ramp rate, but never faster than its heater at full power can manage
  against the losses (thermal.py: 2 kW into 4.9 kJ/K, losses UA (T - Ta)(1 + (T - Ta)/300));
  a soak adds its time once in band; the slowest zone sets the step.
- cooling: natural cooling of the platen with the heaters off, the closed form of the same loss
  model (UA 2.5 W/K: about 37 min from 170 C to 60 C), or the cooling ramp if that is slower.
- pressure: at the step's rate (MPa/s on the sample); without one, at the pump's rate after contact
  (the reference circuit's ~32 MPa/s line pressure, from the press's hydraulic parameters), or as
  instant when no press is given. Releases are estimated the same way.
- waits for an operator count as zero; the total says how many there are.
Without a press config the reference steel platen (plant.md) is assumed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from firmware.config.model import PressConfig
from firmware.recipe.model import EndKind, Recipe, Step, StepKind, ZoneTemps
from firmware.recipe.thermal import PlatenThermal, heated_zones, zone_thermals
from firmware.recipe.units import (
    bar_from_mpa,
    force_from_pressure_kn,
    line_pressure_mpa,
    tf_from_kn,
)

ESTIMATE_METHOD = (
    "heating at the ramp rate or the heaters' full-power rate, whichever is slower; cooling by "
    "natural losses of the platens (or the cooling ramp if slower); pressure at the step's rate, "
    "else the pump's; operator waits count as zero"
)
COOL_FLOOR_ABOVE_AMBIENT_C = 1.0  # a cool to ambient is estimated to here: the approach is endless


@dataclass(frozen=True)
class PlanStep:
    """One step of the plan: setpoints in force when it ends, and its estimated time."""

    index: int
    kind: str
    label: str
    temps_c: dict[str, float]  # zone -> setpoint C ('all' when no press names the zones)
    pressure_mpa: float  # on the sample
    force_kn: float
    force_tf: float
    line_bar: float | None  # hydraulic line pressure, when a press is given
    duration_s: float
    start_s: float
    ends_on: str
    operator: bool  # waits for an operator: that time is not in duration_s

    @property
    def end_s(self) -> float:
        """Estimated time from the start of the run to the end of this step, s."""
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Plan:
    """The whole plan and its total."""

    recipe: str
    press_id: str | None
    die_diameter_mm: float | None
    area_mm2: float | None
    steps: tuple[PlanStep, ...]
    total_s: float
    operator_waits: int
    method: str = ESTIMATE_METHOD

    def to_dict(self) -> dict:
        """JSON-ready form (plain dicts, lists, numbers, strings)."""
        data = asdict(self)
        data["steps"] = [{**asdict(s), "end_s": s.end_s} for s in self.steps]
        return data


class _Planner:
    """Walks the steps carrying the setpoints, and estimates each step's time."""

    def __init__(self, recipe: Recipe, press: PressConfig | None) -> None:
        self.recipe, self.press = recipe, press
        self.zones = _zone_names(recipe, press)
        thermals = zone_thermals(press) if press else {}
        self.thermals = {z: thermals.get(z, PlatenThermal.reference()) for z in self.zones}
        self.ambient_c = next(iter(self.thermals.values())).ambient_c
        self.temps_c: dict[str, float] = {}
        self.pressure_mpa = 0.0

    def step(self, step: Step, start_s: float) -> PlanStep:
        """Advance the setpoints through `step` and return its plan row."""
        duration_s = _ESTIMATORS[step.kind](self, step)
        if step.end.kind is EndKind.TIME and step.end.duration_s is not None:
            duration_s = step.end.duration_s
        force_kn = self._force_kn(self.pressure_mpa)
        line_bar = None
        if self.press is not None:
            line_bar = bar_from_mpa(self.press.line_mpa_for_force(force_kn))
        return PlanStep(
            step.index, step.kind.value, step.label, dict(self.temps_c), self.pressure_mpa,
            force_kn, tf_from_kn(force_kn), line_bar, duration_s, start_s, _ends_on(step),
            step.end.kind is EndKind.OPERATOR,
        )

    def _force_kn(self, pressure_mpa: float) -> float:
        """Force for a sample pressure on this recipe's geometry (0 without one)."""
        geometry = self.recipe.geometry
        return force_from_pressure_kn(pressure_mpa, geometry.area_m2) if geometry else 0.0

    def current_c(self, zone: str) -> float:
        """The zone's setpoint, or ambient before any heat."""
        return self.temps_c.get(zone, self.ambient_c)

    def set_temps(self, temps: ZoneTemps) -> None:
        """Apply a temperature target to the zones it names (all of them for a common one)."""
        for zone in self.zones:
            target_c = temps.for_zone(zone)
            if target_c is not None:
                self.temps_c[zone] = target_c

    def pressure_time_s(self, step: Step, to_mpa: float) -> float:
        """Time to move the sample pressure from the current value to `to_mpa`."""
        delta_mpa = abs(to_mpa - self.pressure_mpa)
        if step.pressure_rate_mpa_per_s:
            return delta_mpa / step.pressure_rate_mpa_per_s
        if self.press is None or self.recipe.geometry is None:
            return 0.0
        line_mpa = line_pressure_mpa(self._force_kn(delta_mpa), self.press.ram_area_m2)
        return line_mpa / pump_line_rate_mpa_per_s(self.press)


def _heat(p: _Planner, step: Step) -> float:
    """Slowest zone: ramp rate or full power, whichever is slower; plus any soak."""
    assert step.temp is not None
    times = []
    for zone in p.zones:
        start_c, end_c = p.current_c(zone), step.temp.for_zone(zone)
        if end_c is None:
            continue
        ramp_s = (end_c - start_c) / step.ramp_c_per_min * 60.0 if step.ramp_c_per_min else 0.0
        times.append(max(ramp_s, p.thermals[zone].full_power_time_s(start_c, end_c)))
    p.set_temps(step.temp)
    return max(times, default=0.0) + (step.end.soak_s or 0.0)


def _cool(p: _Planner, step: Step) -> float:
    """Slowest zone: natural cooling, or the cooling ramp if slower; release first if asked."""
    assert step.temp is not None
    release_s = 0.0 if step.under_pressure else p.pressure_time_s(step, 0.0)
    if not step.under_pressure:
        p.pressure_mpa = 0.0
    times = []
    for zone in p.zones:
        start_c, end_c = p.current_c(zone), step.temp.for_zone(zone)
        if end_c is None:
            continue
        thermal = p.thermals[zone]
        end_c = max(end_c, thermal.ambient_c + COOL_FLOOR_ABOVE_AMBIENT_C)
        ramp_s = (start_c - end_c) / step.ramp_c_per_min * 60.0 if step.ramp_c_per_min else 0.0
        times.append(max(ramp_s, thermal.natural_cooling_time_s(start_c, end_c)))
    p.set_temps(step.temp)
    return release_s + max(times, default=0.0)


def _press(p: _Planner, step: Step) -> float:
    """Pressure ramp at the step's rate (or the pump's)."""
    assert step.pressure is not None
    time_s = p.pressure_time_s(step, step.pressure.pressure_mpa)
    p.pressure_mpa = step.pressure.pressure_mpa
    return time_s


def _hold(p: _Planner, step: Step) -> float:
    """A hold lasts its soak (assumed in band already) or its duration (set by the caller)."""
    return step.end.soak_s or 0.0


def _breathe(p: _Planner, step: Step) -> float:
    """Reach the level, then per cycle: down, dwell, up, dwell."""
    assert step.breathe is not None
    level_mpa = step.pressure.pressure_mpa if step.pressure else p.pressure_mpa
    approach_s = p.pressure_time_s(step, level_mpa)
    p.pressure_mpa = level_mpa
    swing_s = p.pressure_time_s(step, step.breathe.release_to_mpa)
    return approach_s + step.breathe.cycles * 2.0 * (swing_s + step.breathe.dwell_s)


def _release(p: _Planner, step: Step) -> float:
    """Down to zero at the step's rate (or the pump's, as an estimate)."""
    time_s = p.pressure_time_s(step, 0.0)
    p.pressure_mpa = 0.0
    return time_s


def _wait(p: _Planner, step: Step) -> float:
    """An operator wait counts as zero; a timed one is set by the caller."""
    return 0.0


_ESTIMATORS = {
    StepKind.HEAT: _heat, StepKind.COOL: _cool, StepKind.PRESS: _press, StepKind.HOLD: _hold,
    StepKind.BREATHE: _breathe, StepKind.RELEASE: _release, StepKind.WAIT: _wait,
}


def pump_line_rate_mpa_per_s(press: PressConfig) -> float:
    """Line-pressure rise rate with the pump on after contact (MPa/s): flow / hydraulic capacitance.

    C = V / beta + A^2 / k, with k the frame and sample stiffness in series (plant.md); the
    reference circuit gives ~32 MPa/s.
    """
    sim = press.physics
    stiffness = 1.0 / (1.0 / sim.frame_stiffness_n_per_m + 1.0 / sim.sample_stiffness_n_per_m)
    capacitance = sim.oil_volume_m3 / sim.bulk_modulus_pa + press.ram_area_m2**2 / stiffness
    return sim.pump_flow_m3_per_s / capacitance / 1e6


def plan_recipe(recipe: Recipe, press: PressConfig | None = None) -> Plan:
    """The plan of `recipe`, on `press` if given (line pressure, its heaters and pump)."""
    planner, rows, clock_s = _Planner(recipe, press), [], 0.0
    for step in recipe.steps:
        rows.append(planner.step(step, clock_s))
        clock_s = rows[-1].end_s
    geometry = recipe.geometry
    return Plan(
        recipe.name, press.id if press else None, geometry.die_diameter_mm if geometry else None,
        geometry.area_mm2 if geometry else None, tuple(rows), clock_s,
        sum(r.operator for r in rows),
    )


def _zone_names(recipe: Recipe, press: PressConfig | None) -> list[str]:
    """The press's heated zones, else the zones the recipe names, else one 'all'."""
    if press is not None and heated_zones(press):
        return [z.name for z in heated_zones(press)]
    named = [z for s in recipe.steps if s.temp for z in s.temp.zone_names]
    return list(dict.fromkeys(named)) or ["all"]


def _ends_on(step: Step) -> str:
    """Short text for the end condition column."""
    end = step.end
    if end.kind is EndKind.SOAK:
        return f"soak {_hms(end.soak_s or 0.0)}"
    if end.kind is EndKind.CYCLES and step.breathe is not None:
        return f"{step.breathe.cycles} cycles"
    if end.kind is EndKind.TIME:
        return f"time {_hms(end.duration_s or 0.0)}"
    return end.kind.value


def _hms(seconds: float) -> str:
    """'1:02:03' (h:mm:ss), or 'never' for an endless estimate."""
    if math.isinf(seconds):
        return "never"
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _temps_text(temps_c: dict[str, float]) -> str:
    """'150', or '150/148' when the zones differ, '-' before any heat."""
    values = list(temps_c.values())
    if not values:
        return "-"
    if len(set(values)) == 1:
        return f"{values[0]:g}"
    return "/".join(f"{v:g}" for v in values)


_HEADER = ("  #  kind     temp C           MPa      kN     tf  line bar      time    end at"
           "  ends on")


def format_plan(plan: Plan) -> str:
    """The plan as a plain-text table with its total and how it was estimated."""
    if plan.die_diameter_mm:
        die = f"die {plan.die_diameter_mm:g} mm ({plan.area_mm2:.1f} mm^2)"
    else:
        die = f"sample area {plan.area_mm2:g} mm^2" if plan.area_mm2 else "no die geometry"
    press = f"press {plan.press_id}" if plan.press_id else "no press (reference platen assumed)"
    lines = [f"Plan: {plan.recipe}", f"  {die}  {press}".rstrip(), _HEADER]
    lines += [_row(s) for s in plan.steps]
    waits = f", plus {plan.operator_waits} operator wait(s)" if plan.operator_waits else ""
    lines.append(f"Total {_hms(plan.total_s)} (h:mm:ss){waits}")
    lines.append(f"Estimated: {plan.method}.")
    return "\n".join(lines)


def _row(s: PlanStep) -> str:
    """One table row."""
    line = "-" if s.line_bar is None else f"{s.line_bar:.1f}"
    ends = s.ends_on + (f"  {s.label}" if s.label else "")
    return (f"{s.index:>3}  {s.kind:<8} {_temps_text(s.temps_c):<12} {s.pressure_mpa:>7.1f} "
            f"{s.force_kn:>7.2f} {s.force_tf:>6.2f} {line:>9} {_hms(s.duration_s):>9} "
            f"{_hms(s.end_s):>9}  {ends}")

