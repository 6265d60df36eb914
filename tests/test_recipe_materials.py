"""The built-in material table and user-defined materials."""

import pytest

from firmware.recipe.materials import (
    BUILTIN_MATERIALS,
    MATERIAL_MARGIN_C,
    builtin_material,
    custom_material_problems,
    limiting_material,
    suggest_material,
)
from firmware.recipe.model import RecipeError
from tests.recipe_support import HEAT_150, recipe


def test_lithium_limit_is_170c_below_its_180_5c_melting_point():
    li = builtin_material("Li")
    assert (li.max_temp_c, li.damage_temp_c) == (170.0, 180.5)


@pytest.mark.parametrize("material", BUILTIN_MATERIALS, ids=lambda m: m.key)
def test_every_limit_keeps_the_margin_below_a_known_damage_point(material):
    if material.damage_temp_c is not None:
        assert material.max_temp_c + MATERIAL_MARGIN_C <= material.damage_temp_c


@pytest.mark.parametrize("material", BUILTIN_MATERIALS, ids=lambda m: m.key)
def test_every_material_says_why(material):
    assert len(material.reason) > 20


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("lithium", "Li"),
        ("LLZTO", "LLZO"),
        ("argyrodite", "Li6PS5Cl"),
        ("LPSCl", "Li6PS5Cl"),
        ("li10gep2s12", "LGPS"),
        ("PVDF-HFP", "PVDF"),
        ("70Li2S-30P2S5", "LPS-glass"),
        ("NMC811", "NMC"),
        ("super p", "C"),
    ],
)
def test_spellings_find_the_material(spelling, key):
    assert builtin_material(spelling).key == key


@pytest.mark.parametrize(
    ("key", "limit_c"),
    [
        ("PEO", 110),
        ("PVDF", 150),
        ("Li3InCl6", 60),
        ("LPS-glass", 270),
        ("Li7P3S11", 350),
        ("LGPS", 200),
        ("LLZO", 300),
    ],
)
def test_limits_from_materials_md(key, limit_c):
    assert builtin_material(key).max_temp_c == limit_c


def test_lowest_limit_bounds_the_stack():
    stack = [builtin_material(n) for n in ("LLZO", "Li", "NMC")]
    assert limiting_material(stack).key == "Li"


def test_typo_gets_a_suggestion():
    assert suggest_material("LLZ0") == "LLZO"


def test_custom_may_lower_a_builtin_limit():
    assert custom_material_problems("Li", 150, None) == []


def test_custom_may_not_raise_a_builtin_limit():
    [problem] = custom_material_problems("lithium", 175, None)
    assert "raise the built-in limit" in problem


def test_custom_limit_must_keep_the_margin_below_its_damage_point():
    [problem] = custom_material_problems("Wax", 95, 100)
    assert "at least 10 C below" in problem


CUSTOM_LI = '[[custom_materials]]\nname = "Li"\nmax_temp_c = {}\nreason = "lab rule"\n'


def test_recipe_custom_entry_lowers_lithium_limit():
    r = recipe(HEAT_150, 'name = "t"\nmaterials = ["Li"]\n' + CUSTOM_LI.format(160))
    assert [m.max_temp_c for m in r.materials] == [160]


def test_recipe_custom_entry_cannot_raise_lithium_limit():
    with pytest.raises(RecipeError, match=r"custom_materials\[0\] \(Li\): max_temp_c: .*raise"):
        recipe(HEAT_150, 'name = "t"\nmaterials = ["Li"]\n' + CUSTOM_LI.format(175))


def test_recipe_custom_material_needs_a_reason():
    header = 'name = "t"\n[[custom_materials]]\nname = "Wax"\nmax_temp_c = 50\n'
    with pytest.raises(RecipeError, match=r"custom_materials\[0\] \(Wax\): reason: required"):
        recipe(HEAT_150, header)


def test_unknown_material_is_named_with_a_suggestion():
    with pytest.raises(RecipeError, match=r"materials: unknown material 'LLZ0' \(did you mean"):
        recipe(HEAT_150, 'name = "t"\nmaterials = ["LLZ0"]\n')


def test_a_recipe_must_name_its_materials():
    with pytest.raises(RecipeError, match="materials: list what is in the die"):
        recipe(HEAT_150, 'name = "t"\n')


def test_custom_material_defined_twice():
    header = 'name = "t"\n' + CUSTOM_LI.format(160) + CUSTOM_LI.format(150)
    with pytest.raises(RecipeError, match=r"custom_materials\[1\]: 'Li' is defined twice"):
        recipe(HEAT_150, header)


def test_custom_material_counts_without_being_listed():
    header = 'name = "t"\n[[custom_materials]]\nname = "Wax"\nmax_temp_c = 50\nreason = "soft"\n'
    assert [m.name for m in recipe(HEAT_150, header).materials] == ["Wax"]
