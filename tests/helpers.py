"""Builders shared by tests: the reference simulated press on a virtual clock."""

from __future__ import annotations

import dataclasses

from firmware.clock import VirtualClock
from firmware.config.model import PressConfig
from firmware.hal.press_io import PressIO
from firmware.presets import reference_sim_config
from firmware.sim.press import SimPress


def sim_config(**sim_overrides: object) -> PressConfig:
    """The reference press, optionally with simulator parameters changed (e.g. seed)."""
    cfg = reference_sim_config()
    if sim_overrides:
        sim = dataclasses.replace(cfg.backend.sim, **sim_overrides)
        cfg = dataclasses.replace(cfg, backend=dataclasses.replace(cfg.backend, sim=sim))
    return cfg


def sim_io(cfg: PressConfig | None = None) -> tuple[VirtualClock, SimPress, PressIO]:
    """A virtual clock, the simulated press behind it, and the real hardware layer on top."""
    cfg = cfg or sim_config()
    clock = VirtualClock()
    press = SimPress(cfg, clock)
    return clock, press, PressIO(cfg, press, clock)


def sim_press(cfg: PressConfig | None = None) -> tuple[VirtualClock, SimPress]:
    """A virtual clock and the simulated press, for code that builds its own PressIO."""
    cfg = cfg or sim_config()
    clock = VirtualClock()
    return clock, SimPress(cfg, clock)
