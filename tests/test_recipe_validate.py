"""Validation against material limits (with or without a press) and against a press's limits."""

import dataclasses

import pytest

from firmware.recipe.model import RecipeError
from firmware.recipe.validate import OVERSHOOT_MARGIN_C, check_recipe, validate_recipe
from tests.recipe_support import COOL_60, RELEASE, model_press, recipe, step, with_sim

LI = 'name = "t"\ndie_diameter_mm = 13\nmaterials = ["Li", "LLZO"]\n'


def heat(temp_c: object, **fields: object) -> str:
    """A heat step ending on its target, plus a cool so the recipe ends cold."""
    return step("heat", temp_c=temp_c, until="target", **fields) + step(
        "cool", temp_c=40, until="target"
    )


def errors(steps: str, header: str | None = None, press=None) -> tuple[str, ...]:
    """Validation errors of a recipe that parses."""
    r = recipe(steps) if header is None else recipe(steps, header)
    return check_recipe(r, press).errors


# Lithium: 170 C is materials.md's setpoint limit and already includes the overshoot margin
# (180.5 C melt - 170 C = 10.5 C), so 170 is accepted and anything above it is refused.
@pytest.mark.parametrize("press", [None, model_press()], ids=["no press", "press"])
def test_lithium_at_170c_is_accepted(press):
    assert errors(heat(170), LI, press) == ()


@pytest.mark.parametrize("temp_c", [170.5, 171, 180.5])
def test_lithium_above_170c_is_refused(temp_c):
    [error] = errors(heat(temp_c), LI)
    assert error.startswith(
        f"steps[0] (heat): temp_c: {temp_c:g} C exceeds the limit of Li metal "
        "(170 C: melts at 180.5 C"
    )


def test_lithium_limit_applies_to_the_hotter_zone():
    [error] = errors(heat({"top": 168, "bottom": 171}), LI)
    assert "171 C exceeds the limit of Li metal" in error


def test_every_exceeded_material_is_named():
    header = 'name = "t"\nmaterials = ["Li", "PVDF", "LLZO"]\n'
    assert [e.split(" of ")[1][:8] for e in errors(heat(175), header)] == ["PVDF / P", "Li metal"]


def test_validate_recipe_raises_one_error_listing_all():
    r = recipe(heat(175) + step("heat", temp_c=180, until="target"), LI)
    with pytest.raises(RecipeError, match=r"2 problems:\n  - steps\[0\].*\n  - steps\[2\]"):
        validate_recipe(r)


def test_validate_recipe_returns_warnings():
    assert validate_recipe(recipe(heat(150) + RELEASE), None) == (
        "steps[2] (release): nothing to release (no step has pressed yet)",
    )


# Press limits are trip thresholds: a setpoint must leave OVERSHOOT_MARGIN_C below them.
def test_setpoint_within_overshoot_margin_of_the_press_limit_is_accepted():
    assert errors(heat(300 - OVERSHOOT_MARGIN_C), press=model_press()) == ()


def test_setpoint_closer_than_the_overshoot_margin_is_refused():
    [error] = errors(heat(299), press=model_press())
    assert (
        "299 C on zones 'top', 'bottom' leaves less than 2 C for overshoot below "
        "the press limit 300 C" in error
    )


def test_press_wide_temperature_limit_applies_too():
    [error] = errors(heat(250), press=model_press(max_temp_c=200))
    assert "press limit 200 C; at most 198 C" in error


def test_per_zone_target_must_name_heated_zones():
    found = errors(heat({"top": 150, "botom": 150}), press=model_press())
    assert [e.split(": ", 2)[2][:24] for e in found] == [
        "'botom' is not a heated ",
        "no setpoint for zone 'bo",
    ]


# Ramp rates: 2 kW into 4.9 kJ/K (platen + heater core, from backend.sim) less losses at the target.
def test_ramp_the_heaters_can_deliver_is_accepted():
    assert errors(heat(150, ramp_c_per_min=15), press=model_press()) == ()


