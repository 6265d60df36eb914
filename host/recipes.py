"""Check a recipe on the host before it is sent: the same parser, validator and planner the press
runs (`firmware.recipe`), so a bad recipe is caught at the operator's desk, not at the press.

The press validates again against its own config when it receives `start` (it has the last word);
with `--press CONFIG` the host also checks the press limits up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from firmware.config.load import load_config
from firmware.config.model import PressConfig
from firmware.recipe import (
    Recipe,
    RecipeError,
    check_recipe,
    format_plan,
    parse_recipe,
    plan_recipe,
)
from host.errors import ConfigError


@dataclass(frozen=True)
class CheckedRecipe:
    """A recipe that passed: its text (sent as is), the parsed form, warnings and the plan."""

    path: Path
    text: str
    recipe: Recipe
    warnings: tuple[str, ...]
    plan_text: str


def read_text(path: str | Path) -> str:
    """The recipe file's text; ConfigError with the path if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path}: cannot read the recipe ({why})") from None


def check_recipe_file(path: str | Path, press_config: str | Path | None = None) -> CheckedRecipe:
    """Parse, validate and plan the recipe at `path` (against the press config when given).

    Raises RecipeError listing every problem (a ConfigError), or ConfigError for a bad config.
    """
    text = read_text(path)
    recipe = parse_recipe(text, source=str(path))
    press: PressConfig | None = load_config(press_config) if press_config else None
    report = check_recipe(recipe, press)
    if not report.ok:
        raise RecipeError(str(path), report.errors)
    return CheckedRecipe(Path(path), text, recipe, report.warnings,
                         format_plan(plan_recipe(recipe, press)))
