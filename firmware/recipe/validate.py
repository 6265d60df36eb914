"""Validate a parsed recipe against the materials in the die and, when given, a press.

Runs before anything moves. Every problem is collected and raised together (`validate_recipe`), or
returned as data (`check_recipe`) for the host's `recipe check`. Without a press config only the
material limits are checked (the format was checked by the parser).

Temperature margins, decided once here:
- Material limits (`Material.max_temp_c`) are setpoint limits that already sit
  `MATERIAL_MARGIN_C` below the damage temperature (materials.py), so a setpoint is compared with
  them directly: with lithium in the die 170 C is accepted and 170.5 C rejected.
- Press limits (`ZoneConfig.max_temp_c`, `LimitsConfig.max_temp_c`) are trip thresholds: the
  supervisor faults when a zone reads above them. A setpoint must leave `OVERSHOOT_MARGIN_C` below
  them, or ordinary overshoot would trip the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.config.model import PressConfig
from firmware.recipe.model import EndKind, Recipe, RecipeError, Step, StepKind, ZoneTemps
from firmware.recipe.thermal import PlatenThermal, heated_zones, zone_thermals

# Overshoot a setpoint must leave below a press trip limit: Ziegler-Nichols PID overshot 1.8 C on
# the simulated steel platen, tuned SIMC PI 0.4 C (control.md); the MAX31855 reads in 0.25 C steps.
OVERSHOOT_MARGIN_C = 2.0

# A natural cool must end at least this far above ambient: the platen approaches ambient
# exponentially, so the last few degrees take ever longer (from 150 C, 30 C takes ~1.5 h more).
COOL_APPROACH_C = 5.0

# Pressure transducers are typically accurate to +-0.5 % of span (plant.md). Below this many
# times that error a held line pressure is uncertain by more than 25 %: worth a warning (a hold
# there is closer to "some load" than to the number in the recipe).
TRANSDUCER_ACCURACY_FRAC = 0.005
LOW_LINE_FACTOR = 4.0


@dataclass(frozen=True)
class ValidationReport:
    """Everything validation found: errors stop a run, warnings are shown to the operator."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the recipe may run."""
        return not self.errors


def validate_recipe(recipe: Recipe, press: PressConfig | None = None) -> tuple[str, ...]:
    """Raise RecipeError listing every problem; return the warnings (parser's and ours)."""
    report = check_recipe(recipe, press)
    if not report.ok:
        raise RecipeError(recipe.source, report.errors)
    return report.warnings


def check_recipe(recipe: Recipe, press: PressConfig | None = None) -> ValidationReport:
    """All problems and warnings of `recipe` against its materials and, if given, `press`."""
    errors: list[str] = []
    warnings: list[str] = list(recipe.warnings)
    for step in recipe.steps:
        errors += _material_errors(recipe, step)
        if press is not None:
            errors += _zone_errors(step, press) or _temp_errors(step, press)
            errors += _pressure_errors(step, press) + _cool_errors(step, press)
            warnings += _pressure_warnings(step, press) + _cool_warnings(step, press)
    return ValidationReport(tuple(errors), tuple(warnings))


def _material_errors(recipe: Recipe, step: Step) -> list[str]:
    """Every material whose limit a temperature setpoint of `step` exceeds."""
    if step.temp is None:
        return []
    hottest_c = step.temp.max_c
    return [
        f"{step.ref}: temp_c: {hottest_c:g} C exceeds the limit of {m.name} ({m.max_temp_c:g} C:"
        f" {m.reason})"
        for m in sorted(recipe.materials, key=lambda m: m.max_temp_c)
        if hottest_c > m.max_temp_c
    ]


def _zone_errors(step: Step, press: PressConfig) -> list[str]:
    """Per-zone setpoints must name exactly the press's heated zones."""
    if step.temp is None or step.temp.common_c is not None:
        return []
    heated = [z.name for z in heated_zones(press)]
    named = step.temp.zone_names
    errors = [f"{step.ref}: temp_c: {z!r} is not a heated zone of press {press.id!r}; heated "
              f"zones: {', '.join(heated)}" for z in named if z not in heated]
    errors += [f"{step.ref}: temp_c: no setpoint for zone {z!r}; give every heated zone "
               f"({', '.join(heated)}) or one number" for z in heated if z not in named]
    return errors


def _temp_errors(step: Step, press: PressConfig) -> list[str]:
    """Setpoints within each zone's and the press's limits; heat ramps the heaters can deliver."""
    if step.temp is None:
        return []
    thermals = zone_thermals(press)
    if not thermals:
        return [f"{step.ref}: temp_c: press {press.id!r} has no heated zones"]
    by_message: dict[str, list[str]] = {}  # zones with identical problems share one message
    for zone in heated_zones(press):
        target_c = _zone_target(step.temp, zone.name)
        limit_c = min(zone.max_temp_c, press.limits.max_temp_c)
        if target_c + OVERSHOOT_MARGIN_C > limit_c:
            message = (f"temp_c: {target_c:g} C on {{zones}} leaves less than "
                       f"{OVERSHOOT_MARGIN_C:g} C for overshoot below the press limit "
                       f"{limit_c:g} C; at most {limit_c - OVERSHOOT_MARGIN_C:g} C")
        elif step.kind is StepKind.HEAT:
            message = _ramp_error(step, target_c, thermals[zone.name])
        else:
            message = None
        if message is not None:
            by_message.setdefault(message, []).append(zone.name)
    return [f"{step.ref}: " + m.format(zones=_zones_text(z)) for m, z in by_message.items()]


