"""Everything the daemon reads from one press file: press, safety thresholds and MQTT link.

The `[safety]` and `[mqtt]` tables are parsed by their own modules (their defaults depend on the
press), so the press parser never sees them. The text is kept with its hash for run records.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from firmware.config.load import config_hash, parse_config, read_config_text
from firmware.config.model import PressConfig
from firmware.errors import ConfigError
from firmware.link.config import LinkConfig, parse_link_config
from firmware.safety.config import SafetyConfig, parse_safety_config

DELEGATED_TABLES = ("safety", "mqtt")


@dataclass(frozen=True)
class PressBundle:
    """A press config with its safety and link settings, and the exact text they came from."""

    press: PressConfig
    safety: SafetyConfig
    link: LinkConfig
    source: str
    text: str
    sha256: str


def parse_bundle(text: str, source: str) -> PressBundle:
    """Parse a whole press file; one ConfigError listing what is wrong, naming file and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML: {e}") from None
    press = parse_config({k: v for k, v in data.items() if k not in DELEGATED_TABLES}, source)
    safety = parse_safety_config(data, source, press)
    mqtt = data.get("mqtt", {})
    if not isinstance(mqtt, dict):
        raise ConfigError(f"{source}: mqtt: expected a table [mqtt]")
    return PressBundle(press, safety, parse_link_config(mqtt, source), source, text,
                       config_hash(text))


def load_bundle(path: str | Path) -> PressBundle:
    """Read and parse the press file at `path`."""
    return parse_bundle(read_config_text(path), str(path))
