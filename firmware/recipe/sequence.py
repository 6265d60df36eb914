"""Sequence checks: steps that make no sense after the steps before them.

Walks the steps with the setpoints they leave behind (temperature per zone, pressure on the sample)
and reports impossible orders: a hold with nothing to hold, a cool from no heat or to a hotter
target, a heat that lowers the temperature, a breathe from no pressure. A release with nothing to
release is only a warning: it is harmless, and a recipe may release defensively.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.recipe.model import EndKind, Step, StepKind, ZoneTemps


@dataclass
class _State:
    """Setpoints in force after the steps walked so far."""

    temp: ZoneTemps | None = None
    pressure_mpa: float = 0.0
    pressed: bool = False
    cooled_since_heat: bool = True


def check_sequence(steps: tuple[Step, ...], problems: list[str], warnings: list[str]) -> None:
    """Append a problem for every impossible step order and a warning for harmless oddities."""
    state = _State()
    for step in steps:
        if not _complete(step):
            return  # its own problems are reported; after it the setpoints are unknown
        _CHECKS[step.kind](step, state, problems, warnings)
    if state.pressure_mpa > 0:
        warnings.append(f"the recipe ends with {state.pressure_mpa:g} MPa on the sample; add a "
                        "release step so the release rate is the recipe's choice")
    if not state.cooled_since_heat:
        warnings.append("the recipe ends hot (no cool step after the last heat); the sample "
                        "comes out at temperature")


def _complete(step: Step) -> bool:
    """True if the step has the targets its kind needs (a step with problems may not)."""
    if step.kind in (StepKind.HEAT, StepKind.COOL):
        return step.temp is not None
    if step.kind is StepKind.PRESS:
        return step.pressure is not None
    return step.kind is not StepKind.BREATHE or step.breathe is not None


def zone_pairs(old: ZoneTemps, new: ZoneTemps) -> list[tuple[str, float, float]]:
    """(zone, old C, new C) for each zone both setpoints define; 'all' for two common ones."""
    if old.common_c is not None and new.common_c is not None:
        return [("all", old.common_c, new.common_c)]
    zones = dict.fromkeys((*old.zone_names, *new.zone_names))
    pairs = [(z, old.for_zone(z), new.for_zone(z)) for z in zones]
    return [(z, o, n) for z, o, n in pairs if o is not None and n is not None]


def _zone_text(zone: str) -> str:
    """' (zone top)' or '' for a common setpoint."""
    return "" if zone == "all" else f" (zone {zone})"


def _heat(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """A heat step must raise at least one zone and lower none."""
    assert step.temp is not None
    if state.temp is not None:
        pairs = zone_pairs(state.temp, step.temp)
        for zone, old, new in pairs:
            if new < old:
                problems.append(f"{step.ref}: temp_c: {new:g} C{_zone_text(zone)} is below the "
                                f"current setpoint {old:g} C; lowering is a cool step")
        if pairs and all(new == old for _, old, new in pairs):
            problems.append(f"{step.ref}: temp_c: already the setpoint ({step.temp.describe()} C);"
                            " to wait at temperature use a hold step with soak_min")
    state.temp = step.temp
    state.cooled_since_heat = False


def _cool(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """A cool step needs a setpoint to cool from and must lower it."""
    assert step.temp is not None
    if state.temp is None:
        problems.append(f"{step.ref}: temp_c: nothing to cool: no heat step comes before it")
    else:
        pairs = zone_pairs(state.temp, step.temp)
        for zone, old, new in pairs:
            if new > old:
                problems.append(f"{step.ref}: temp_c: {new:g} C{_zone_text(zone)} is above the "
                                f"current setpoint {old:g} C; a cool step only lowers (use heat)")
        if pairs and all(new == old for _, old, new in pairs):
            problems.append(f"{step.ref}: temp_c: already the setpoint ({step.temp.describe()} C);"
                            " a cool step must lower it")
    if not step.under_pressure:
        state.pressure_mpa = 0.0
    state.temp = step.temp
    state.cooled_since_heat = True


def _press(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """A press step sets the pressure (higher or lower than before: staged profiles)."""
    assert step.pressure is not None
    state.pressure_mpa = step.pressure.pressure_mpa
    state.pressed = True


def _hold(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """A hold needs something to hold; a soak needs a temperature."""
    if state.temp is None and state.pressure_mpa == 0:
        problems.append(f"{step.ref}: nothing to hold: no temperature setpoint and no pressure "
                        "before this step; use a wait step to pause")
    elif step.end.kind is EndKind.SOAK and state.temp is None:
        problems.append(f"{step.ref}: soak_min: no temperature setpoint to soak at; use "
                        "duration_min to hold pressure for a time")


def _breathe(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """Breathing cycles between release_to_mpa and the breathe pressure (its own or the current)."""
    level = step.pressure.pressure_mpa if step.pressure else state.pressure_mpa
    if level == 0:
        problems.append(f"{step.ref}: pressure_mpa: nothing to breathe from: no pressure before "
                        "this step; give pressure_mpa (or force_kn / force_tf)")
    elif step.breathe is not None and step.breathe.release_to_mpa >= level:
        problems.append(f"{step.ref}: release_to_mpa: {step.breathe.release_to_mpa:g} MPa is not "
                        f"below the breathe pressure {level:g} MPa")
    state.pressure_mpa = level
    state.pressed = state.pressed or level > 0


def _release(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """Release to zero; releasing nothing is harmless, so only a warning."""
    if state.pressure_mpa == 0:
        why = "already released" if state.pressed else "no step has pressed yet"
        warnings.append(f"{step.ref}: nothing to release ({why})")
    state.pressure_mpa = 0.0


def _wait(step: Step, state: _State, problems: list[str], warnings: list[str]) -> None:
    """A wait keeps every setpoint; nothing can be wrong with its place."""


_CHECKS = {
    StepKind.HEAT: _heat, StepKind.COOL: _cool, StepKind.PRESS: _press, StepKind.HOLD: _hold,
    StepKind.BREATHE: _breathe, StepKind.RELEASE: _release, StepKind.WAIT: _wait,
}
