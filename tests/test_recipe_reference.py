"""The reference recipes in recipes/: each parses, validates on the reference press, is short."""

from pathlib import Path

import pytest

from firmware.presets import reference_sim_config
from firmware.recipe.materials import builtin_material
from firmware.recipe.parse import load_recipe
from firmware.recipe.plan import format_plan, plan_recipe
from firmware.recipe.validate import validate_recipe
from tests.recipe_support import model_press

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.toml"))
MAX_TOTAL_MIN = 90  # a reference recipe is an example to try, not a day's work


def test_the_five_reference_recipes_exist():
    assert {p.stem for p in RECIPES} >= {
        "lgps_hotpress_150c",
        "li_llzo_li_170c",
        "li6ps5cl_three_stage",
        "peo_litfsi_film_100c",
        "composite_cathode_gentle",
    }


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
@pytest.mark.parametrize("press", [reference_sim_config, model_press], ids=["preset", "model"])
def test_reference_recipe_validates(path, press):
    validate_recipe(load_recipe(path), press())


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_reference_recipe_total_is_modest(path):
    plan = plan_recipe(load_recipe(path), reference_sim_config())
    assert 0 < plan.total_s < MAX_TOTAL_MIN * 60, format_plan(plan)


def test_lithium_recipe_sits_exactly_at_the_lithium_limit():
    r = load_recipe(RECIPES[0].parent / "li_llzo_li_170c.toml")
    assert max(s.temp.max_c for s in r.steps if s.temp) == builtin_material("Li").max_temp_c == 170


def test_three_stage_recipe_pressures():
    r = load_recipe(RECIPES[0].parent / "li6ps5cl_three_stage.toml")
    assert [s.pressure.pressure_mpa for s in r.steps if s.pressure] == [375, 625, 125]
