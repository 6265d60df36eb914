"""Read a recipe TOML file into a `Recipe`, reporting every problem at once.

`load_recipe(path)` is the only function here that touches the disk. Everything below it works on
text or on the decoded table, so tests and the host's `recipe check` feed it strings directly.
Problems name the place (`steps[3] (press)`), the key and what is allowed; all of them are raised
together as one `RecipeError` (a `ConfigError`). Press and material limits are checked later, by
`validate.py`, because they need the press config.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from firmware.recipe.fields import Fields
from firmware.recipe.materials import (
    Material,
    builtin_material,
    custom_material,
    custom_material_problems,
    same_material,
    suggest_material,
)
from firmware.recipe.model import (
    DEFAULT_BAND_C,
    BreatheSpec,
    EndCondition,
    EndKind,
    Geometry,
    OnTimeout,
    PressureTarget,
    PressureUnit,
    Recipe,
    RecipeError,
    Step,
    StepKind,
    ZoneTemps,
)
from firmware.recipe.schema import (
    CUSTOM_MATERIAL_KEYS,
    ENDS,
    TOP_KEYS,
    did_you_mean,
    stands_in_for,
    step_keys,
    unknown_key_message,
)
from firmware.recipe.sequence import check_sequence
from firmware.recipe.units import (
    area_m2_from_mm2,
    die_area_m2,
    force_from_pressure_kn,
    kn_from_tf,
    pressure_from_force_mpa,
)

_END_WORDS = {
    EndKind.TIME: "duration_min / duration_s",
    EndKind.TARGET: 'until = "target"',
    EndKind.SOAK: "soak_min / soak_s",
    EndKind.OPERATOR: 'prompt (until = "operator")',
}
_UNTIL = (EndKind.TARGET, EndKind.OPERATOR)  # the end conditions spelled with `until = "..."`
_PRESSURE_KEYS = ("pressure_mpa", "force_kn", "force_tf")
_TIME_KEYS = ("duration_min", "duration_s", "soak_min", "soak_s")
_NO_GEOMETRY = "the recipe has no die geometry: set die_diameter_mm or sample_area_mm2 at the top"


def load_recipe(path: str | Path) -> Recipe:
    """Read and parse the recipe file at `path` (RecipeError naming the file on any problem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(str(path), [f"cannot read the file: {exc}"]) from exc
    return parse_recipe(text, source=str(path))


def parse_recipe(text: str, *, source: str = "<recipe>") -> Recipe:
    """Parse recipe TOML `text`; `source` names the file in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(source, [f"not valid TOML: {exc}"]) from exc
    return recipe_from_dict(data, source=source)


def recipe_from_dict(data: dict[str, Any], *, source: str = "<recipe>") -> Recipe:
    """Build a `Recipe` from a decoded TOML table; raise one RecipeError listing every problem."""
    problems: list[str] = []
    top = Fields(data, "", problems)
    _check_keys(top, TOP_KEYS, "the top level")
    header = _header(top)
    geometry = _geometry(top)
    materials, customs = _materials(top)
    hinted = stands_in_for(data, ("die_diameter_mm", "sample_area_mm2"))
    steps, reliable = _steps(top, geometry, geometry_hinted=hinted)
    warnings: list[str] = []
    check_sequence(reliable, problems, warnings)
    if problems:
        raise RecipeError(source, problems)
    return Recipe(
        steps=steps, materials=materials, geometry=geometry, warnings=tuple(warnings),
        source=source, custom_materials=customs, **header,
    )


def _check_keys(t: Fields, allowed: frozenset[str], where: str) -> None:
    """Flag every key not in `allowed`, with a unit hint or did-you-mean."""
    for key, value in t.data.items():
        if key not in allowed:
            t.problem("", unknown_key_message(key, value, allowed, where))


def _header(top: Fields) -> dict[str, Any]:
    """Name, description, author and the optional powder data."""
    return {
        "name": top.text("name", required=True),
        "description": top.text("description"),
        "author": top.text("author"),
        "powder_mass_g": top.number("powder_mass_g", "g"),
        "theoretical_density_g_cm3": top.number("theoretical_density_g_cm3", "g/cm^3"),
    }


def _geometry(top: Fields) -> Geometry | None:
    """Die bore or sample area: exactly one, or none for a recipe that never presses."""
    if top.has("die_diameter_mm") and top.has("sample_area_mm2"):
        top.problem("die_diameter_mm", "give die_diameter_mm or sample_area_mm2, not both")
        return None
    diameter_mm = top.number("die_diameter_mm", "mm")
    if diameter_mm is not None:
        return Geometry(die_area_m2(diameter_mm), diameter_mm)
    area_mm2 = top.number("sample_area_mm2", "mm^2")
    return Geometry(area_m2_from_mm2(area_mm2)) if area_mm2 is not None else None


def _materials(top: Fields) -> tuple[tuple[Material, ...], tuple[Material, ...]]:
    """The materials in the die: built-ins named in `materials` plus every custom one."""
    customs = _custom_materials(top)
    names = top.data.get("materials", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        top.problem("materials", f'expected a list of names like ["Li", "LLZO"], got {names!r}')
        names = []
    found: dict[str, Material] = {m.key: m for m in customs}
    for name in names:
        material = _resolve(name, customs)
        if material is None:
            top.problem("materials", _unknown_material(name))
        else:
            found.setdefault(material.key, material)
    if not found:
        top.problem("materials", 'list what is in the die (e.g. materials = ["Li", "LLZO"]) '
                    "so its temperature limits are enforced")
    return tuple(found.values()), customs


def _resolve(name: str, customs: tuple[Material, ...]) -> Material | None:
    """A custom material by that name first (it may lower a built-in), else the built-in."""
    builtin = builtin_material(name)
    for custom in customs:
        if same_material(custom.name, name) or (builtin and custom.key == builtin.key):
            return custom
    return builtin


def _unknown_material(name: str) -> str:
    """Message for a material that is neither built in nor defined by the recipe."""
    close = suggest_material(name)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"unknown material {name!r}{hint}; define it under [[custom_materials]] with a limit"


def _custom_materials(top: Fields) -> tuple[Material, ...]:
    """Parse `[[custom_materials]]`: name, max_temp_c, reason, optional damage_temp_c, source."""
    raw = top.data.get("custom_materials", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        top.problem("custom_materials", "expected [[custom_materials]] tables")
        return ()
    customs: dict[str, Material] = {}
    for j, r in enumerate(raw):
        material = _custom(j, r, top.problems)
        if material is not None and material.key in customs:
            top.problem(f"custom_materials[{j}]", f"{material.name!r} is defined twice")
        elif material is not None:
            customs[material.key] = material
    return tuple(customs.values())


def _custom(j: int, raw: dict[str, Any], problems: list[str]) -> Material | None:
    """One custom material, or None (with problems) if it is incomplete or raises a limit."""
    t = Fields(raw, f"custom_materials[{j}]", problems)
    name = t.text("name", required=True)
    t.where = f"custom_materials[{j}] ({name})" if name else t.where
    _check_keys(t, CUSTOM_MATERIAL_KEYS, "a custom material")
    max_c = t.number("max_temp_c", "C", required=True, why=": the highest setpoint allowed")
    reason = t.text("reason", required=True)
    damage_c = t.number("damage_temp_c", "C")
    if not name or max_c is None or not reason:
        return None
    issues = custom_material_problems(name, max_c, damage_c)
    for issue in issues:
        t.problem("max_temp_c", issue)
    source = t.text("source", default="recipe")
    return None if issues else custom_material(name, max_c, reason, damage_c, source)


def _steps(
    top: Fields, geometry: Geometry | None, *, geometry_hinted: bool
) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
    """Every `[[steps]]` table in order, and the steps before the first one with a problem.

    Sequence checks run on that reliable prefix only: after a broken step the state they track
    (setpoints, pressure) is unknown, and guessing would report problems that are not there.
    """
    raw = top.data.get("steps")
    if not isinstance(raw, list) or not raw:
        top.problem("steps", "required: at least one [[steps]] table")
        return (), ()
    steps: list[Step] = []
    reliable: list[Step] | None = None
    for i, r in enumerate(raw):
        before = len(top.problems)
        step = _step(i, r, geometry, top.problems, geometry_hinted)
        if reliable is None and (step is None or len(top.problems) > before):
            reliable = list(steps)
        if step is not None:
            steps.append(step)
    return tuple(steps), tuple(steps if reliable is None else reliable)


def _step(
    i: int, raw: Any, geometry: Geometry | None, problems: list[str], geometry_hinted: bool
) -> Step | None:
    """One step; None (with problems) if its kind is unusable."""
    if not isinstance(raw, dict):
        problems.append(f"steps[{i}]: expected a [[steps]] table, got {raw!r}")
        return None
    kind = _kind(Fields(raw, f"steps[{i}]", problems))
    if kind is None:
        return None
    t = Fields(raw, f"steps[{i}] ({kind.value})", problems)
    _check_keys(t, step_keys(kind), f"a {kind.value} step")
    end = _end(t, kind)
    return Step(
        index=i, kind=kind, end=end, label=t.text("label"), temp=_temp(t, kind),
        ramp_c_per_min=t.number("ramp_c_per_min", "C/min"),
        pressure=_pressure(t, kind, geometry, geometry_hinted),
        pressure_rate_mpa_per_s=t.number("pressure_rate_mpa_per_s", "MPa/s on the sample"),
        band_c=t.number("band_c", "C") or DEFAULT_BAND_C,
        require_temp_in_band=t.flag("require_temp_in_band", True),
        under_pressure=t.flag("under_pressure", True), breathe=_breathe(t, kind),
    )


def _kind(t: Fields) -> StepKind | None:
    """The step's kind, or None with a problem listing the kinds."""
    raw = t.data.get("kind")
    allowed = [k.value for k in StepKind]
    if raw in allowed:
        return StepKind(raw)
    missing = "required" if raw is None else f"{raw!r} is not a step kind"
    hint = did_you_mean(raw, allowed) if isinstance(raw, str) else ""
    t.problem("kind", f"{missing}{hint}; allowed: {', '.join(allowed)}")
    return None


def _temp(t: Fields, kind: StepKind) -> ZoneTemps | None:
    """`temp_c = 150` or `temp_c = {top = 150, bottom = 148}`; required for heat and cool."""
    value = t.data.get("temp_c")
    if value is None:
        if kind in (StepKind.HEAT, StepKind.COOL) and not stands_in_for(t.data, ["temp_c"]):
            t.problem("temp_c", "required: the target in C, one number or {top = .., bottom = ..}")
        return None
    if not isinstance(value, dict):
        common = t.number("temp_c", "C")
        return ZoneTemps(common_c=common) if common is not None else None
    if not value:
        t.problem("temp_c", "empty zone table; give {zone = C, ...} or one number")
        return None
    zones = Fields(value, f"{t.where}: temp_c", t.problems)
    per_zone = [(z, zones.number(z, "C")) for z in value]
    if any(c is None for _, c in per_zone):
        return None
    return ZoneTemps(per_zone_c=tuple((z, c) for z, c in per_zone if c is not None))


def _pressure(
    t: Fields, kind: StepKind, geometry: Geometry | None, geometry_hinted: bool
) -> PressureTarget | None:
    """Exactly one of pressure_mpa (on the sample), force_kn, force_tf; press needs one."""
    given = [k for k in _PRESSURE_KEYS if k in t.data]
    if len(given) > 1:
        t.problem(given[0], f"more than one pressure target ({', '.join(given)}); give exactly "
                  "one of pressure_mpa (on the sample), force_kn, force_tf")
        return None
    if not given:
        if kind is StepKind.PRESS and not stands_in_for(t.data, _PRESSURE_KEYS):
            t.problem("pressure_mpa", "required: one of pressure_mpa (MPa on the sample), "
                      "force_kn or force_tf")
        return None
    key = given[0]
    value = t.number(key, {"pressure_mpa": "MPa", "force_kn": "kN", "force_tf": "tf"}[key])
    if value is None:
        return None
    if geometry is None:
        if not geometry_hinted:
            t.problem(key, _NO_GEOMETRY)
        return None
    return _target(PressureUnit(key), value, geometry.area_m2)


def _target(unit: PressureUnit, value: float, area_m2: float) -> PressureTarget:
    """Both SI forms of a pressure target, from whichever the author gave."""
    if unit is PressureUnit.SAMPLE_MPA:
        return PressureTarget(value, force_from_pressure_kn(value, area_m2), unit)
    force_kn = kn_from_tf(value) if unit is PressureUnit.FORCE_TF else value
    return PressureTarget(pressure_from_force_mpa(force_kn, area_m2), force_kn, unit)


def _breathe(t: Fields, kind: StepKind) -> BreatheSpec | None:
    """cycles, release_to_mpa and dwell_s of a breathe step (all required)."""
    if kind is not StepKind.BREATHE:
        return None
    cycles = t.integer("cycles", required=True)
    low_mpa = t.number("release_to_mpa", "MPa on the sample", required=True, inclusive=True)
    dwell_s = t.number("dwell_s", "s", required=True, inclusive=True)
    if cycles is None or low_mpa is None or dwell_s is None:
        return None
    return BreatheSpec(cycles, low_mpa, dwell_s)


def _end(t: Fields, kind: StepKind) -> EndCondition:
    """The step's end condition: exactly one of those its kind allows."""
    allowed = ENDS[kind]
    if not allowed:
        return EndCondition(EndKind.CYCLES if kind is StepKind.BREATHE else EndKind.RELEASED)
    found = _ends_given(t, allowed)
    words = "; ".join(_END_WORDS[e] for e in allowed)
    if not found and not stands_in_for(t.data, _TIME_KEYS):
        t.problem("end condition", f"missing: a {kind.value} step ends on one of: {words}")
    elif len(found) > 1:
        given = ", ".join(_END_WORDS[e] for e in found)
        t.problem("end condition", f"more than one ({given}); give exactly one of: {words}")
    elif found[0] not in allowed:
        t.problem("until", f"a {kind.value} step cannot end on {found[0].value}; "
                  f"use one of: {words}")
    end = found[0] if len(found) == 1 and found[0] in allowed else EndKind.TIME
    return _end_details(t, end)


def _ends_given(t: Fields, allowed: tuple[EndKind, ...]) -> list[EndKind]:
    """Which end conditions the step states (by the keys present)."""
    found = []
    if t.has("duration_min", "duration_s"):
        found.append(EndKind.TIME)
    if t.has("soak_min", "soak_s"):
        found.append(EndKind.SOAK)
    until = t.data.get("until")
    if until in ("target", "operator"):
        found.append(EndKind(until))
    elif until is not None:
        options = " or ".join(f'"{e.value}"' for e in allowed if e in _UNTIL)
        t.problem("until", f"{until!r} is not allowed; use {options}")
    if t.has("prompt") and EndKind.OPERATOR not in found:
        found.append(EndKind.OPERATOR)  # a prompt is something to confirm: it implies the end
    return found


def _end_details(t: Fields, end: EndKind) -> EndCondition:
    """Durations, max wait, timeout action and prompt for one end condition."""
    waits = end in (EndKind.TARGET, EndKind.SOAK)
    if t.has("max_wait_min", "max_wait_s") and not waits:
        t.problem("max_wait_min", 'only with until = "target" or soak_min / soak_s')
    max_wait_s = t.time_s("max_wait")
    if t.has("on_timeout") and max_wait_s is None:
        t.problem("on_timeout", "has no effect without max_wait_min / max_wait_s")
    prompt = t.text("prompt") or None
    if end is EndKind.OPERATOR and prompt is None:
        t.problem("prompt", 'required with until = "operator": what the operator must confirm')
    return EndCondition(
        kind=end, duration_s=t.time_s("duration"), soak_s=t.time_s("soak"),
        max_wait_s=max_wait_s if waits else None,
        on_timeout=t.choice("on_timeout", OnTimeout, OnTimeout.ABORT), prompt=prompt,
    )
