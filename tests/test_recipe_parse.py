"""Recipe format: what parses, and messages that name the step, the field and what is allowed."""

import dataclasses

import pytest

from firmware.errors import ConfigError
from firmware.recipe.model import EndKind, OnTimeout, PressureUnit, RecipeError, StepKind
from firmware.recipe.parse import load_recipe, parse_recipe
from tests.recipe_support import HEAT_150, PRESS_375, RELEASE, recipe, step


def problems(steps: str, header: str | None = None) -> tuple[str, ...]:
    """The problems a recipe raises (it must raise)."""
    with pytest.raises(RecipeError) as info:
        recipe(steps) if header is None else recipe(steps, header)
    return info.value.problems


def test_steps_parse_into_frozen_dataclasses_with_enum_kinds():
    r = recipe(HEAT_150 + PRESS_375)
    assert [s.kind for s in r.steps] == [StepKind.HEAT, StepKind.PRESS]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.steps[0].index = 3


def test_pressure_target_carries_sample_mpa_and_force():
    [s] = recipe(PRESS_375).steps
    assert (s.pressure.pressure_mpa, round(s.pressure.force_kn, 1)) == (375, 29.5)


def test_force_in_tonnes_is_converted_to_sample_pressure():
    [s] = recipe(
        step("press", force_tf=1, until="target"),
        'name="t"\ndie_diameter_mm=13\nmaterials=["LGPS"]\n',
    ).steps
    assert (s.pressure.given_as, round(s.pressure.pressure_mpa, 1)) == (PressureUnit.FORCE_TF, 73.9)


def test_per_zone_temperatures():
    [s] = recipe(step("heat", temp_c={"top": 150, "bottom": 148}, until="target")).steps
    assert (s.temp.for_zone("top"), s.temp.for_zone("bottom"), s.temp.max_c) == (150, 148, 150)


def test_guaranteed_soak_with_max_wait_and_timeout_action():
    [s] = recipe(
        step("heat", temp_c=150, soak_min=5, band_c=1.5, max_wait_min=20, on_timeout="hold")
    ).steps
    assert (s.end.kind, s.end.soak_s, s.band_c, s.end.max_wait_s, s.end.on_timeout) == (
        EndKind.SOAK,
        300,
        1.5,
        1200,
        OnTimeout.HOLD,
    )


def test_press_waits_for_temperature_band_unless_the_step_opts_out():
    steps = recipe(
        PRESS_375 + step("press", pressure_mpa=400, require_temp_in_band=False, until="target")
    ).steps
    assert [s.require_temp_in_band for s in steps] == [True, False]


def test_prompt_makes_an_operator_wait():
    [s] = recipe(step("wait", prompt="Add the cathode powder.")).steps
    assert (s.end.kind, s.end.prompt) == (EndKind.OPERATOR, "Add the cathode powder.")


def test_breathe_step():
    s = recipe(PRESS_375 + step("breathe", cycles=3, release_to_mpa=50, dwell_s=10)).steps[1]
    assert (s.breathe.cycles, s.breathe.release_to_mpa, s.breathe.dwell_s) == (3, 50, 10)


def test_sample_area_instead_of_die():
    r = recipe(
        step("press", pressure_mpa=8, until="target"),
        'name="t"\nsample_area_mm2=1600\nmaterials=["PEO"]\n',
    )
    assert round(r.steps[0].pressure.force_kn, 2) == 12.8


def test_full_density_thickness():
    header = (
        'name="t"\ndie_diameter_mm=10\npowder_mass_g=0.157\ntheoretical_density_g_cm3=2\n'
        'materials=["LGPS"]\n'
    )
    assert recipe(PRESS_375, header).full_density_thickness_mm == pytest.approx(1.0, abs=0.001)


@pytest.mark.parametrize(
    ("key", "value", "use"),
    [
        ("temp_f", 300, "use temp_c"),
        ("pressure_bar", 3750, "use pressure_mpa"),
        ("pressure_psi", 54000, "use pressure_mpa"),
        ("force_lbf", 6600, "use force_kn"),
        ("gauge_bar", 93, "line pressure"),
        ("duration_h", 1, "use duration_min"),
    ],
)
def test_wrong_units_name_the_si_key(key, value, use):
    [problem] = problems(step("press", until="target", pressure_mpa=375, **{key: value}))
    assert problem.startswith(f"steps[0] (press): {key}: not a recipe key") and use in problem


def test_wrong_unit_message_shows_the_converted_value():
    [problem] = problems(step("heat", temp_f=302, until="target"))
    assert "302 here would be 150" in problem


def test_unknown_key_gets_did_you_mean():
    [problem] = problems(step("heat", temp_c=150, until="target", ramp_c_per_mn=5))
    assert "steps[0] (heat): ramp_c_per_mn: unknown key (did you mean 'ramp_c_per_min'?)" in problem


