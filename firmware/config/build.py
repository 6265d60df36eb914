"""Turn parsed TOML tables into the frozen dataclasses of `model.py`, collecting every problem.

The walk is driven by the model's own type hints, so a field added to the model is parsed without
touching this file. Each value is type-checked (TOML's `true` is not an integer here, `"5"` is not
a number, `nan` is not a temperature), then checked by the per-field rule from `validate.py`, and
each finished object by its per-object rule. Problems are collected, not raised, so the operator
sees all of them in one run instead of fixing one per daemon restart.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Union

from firmware.config.suggest import closest_choice, unknown_key_message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (a key path such as `zones[1].max_temp_c`) and what."""

    path: str
    message: str

    def render(self, source: str) -> str:
        """`press.toml: zones[1].max_temp_c: 900 is out of range 20..400 C`."""
        where = f"{source}: {self.path}" if self.path else source
        return f"{where}: {self.message}"


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # TOML's bare keys; any other key is shown quoted

# A field rule looks at one converted value and returns a message, or None when it is fine.
FieldRule = Callable[[Any], "str | None"]
# An object rule looks at one built object and returns (sub-path, message) pairs.
ObjectRule = Callable[[Any], "list[tuple[str, str]]"]


@dataclass
class Builder:
    """Builds one dataclass tree from a TOML table, applying the given rules on the way."""

    field_rules: dict[tuple[type, str], FieldRule]
    object_rules: dict[type, ObjectRule]
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        """Record one problem at `path`."""
        self.problems.append(Problem(path, message))

    def build(self, cls: type, value: object, path: str) -> Any:
        """An instance of dataclass `cls` from table `value`, or None if any part of it is wrong."""
        if not isinstance(value, dict):
            self.add(path, f"expected a table{_table_example(cls, value)}, got {describe(value)}")
            return None
        before = len(self.problems)
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        self._unknown_keys(cls, value, fields, path)
        kwargs = {}
        for name, f in fields.items():
            sub = join(path, name)
            if name in value:
                kwargs[name] = self.convert(hints[name], value[name], sub)
                self._field_rule(cls, name, kwargs[name], sub)
            elif _is_required(f) and not _admits_none(hints[name]):
                self.add(sub, _missing_message(hints[name], sub))
            elif _is_required(f):
                kwargs[name] = None  # TOML has no null: leaving an optional key out means None
        if len(self.problems) > before:
            return None
        obj = cls(**kwargs)
        for subpath, message in self.object_rules.get(cls, lambda _: [])(obj):
            self.add(join(path, subpath), message)
        return obj

    def convert(self, hint: Any, value: object, path: str) -> Any:
        """`value` as type `hint`, or None after recording why it is not one."""
        origin = typing.get_origin(hint)
        if origin in (Union, types.UnionType):
            (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
            return self.convert(inner, value, path)
        if origin is Literal:
            return self._literal(typing.get_args(hint), value, path)
        if origin is tuple:
            return self._array(typing.get_args(hint)[0], value, path)
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, path)
        return self._scalar(hint, value, path)

    def _scalar(self, hint: type, value: object, path: str) -> Any:
        """A bool, int, float or str, strictly: TOML `true` is no integer, `"5"` no number."""
        ok = {
            bool: isinstance(value, bool),
            int: isinstance(value, int) and not isinstance(value, bool),
            float: isinstance(value, int | float) and not isinstance(value, bool),
            str: isinstance(value, str),
        }[hint]
        if not ok:
            self.add(path, f"expected {_TYPE_WORDS[hint]}, got {describe(value)}")
            return None
        if hint is float and not math.isfinite(value):  # type: ignore[arg-type]
            self.add(path, f"expected a finite number, got {describe(value)}")
            return None
        return float(value) if hint is float else value  # type: ignore[arg-type]

    def _literal(self, choices: tuple[str, ...], value: object, path: str) -> str | None:
        """One of a fixed set of strings, with the closest choice suggested."""
        if value in choices:
            return value  # type: ignore[return-value]
        allowed = ", ".join(f'"{c}"' for c in choices)
        guess = closest_choice(value, choices) if isinstance(value, str) else None
        hint = f' (did you mean "{guess}"?)' if guess else ""
        self.add(path, f"{describe(value)} is not one of {allowed}{hint}")
        return None

    def _array(self, item: Any, value: object, path: str) -> tuple[Any, ...] | None:
        """An array (of tables, for `[[zones]]`) converted item by item."""
        if not isinstance(value, list):
            name = path.rsplit(".", 1)[-1]
            self.add(path, f"expected an array of tables (write each as [[{name}]]), "
                     f"got {describe(value)}")
            return None
        items = tuple(self.convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
        return None if any(i is None for i in items) else items

    def _field_rule(self, cls: type, name: str, value: object, path: str) -> None:
        """Apply the rule for `cls.name` to a value that converted cleanly."""
        rule = self.field_rules.get((cls, name))
        message = rule(value) if rule is not None and value is not None else None
        if message:
            self.add(path, message)

    def _unknown_keys(self, cls: type, table: dict[str, Any], fields: dict, path: str) -> None:
        """A problem for each key the model does not have, with a suggestion."""
        for key in table:
            if key not in fields:
                self.add(join(path, key), _unknown(cls, key, table[key], fields))


def _unknown(cls: type, key: str, value: object, fields: dict) -> str:
    """Unknown-key message; also spots a key written one table too high (`tick_hz` at the top)."""
    for name, hint in typing.get_type_hints(cls).items():
        sub = _dataclass_in(hint)
        if sub is not None and key in {g.name for g in dataclasses.fields(sub)}:
            return f"unknown key here; it belongs in the [{name}] table"
    return unknown_key_message(key, value, fields)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass a field holds (directly or as `X | None`), else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint if dataclasses.is_dataclass(hint) else None


def _is_required(f: dataclasses.Field[Any]) -> bool:
    """True when the model gives the field no default."""
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _admits_none(hint: Any) -> bool:
    """True for `X | None`."""
    return typing.get_origin(hint) in (Union, types.UnionType) and type(None) in typing.get_args(
        hint
    )


def _missing_message(hint: Any, path: str) -> str:
    """`missing required key`, worded for tables and arrays of tables."""
    name = path.rsplit(".", 1)[-1]
    if typing.get_origin(hint) is tuple:
        return f"missing; add at least one [[{name}]] table"
    if dataclasses.is_dataclass(hint):
        return f"missing required table [{path}]"
    return "missing required key"


def _table_example(cls: type, value: object) -> str:
    """` such as pump = { pin = 17 }` when a lone value was given for a one-key table."""
    required = [f.name for f in dataclasses.fields(cls) if _is_required(f)]
    if len(required) == 1 and isinstance(value, int) and not isinstance(value, bool):
        return f" such as {{ {required[0]} = {value} }}"
    return ""


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def describe(value: object) -> str:
    """A TOML-flavoured description of a parsed value: `string "5"`, `boolean true`, `a table`."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value:g}"
    if isinstance(value, str):
        return f"string {quote(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__  # dates and times: TOML has them, the model never wants them


def join(path: str, key: str) -> str:
    """`hydraulics` + `pump` -> `hydraulics.pump`; a key that is not a bare TOML key is quoted."""
    key = key if BARE_KEY.fullmatch(key) else quote(key)
    return f"{path}.{key}" if path else key


def quote(text: str) -> str:
    """`text` in double quotes with control characters and line separators escaped, so that a
    hostile or garbled key or value can never split one problem over two lines."""
    escaped = json.dumps(text, ensure_ascii=False)
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in escaped)