def test_ramp_faster_than_the_heaters_is_refused_with_the_estimate():
    [error] = errors(heat(150, ramp_c_per_min=30), press=model_press())
    assert (
        "ramp_c_per_min: 30 C/min is more than zones 'top', 'bottom' can deliver "
        "near 150 C (about 19.1 C/min" in error
    )


def test_ramp_limit_uses_the_configured_heat_capacity():
    aluminium = with_sim(model_press(), platen_heat_capacity_j_per_k=2900.0)
    assert errors(heat(150, ramp_c_per_min=25), press=aluminium) == ()


def test_target_the_heater_cannot_hold_is_refused():
    press = model_press()
    weak = dataclasses.replace(
        press, zones=tuple(dataclasses.replace(z, heater_w=300.0) for z in press.zones)
    )
    assert "zones 'top', 'bottom' cannot reach 250 C" in errors(heat(250), press=weak)[0]


# Pressure: force and line pressure for this die against the press limits.
def die(mm: float) -> str:
    """A header with a die of `mm` and an unrated material (no temperature in these tests)."""
    return f'name = "t"\ndie_diameter_mm = {mm}\nmaterials = ["LLZO"]\n'


def test_700mpa_on_13mm_die_is_93kn_within_200kn():
    assert (
        errors(step("press", pressure_mpa=700, until="target") + RELEASE, die(13), model_press())
        == ()
    )


def test_700mpa_on_20mm_die_exceeds_200kn():
    [error] = errors(
        step("press", pressure_mpa=700, until="target") + RELEASE, die(20), model_press()
    )
    assert (
        error == "steps[0] (press): pressure_mpa: 700 MPa on the sample (220 kN) needs 219.9 kN, "
        "above the press limit 200 kN"
    )


def test_force_in_tonnes_is_checked_as_force():
    error = errors(step("press", force_tf=25, until="target") + RELEASE, die(20), model_press())[0]
    assert (
        error.startswith("steps[0] (press): force_tf:")
        and "245.2 kN, above the press limit" in error
    )


def test_line_pressure_limit():
    [error] = errors(
        step("press", pressure_mpa=750, until="target") + RELEASE,
        die(20),
        model_press(max_force_kn=300),
    )
    assert "needs 74.4 MPa line pressure, above the press limit 70 MPa" in error


def test_line_pressure_beyond_the_transducer_range():
    press = model_press(max_force_kn=300, max_line_pressure_mpa=80)
    [error] = errors(step("press", pressure_mpa=750, until="target") + RELEASE, die(20), press)
    assert "above the transducer's range 70 MPa" in error


def test_breathe_pressure_is_checked_too():
    breathe = step("breathe", pressure_mpa=700, cycles=1, release_to_mpa=100, dwell_s=5)
    assert (
        "steps[0] (breathe): pressure_mpa" in errors(breathe + RELEASE, die(20), model_press())[0]
    )


def test_without_a_press_only_materials_are_checked():
    assert errors(step("press", pressure_mpa=5000, until="target") + RELEASE, die(20)) == ()


def test_low_line_pressure_warns_about_transducer_error():
    r = recipe(step("press", pressure_mpa=10, until="target") + RELEASE, die(13))
    assert "only 0.42 MPa line pressure" in check_recipe(r, model_press()).warnings[0]


def test_cool_to_ambient_until_target_never_ends():
    [error] = errors(
        step("heat", temp_c=150, until="target") + step("cool", temp_c=25, until="target"),
        press=model_press(),
    )
    assert error.startswith("steps[1] (cool): temp_c: 25 C is not above ambient (25 C)")


def test_cool_close_to_ambient_is_a_warning():
    r = recipe(step("heat", temp_c=150, until="target") + step("cool", temp_c=28, until="target"))
    assert "within 5 C of ambient" in check_recipe(r, model_press()).warnings[0]


def test_cooling_ramp_faster_than_natural_cooling_is_a_warning():
    r = recipe(
        step("heat", temp_c=150, until="target")
        + step("cool", temp_c=60, ramp_c_per_min=5, until="target")
    )
    assert "cool by themselves at only" in check_recipe(r, model_press()).warnings[0]


def test_cool_step_targets_are_material_checked_as_well():
    assert errors(step("heat", temp_c=150, until="target") + COOL_60, LI, model_press()) == ()