def _zones_text(zones: list[str]) -> str:
    """"zone 'top'" or "zones 'top', 'bottom'"."""
    names = ", ".join(repr(z) for z in zones)
    return f"zone {names}" if len(zones) == 1 else f"zones {names}"


def _zone_target(temps: ZoneTemps, zone: str) -> float:
    """A zone's setpoint (zone names were checked before)."""
    target_c = temps.for_zone(zone)
    assert target_c is not None
    return target_c


def _ramp_error(step: Step, target_c: float, thermal: PlatenThermal) -> str | None:
    """The heater must hold the target at all, and follow the ramp right up to it.

    The message has a `{zones}` placeholder, filled in once for every zone that shares it.
    """
    max_rate = thermal.max_heating_rate_c_per_min(target_c)
    loss_w = thermal.loss_w(target_c)
    if max_rate <= 0:
        return (f"temp_c: {{zones}} cannot reach {target_c:g} C: losses there are {loss_w:.0f} W "
                f"and the heater gives {thermal.heater_w:g} W")
    if step.ramp_c_per_min is not None and step.ramp_c_per_min > max_rate:
        return (f"ramp_c_per_min: {step.ramp_c_per_min:g} C/min is more than {{zones}} can "
                f"deliver near {target_c:g} C (about {max_rate:.1f} C/min from "
                f"{thermal.heater_w:g} W less {loss_w:.0f} W of losses over "
                f"{thermal.heat_capacity_j_per_k / 1000:g} kJ/K); at most {int(max_rate)} C/min")
    return None


def _line_mpa(step: Step, press: PressConfig) -> float | None:
    """Line pressure (MPa) that `step`'s pressure target needs on this press, if it has one."""
    if step.pressure is None:
        return None
    return press.line_mpa_for_force(step.pressure.force_kn)


def _pressure_errors(step: Step, press: PressConfig) -> list[str]:
    """Force and line pressure within the press limits, and within what the transducer reads."""
    line_mpa = _line_mpa(step, press)
    if step.pressure is None or line_mpa is None:
        return []
    key, target = step.pressure.given_as.value, _describe_target(step)
    limits, errors = press.limits, []
    if step.pressure.force_kn > limits.max_force_kn:
        errors.append(f"{step.ref}: {key}: {target} needs {step.pressure.force_kn:.1f} kN, above "
                      f"the press limit {limits.max_force_kn:g} kN")
    if line_mpa > limits.max_line_pressure_mpa:
        errors.append(f"{step.ref}: {key}: {target} needs {line_mpa:.1f} MPa line pressure, above "
                      f"the press limit {limits.max_line_pressure_mpa:g} MPa")
    elif line_mpa > press.pressure_range_mpa:
        errors.append(f"{step.ref}: {key}: {target} needs {line_mpa:.1f} MPa line pressure, above "
                      f"the transducer's range {press.pressure_range_mpa:g} MPa")
    return errors


def _describe_target(step: Step) -> str:
    """'375 MPa on the sample (29.5 kN)' for messages."""
    assert step.pressure is not None
    p = step.pressure
    return f"{p.pressure_mpa:.4g} MPa on the sample ({p.force_kn:.3g} kN)"


def _pressure_warnings(step: Step, press: PressConfig) -> list[str]:
    """A line pressure so low that the transducer's error is a large part of it."""
    line_mpa = _line_mpa(step, press)
    accuracy_mpa = TRANSDUCER_ACCURACY_FRAC * press.pressure_range_mpa
    if line_mpa is None or line_mpa >= LOW_LINE_FACTOR * accuracy_mpa:
        return []
    share = accuracy_mpa / line_mpa * 100.0
    return [f"{step.ref}: {_describe_target(step)} is only {line_mpa:.2f} MPa line pressure; the "
            f"transducer's +-{accuracy_mpa:.2g} MPa is +-{share:.0f} % of that"]


def _cool_errors(step: Step, press: PressConfig) -> list[str]:
    """A cool that waits for a target at or below ambient never ends."""
    thermals = list(zone_thermals(press).values())
    if step.kind is not StepKind.COOL or step.temp is None or step.end.kind is not EndKind.TARGET:
        return []
    ambient_c = thermals[0].ambient_c if thermals else press.physics.ambient_c
    if step.temp.max_c > ambient_c:
        return []
    return [f"{step.ref}: temp_c: {step.temp.max_c:g} C is not above ambient ({ambient_c:g} C): "
            f'with until = "target" the step would never end; cool to at least '
            f"{ambient_c + COOL_APPROACH_C:g} C"]


def _cool_warnings(step: Step, press: PressConfig) -> list[str]:
    """Cool targets close to ambient, and cooling rates faster than the platen cools."""
    thermals = list(zone_thermals(press).values())
    if step.kind is not StepKind.COOL or step.temp is None or not thermals:
        return []
    thermal = thermals[0]
    target_c, warnings = step.temp.max_c, []
    if thermal.ambient_c < target_c < thermal.ambient_c + COOL_APPROACH_C:
        warnings.append(f"{step.ref}: temp_c: {target_c:g} C is within {COOL_APPROACH_C:g} C of "
                        f"ambient ({thermal.ambient_c:g} C); natural cooling may never get there")
    natural = thermal.natural_cooling_rate_c_per_min(target_c)
    if step.ramp_c_per_min is not None and step.ramp_c_per_min > natural:
        warnings.append(f"{step.ref}: ramp_c_per_min: near {target_c:g} C the platens cool by "
                        f"themselves at only ~{natural:.1f} C/min; the ramp will lag")
    return warnings
