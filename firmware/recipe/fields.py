"""Typed reads from one TOML table that record problems instead of raising.

The parser reads a whole recipe and reports every problem at once, so each read here returns a value
or None and appends a message naming the place (`steps[3] (press)`), the key and what is allowed.
"""

from __future__ import annotations

import enum
import math
from typing import Any, TypeVar

E = TypeVar("E", bound=enum.Enum)


class Fields:
    """One table (top level, a step, a custom material) with its place name and the problem list."""

    def __init__(self, data: dict[str, Any], where: str, problems: list[str]) -> None:
        self.data = data
        self.where = where
        self.problems = problems

    def has(self, *keys: str) -> bool:
        """True if any of `keys` is present."""
        return any(k in self.data for k in keys)

    def problem(self, key: str, message: str) -> None:
        """Record a problem with `key` (or with the table itself when `key` is empty)."""
        place = f"{self.where}: " if self.where else ""
        self.problems.append(f"{place}{key}: {message}" if key else f"{place}{message}")

    def number(
        self, key: str, unit: str, *, required: bool = False, minimum: float = 0.0,
        inclusive: bool = False, why: str = "",
    ) -> float | None:
        """A finite number above `minimum` (or at it when `inclusive`), else None and a problem."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, f"required ({unit}){why}")
            return None
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            self.problem(key, f"expected a number in {unit}, got {value!r}")
            return None
        if value < minimum or (value == minimum and not inclusive):
            relation = ">=" if inclusive else ">"
            self.problem(key, f"must be {relation} {minimum:g} {unit}, got {value:g}")
            return None
        return float(value)

    def integer(self, key: str, *, required: bool = False, minimum: int = 1) -> int | None:
        """A whole number >= `minimum`, else None and a problem."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, f"required (a whole number >= {minimum})")
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(key, f"expected a whole number >= {minimum}, got {value!r}")
            return None
        return value

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        """A string (stripped); a missing required one or a wrong type is a problem."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(key, "required (text)")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(key, f"expected non-empty text, got {value!r}")
            return default
        return value.strip()

    def flag(self, key: str, default: bool) -> bool:
        """A TOML boolean (true/false); anything else is a problem."""
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            self.problem(key, f"expected true or false, got {value!r}")
            return default
        return value

    def time_s(self, stem: str, *, why: str = "") -> float | None:
        """A time given as `<stem>_min` or `<stem>_s` (exactly one), in seconds."""
        keys = (f"{stem}_min", f"{stem}_s")
        given = [k for k in keys if k in self.data]
        if len(given) > 1:
            self.problem(keys[0], f"give {keys[0]} or {keys[1]}, not both{why}")
            return None
        if not given:
            return None
        value = self.number(given[0], "min" if given[0].endswith("_min") else "s")
        if value is None:
            return None
        return value * 60.0 if given[0].endswith("_min") else value

    def choice(self, key: str, enum_type: type[E], default: E) -> E:
        """One of an enum's string values; anything else is a problem listing the allowed ones."""
        value = self.data.get(key)
        if value is None:
            return default
        for member in enum_type:
            if member.value == value:
                return member
        allowed = ", ".join(f'"{m.value}"' for m in enum_type)
        self.problem(key, f"{value!r} is not allowed; use one of {allowed}")
        return default
