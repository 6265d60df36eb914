"""E-stop and guard inputs on gpiozero, read as plain booleans each tick.

The loop polls them (no callbacks): a callback would run on gpiozero's thread, outside the tick
that decides what the outputs do.
"""

from __future__ import annotations

from gpiozero import DigitalInputDevice
from gpiozero.pins import Factory

from firmware.config.model import InputConfig


class SwitchInput:
    """One switch input; `asserted` is True when the e-stop is pressed or the guard is open."""

    def __init__(self, name: str, cfg: InputConfig, pin_factory: Factory | None) -> None:
        self.name = name
        self.cfg = cfg
        if cfg.pull_up == cfg.active_low:
            # A pull-up with an active-low switch (or pull-down, active-high): gpiozero's own case.
            self._device = DigitalInputDevice(cfg.pin, pull_up=cfg.pull_up,
                                              pin_factory=pin_factory)
        else:
            # E.g. a normally-closed contact to GND with a pull-up: asserted when the pin goes high,
            # so a broken wire reads as asserted (fail-safe).
            self._device = DigitalInputDevice(cfg.pin, pull_up=None,
                                              active_state=not cfg.active_low,
                                              pin_factory=pin_factory)
            if cfg.pull_up:
                self._device.pin.pull = "up"

    @property
    def asserted(self) -> bool:
        return bool(self._device.value)

    def close(self) -> None:
        self._device.close()
