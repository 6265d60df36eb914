"""Impossible step orders are errors naming the step and field; harmless oddities are warnings."""

import pytest

from firmware.recipe.model import RecipeError
from tests.recipe_support import COOL_60, HEAT_150, PRESS_375, RELEASE, recipe, step


def problems(steps: str, header: str | None = None) -> tuple[str, ...]:
    """The problems a recipe raises (it must raise)."""
    with pytest.raises(RecipeError) as info:
        recipe(steps) if header is None else recipe(steps, header)
    return info.value.problems


def test_press_before_any_die_geometry():
    [problem] = problems(PRESS_375, 'name = "t"\nmaterials = ["LGPS"]\n')
    assert problem == (
        "steps[0] (press): pressure_mpa: the recipe has no die geometry: "
        "set die_diameter_mm or sample_area_mm2 at the top"
    )


def test_die_geometry_is_not_needed_without_pressure():
    assert recipe(HEAT_150 + COOL_60, 'name = "t"\nmaterials = ["LGPS"]\n').geometry is None


def test_hold_with_nothing_held():
    [problem] = problems(step("hold", duration_min=5))
    assert problem.startswith("steps[0] (hold): nothing to hold")


def test_soak_hold_needs_a_temperature():
    [problem] = problems(PRESS_375 + step("hold", soak_min=5))
    assert problem.startswith("steps[1] (hold): soak_min: no temperature setpoint")


def test_cool_with_a_target_above_the_current_setpoint():
    [problem] = problems(HEAT_150 + step("cool", temp_c=180, until="target"))
    assert problem.startswith("steps[1] (cool): temp_c: 180 C is above the current setpoint 150 C")


def test_cool_before_any_heat():
    [problem] = problems(COOL_60)
    assert problem == "steps[0] (cool): temp_c: nothing to cool: no heat step comes before it"


def test_heat_that_lowers_the_temperature():
    [problem] = problems(HEAT_150 + step("heat", temp_c=120, until="target"))
    assert problem.startswith("steps[1] (heat): temp_c: 120 C is below the current setpoint 150 C")


def test_per_zone_heat_checks_each_zone():
    later = step("heat", temp_c={"top": 160, "bottom": 140}, until="target")
    [problem] = problems(HEAT_150 + later)
    assert "140 C (zone bottom) is below the current setpoint 150 C" in problem


def test_breathe_with_no_pressure():
    [problem] = problems(step("breathe", cycles=2, release_to_mpa=0, dwell_s=5))
    assert problem.startswith("steps[0] (breathe): pressure_mpa: nothing to breathe from")


def test_breathe_must_release_below_its_pressure():
    [problem] = problems(PRESS_375 + step("breathe", cycles=2, release_to_mpa=400, dwell_s=5))
    assert problem.startswith("steps[1] (breathe): release_to_mpa: 400 MPa is not below")


def test_release_when_never_pressed_is_only_a_warning():
    r = recipe(HEAT_150 + RELEASE + COOL_60)
    assert r.warnings == ("steps[1] (release): nothing to release (no step has pressed yet)",)


def test_release_after_cooling_released_is_only_a_warning():
    r = recipe(
        HEAT_150
        + PRESS_375
        + step("cool", temp_c=60, under_pressure=False, until="target")
        + RELEASE
    )
    assert r.warnings == ("steps[3] (release): nothing to release (already released)",)


def test_ending_under_pressure_is_a_warning():
    assert "ends with 375 MPa on the sample" in recipe(PRESS_375).warnings[0]


def test_ending_hot_is_a_warning():
    assert "ends hot" in recipe(HEAT_150 + PRESS_375 + RELEASE).warnings[0]


def test_staged_pressure_down_is_allowed():
    steps = PRESS_375 + step("press", pressure_mpa=125, until="target") + RELEASE
    assert [s.pressure.pressure_mpa for s in recipe(steps).steps[:2]] == [375, 125]


def test_no_sequence_guesswork_after_a_broken_step():
    [problem] = problems(step("heat", temp_c="hot", until="target") + COOL_60)
    assert problem.startswith("steps[0] (heat): temp_c")
