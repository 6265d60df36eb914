"""Builders for the recipe tests: a press built straight from the config model, and tiny recipes."""

from __future__ import annotations

import dataclasses

from firmware.config.model import (
    HydraulicsConfig,
    InputConfig,
    InputsConfig,
    LimitsConfig,
    OutputConfig,
    PressConfig,
    TransducerConfig,
    ZoneConfig,
)
from firmware.recipe.model import Recipe
from firmware.recipe.parse import parse_recipe

HEADER = 'name = "test"\ndie_diameter_mm = 10\nmaterials = ["LLZO"]\n'


def model_press(**limits: float) -> PressConfig:
    """The reference press built from the model: two 2 kW zones to 300 C, 63.5 mm ram, 70 MPa."""
    zones = tuple(
        ZoneConfig(n, cs, ssr, 2000.0, 300.0) for n, cs, ssr in (("top", 5, 17), ("bottom", 6, 27))
    )
    hydraulics = HydraulicsConfig(
        OutputConfig(22), OutputConfig(23), OutputConfig(25, normally_open=True), OutputConfig(24)
    )
    return PressConfig(
        "test-press",
        zones,
        TransducerConfig(),
        63.5,
        hydraulics,
        InputsConfig(InputConfig(26)),
        LimitsConfig(**limits),
    )


def with_sim(press: PressConfig, **sim: float) -> PressConfig:
    """`press` with simulator (thermal/hydraulic) parameters changed."""
    backend = dataclasses.replace(press.backend, sim=dataclasses.replace(press.backend.sim, **sim))
    return dataclasses.replace(press, backend=backend)


def recipe(steps: str, header: str = HEADER) -> Recipe:
    """Parse a recipe made of `header` and the TOML text of its steps."""
    return parse_recipe(header + steps, source="test.toml")


def step(kind: str, **fields: object) -> str:
    """One [[steps]] table as TOML text: step("heat", temp_c=150, until="target")."""
    lines = [f'kind = "{kind}"'] + [f"{k} = {_toml(v)}" for k, v in fields.items()]
    return "[[steps]]\n" + "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    """A Python value as TOML (enough for the tests: numbers, strings, booleans, flat tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)


HEAT_150 = step("heat", temp_c=150, ramp_c_per_min=10, until="target")
PRESS_375 = step("press", pressure_mpa=375, until="target")
COOL_60 = step("cool", temp_c=60, until="target")
RELEASE = step("release")