def test_key_of_another_step_kind_says_where_it_belongs():
    [problem] = problems(step("heat", temp_c=150, until="target", under_pressure=True))
    assert "under_pressure: not allowed in a heat step; it belongs in cool steps" in problem


def test_unknown_kind_lists_the_kinds():
    [problem] = problems(step("heet", temp_c=150))
    assert (
        "steps[0]: kind: 'heet' is not a step kind (did you mean 'heat'?); allowed: heat" in problem
    )


def test_more_than_one_pressure_target():
    [problem] = problems(step("press", pressure_mpa=375, force_kn=29.5, until="target"))
    assert problem.startswith("steps[0] (press): pressure_mpa: more than one pressure target")


def test_press_needs_a_pressure_target():
    [problem] = problems(step("press", until="target"))
    assert problem.startswith("steps[0] (press): pressure_mpa: required")


@pytest.mark.parametrize(
    ("kind", "fields", "allowed"),
    [
        ("heat", {"temp_c": 150}, 'until = "target"; soak_min / soak_s; duration_min'),
        ("press", {"pressure_mpa": 100}, 'until = "target"; duration_min / duration_s; prompt'),
        ("cool", {"temp_c": 60}, 'until = "target"; duration_min / duration_s; prompt'),
    ],
)
def test_missing_end_condition_says_what_ends_the_kind(kind, fields, allowed):
    steps = HEAT_150 + PRESS_375 + step(kind, **fields)
    [problem] = problems(steps)
    assert problem.startswith(f"steps[2] ({kind}): end condition: missing") and allowed in problem


def test_two_end_conditions():
    [problem] = problems(step("heat", temp_c=150, until="target", duration_min=5))
    assert "steps[0] (heat): end condition: more than one" in problem


def test_end_condition_the_kind_does_not_allow():
    [problem] = problems(HEAT_150 + step("hold", until="target"))
    assert "steps[1] (hold): until: a hold step cannot end on target" in problem


def test_operator_end_needs_a_prompt():
    [problem] = problems(step("wait", until="operator"))
    assert problem.startswith("steps[0] (wait): prompt: required")


def test_on_timeout_needs_a_max_wait():
    [problem] = problems(step("heat", temp_c=150, until="target", on_timeout="continue"))
    assert problem.startswith("steps[0] (heat): on_timeout: has no effect without max_wait")


def test_bad_on_timeout_value_lists_the_choices():
    [problem] = problems(
        step("heat", temp_c=150, until="target", max_wait_min=5, on_timeout="panic")
    )
    assert 'on_timeout: \'panic\' is not allowed; use one of "abort", "continue", "hold"' in problem


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"ramp_c_per_min": -5}, "ramp_c_per_min: must be > 0 C/min, got -5"),
        ({"ramp_c_per_min": "fast"}, "ramp_c_per_min: expected a number in C/min, got 'fast'"),
        ({"band_c": True}, "band_c: expected a number in C, got True"),
    ],
)
def test_bad_numbers_name_the_unit(fields, expected):
    [problem] = problems(step("heat", temp_c=150, until="target", **fields))
    assert problem == f"steps[0] (heat): {expected}"


def test_every_problem_is_reported_at_once():
    bad = step("heat", temp_f=300, until="target") + step("press", force_lbf=1, until="target")
    found = problems(
        bad + step("cool", temp_c=60), 'name = "t"\nmaterials = ["LGPS"]\nunknown = 1\n'
    )
    assert [p.split(":")[0] for p in found] == [
        "unknown",
        "steps[0] (heat)",
        "steps[1] (press)",
        "steps[2] (cool)",
    ]


def test_recipe_error_is_a_config_error_naming_the_file():
    with pytest.raises(ConfigError, match=r"^test.toml: 1 problem:\n  - steps\[0\]"):
        recipe(step("heat", temp_c=150))


def test_top_level_unit_hint():
    [problem] = problems(PRESS_375, 'name = "t"\ndie_diameter_in = 0.5\nmaterials = ["LGPS"]\n')
    assert (
        "die_diameter_in: not a recipe key; use die_diameter_mm (x25.4) (0.5 here would be 12.7)"
        in problem
    )


def test_invalid_toml_is_a_recipe_error():
    with pytest.raises(RecipeError, match="not valid TOML"):
        parse_recipe("name = ", source="x.toml")


def test_load_recipe_reads_the_file(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('name = "t"\nmaterials = ["LGPS"]\n' + HEAT_150)
    assert load_recipe(path).source == str(path)


def test_release_is_parsed_without_an_end_condition():
    [_, s] = recipe(PRESS_375 + RELEASE).steps
    assert s.end.kind is EndKind.RELEASED
