"""Recipes: the TOML format, material limits, validation against a press, and the plan.

    recipe = load_recipe("recipes/lgps_hotpress_150c.toml")   # format + sequence (RecipeError)
    warnings = validate_recipe(recipe, press)                   # materials + press (RecipeError)
    print(format_plan(plan_recipe(recipe, press)))              # what it will do, and how long

Modules: units (conversions), materials (limits table), model (frozen dataclasses), parse (TOML),
sequence (step-order checks), validate (limits), thermal (platen estimates), plan (the table).
Nothing here touches hardware, MQTT or the clock; `load_recipe` is the only file read.
"""

from firmware.recipe.model import Recipe, RecipeError, Step, StepKind
from firmware.recipe.parse import load_recipe, parse_recipe, recipe_from_dict
from firmware.recipe.plan import Plan, format_plan, plan_recipe
from firmware.recipe.validate import ValidationReport, check_recipe, validate_recipe

__all__ = [
    "Plan",
    "Recipe",
    "RecipeError",
    "Step",
    "StepKind",
    "ValidationReport",
    "check_recipe",
    "format_plan",
    "load_recipe",
    "parse_recipe",
    "plan_recipe",
    "recipe_from_dict",
    "validate_recipe",
]
