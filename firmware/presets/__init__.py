"""Built-in press configs shipped inside the package, so `hotpressd --sim` works from any install.

The files are package data (see pyproject's `package-data`), found with importlib.resources rather
than a path relative to the source tree, which would break once installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from firmware.config.load import load_config
from firmware.config.model import PressConfig

REFERENCE_SIM_FILE = "reference_sim.toml"


def reference_sim_path() -> Path:
    """Path of the reference simulated press config (two 2 kW steel platens, 63.5 mm ram).

    hotpress installs as a plain wheel, so package data is a real file; a zipped install would
    have no such path, and we say so rather than hand back a path that does not exist.
    """
    resource = resources.files(__name__) / REFERENCE_SIM_FILE
    if not isinstance(resource, Path):
        raise FileNotFoundError(f"{REFERENCE_SIM_FILE} is not on the file system ({resource!r})")
    return resource


def reference_sim_config() -> PressConfig:
    """The reference simulated press, loaded and checked: the plant every benchmark runs on."""
    return load_config(reference_sim_path())
