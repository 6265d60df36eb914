"""Load a press config from TOML into a checked, frozen `PressConfig`, or say exactly what is wrong.

Everything wrong with a file is reported at once, in one `ConfigError` whose message has one line
per problem, each naming the file and the key path:

    press.toml: 2 problems
    press.toml: zones[1].max_temp_c: 900 is out of range 20..400 C
    press.toml: hydraulics.pump.pin: GPIO 17 is also used by zones[0].ssr_pin

A config is parsed once, at start-up, and nothing downstream re-checks it; so no KeyError or
TypeError may escape from here, and a wrong value never reaches the hardware.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firmware.config.build import Builder, Problem
from firmware.config.model import PressConfig
from firmware.config.validate import FIELD_RULES, OBJECT_RULES, check_press
from firmware.config.validate_retrofit import (
    RETROFIT_FIELD_RULES,
    RETROFIT_OBJECT_RULES,
    check_retrofit,
)
from firmware.errors import ConfigError

__all__ = ["config_hash", "load_config", "parse_config", "parse_config_text", "read_config_text"]


def load_config(path: str | Path) -> PressConfig:
    """Read, parse and check the press config at `path`; the error names the file as given."""
    return parse_config_text(read_config_text(path), str(path))


def read_config_text(path: str | Path) -> str:
    """The config file as text, byte for byte (no newline translation), so that
    `config_hash(read_config_text(p)) == config_hash(Path(p))`; ConfigError if unreadable.
    """
    source = str(path)
    raw = _read_bytes(Path(path), source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        message = f"{source}: not UTF-8 text (byte {e.start}); TOML files must be UTF-8"
        raise ConfigError(message) from None


def parse_config_text(text: str, source: str) -> PressConfig:
    """Parse TOML `text` (read from `source`, used only in messages) into a checked config.

    The daemon reads the file once and passes the same text here and to `config_hash`, so the
    hash in a run record is of exactly the config that ran.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # its message ends "(at line L, column C)"
        raise ConfigError(f"{source}: invalid TOML: {e}") from None
    return parse_config(data, source)


def parse_config(data: Mapping[str, Any], source: str) -> PressConfig:
    """Build a checked `PressConfig` from an already-parsed TOML document.

    Types, ranges and each table's own rules are checked first, for the whole document; rules
    that span tables (pins used twice, limits against each other) need a complete config, so they
    run only once that stage is clean.
    """
    builder = Builder({**FIELD_RULES, **RETROFIT_FIELD_RULES},
                      {**OBJECT_RULES, **RETROFIT_OBJECT_RULES})
    config = builder.build(PressConfig, dict(data) if isinstance(data, Mapping) else data, "")
    _raise_if_any(builder.problems, source)
    spanning = check_press(config) + check_retrofit(config)
    _raise_if_any([Problem(path, msg) for path, msg in spanning], source)
    return config


def config_hash(source: str | Path) -> str:
    """SHA-256 (hex) of a config's exact bytes, for run records.

    A `Path` is read from disk; a `str` is the config text itself (hashed as UTF-8), so hash the
    text you parsed. A one-line string with no `=` cannot be a config and is refused, as it is
    almost surely a path passed as a str by mistake.
    """
    if isinstance(source, Path):
        return hashlib.sha256(_read_bytes(source, str(source))).hexdigest()
    if "\n" not in source and "=" not in source:
        raise TypeError(f"config_hash({source!r}): pass a path as Path(...); a str is config text")
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def format_problems(problems: list[Problem], source: str) -> str:
    """One line per problem; with several, a first line that counts them."""
    lines = [p.render(source) for p in problems]
    if len(lines) > 1:
        lines.insert(0, f"{source}: {len(lines)} problems")
    return "\n".join(lines)


def _raise_if_any(problems: list[Problem], source: str) -> None:
    """Raise one ConfigError listing `problems`, if there are any."""
    if problems:
        raise ConfigError(format_problems(problems, source))


def _read_bytes(path: Path, source: str) -> bytes:
    """The file's bytes, or a ConfigError saying why it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{source}: cannot read config: {e.strerror or e}") from None
