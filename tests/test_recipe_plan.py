"""The plan: setpoints in every unit, estimated durations and the total."""

import json

import pytest

from firmware.recipe.plan import format_plan, plan_recipe, pump_line_rate_mpa_per_s
from tests.recipe_support import COOL_60, PRESS_375, RELEASE, model_press, recipe, step


def durations(steps: str, press=None) -> list[float]:
    """Estimated seconds of each step."""
    return [s.duration_s for s in plan_recipe(recipe(steps), press).steps]


def test_heat_at_its_ramp_rate():
    assert durations(step("heat", temp_c=125, ramp_c_per_min=10, until="target")) == [600]


def test_heat_without_ramp_at_full_power_matches_plant_md():
    [heat_s] = durations(step("heat", temp_c=150, until="target"), model_press())
    assert heat_s == pytest.approx(
        370 - 15, abs=15
    )  # plant.md: TC reads 150 C after ~370 s, lags ~15 s


def test_ramp_faster_than_the_heater_is_estimated_at_the_heater_rate():
    fast, slow = (step("heat", temp_c=150, ramp_c_per_min=r, until="target") for r in (100, 1000))
    assert durations(fast) == durations(slow)


def test_soak_adds_its_time():
    soak, target = (
        durations(step("heat", temp_c=125, ramp_c_per_min=10, **e))
        for e in ({"soak_min": 5}, {"until": "target"})
    )
    assert soak[0] - target[0] == 300


def test_timed_step_lasts_its_duration():
    assert durations(step("heat", temp_c=125, duration_min=3)) == [180]


def test_pressure_ramp_at_its_rate():
    assert durations(
        step("press", pressure_mpa=375, pressure_rate_mpa_per_s=5, until="target")
    ) == [75]


def test_pressure_without_rate_at_the_pump_rate():
    [press_s] = durations(PRESS_375, model_press())
    assert press_s == pytest.approx(9.3 / 32, rel=0.05)


def test_pump_rate_matches_plant_md():
    assert pump_line_rate_mpa_per_s(model_press()) == pytest.approx(32, rel=0.05)


def test_natural_cooling_150_to_60():
    steps = step("heat", temp_c=150, until="target") + COOL_60
    assert durations(steps)[1] / 60 == pytest.approx(33.8, abs=0.1)


def test_cooling_ramp_slower_than_natural_sets_the_time():
    steps = step("heat", temp_c=150, until="target") + step(
        "cool", temp_c=60, ramp_c_per_min=1, until="target"
    )
    assert durations(steps)[1] == 90 * 60


def test_breathe_cycles():
    steps = PRESS_375 + step(
        "breathe", cycles=3, release_to_mpa=175, dwell_s=10, pressure_rate_mpa_per_s=10
    )
    assert durations(steps)[1] == 3 * 2 * (20 + 10)


def test_operator_waits_count_zero_and_are_counted():
    plan = plan_recipe(recipe(step("wait", prompt="Load the die.") + step("wait", duration_s=30)))
    assert ([s.duration_s for s in plan.steps], plan.operator_waits) == ([0, 30], 1)


def test_total_is_the_sum_and_steps_chain():
    plan = plan_recipe(
        recipe(
            step("heat", temp_c=125, ramp_c_per_min=10, soak_min=5) + PRESS_375 + COOL_60 + RELEASE
        )
    )
    assert (
        plan.total_s == pytest.approx(sum(s.duration_s for s in plan.steps)) == plan.steps[-1].end_s
    )


def test_pressure_in_every_unit():
    [s] = plan_recipe(recipe(PRESS_375), model_press()).steps
    assert (s.pressure_mpa, round(s.force_kn, 1), round(s.force_tf, 2), round(s.line_bar, 1)) == (
        375,
        29.5,
        3.0,
        93.0,
    )


def test_line_pressure_only_with_a_press():
    assert plan_recipe(recipe(PRESS_375)).steps[0].line_bar is None


def test_per_zone_setpoints_on_the_press_zones():
    [s] = plan_recipe(recipe(step("heat", temp_c=150, until="target")), model_press()).steps
    assert s.temps_c == {"top": 150, "bottom": 150}


def test_to_dict_is_json():
    data = json.loads(json.dumps(plan_recipe(recipe(PRESS_375 + RELEASE), model_press()).to_dict()))
    assert (data["steps"][0]["kind"], data["press_id"], data["total_s"] > 0) == (
        "press",
        "test-press",
        True,
    )


def test_format_plan_has_rows_and_total():
    text = format_plan(
        plan_recipe(recipe(step("heat", temp_c=125, ramp_c_per_min=10, until="target")))
    )
    assert "  0  heat     125" in text and "Total 0:10:00 (h:mm:ss)" in text
