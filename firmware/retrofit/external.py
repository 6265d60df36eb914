"""Zones an existing temperature controller heats: the recipe's target becomes its setpoint.

The old PID box keeps its own control loop (and its own tuning); hotpress only moves its
setpoint. A recipe's ramp is followed by moving the setpoint along it (held back while the platen
lags, as our own zone controller does), and the hardware layer writes it in steps, so an EEPROM
setpoint is not worn out by a continuous ramp (`InstrumentConfig.sp_write_step_c`).
"""

from __future__ import annotations

import math

from firmware.control.ramp import RampGenerator

# A platen more than this behind the ramp holds it: the box then catches up before the setpoint
# runs away from it (the same role as the holdback of our own zone controller).
HOLDBACK_C = 5.0


class ExternalZone:
    """The setpoint for one controller-heated zone, tick by tick (pure: no I/O)."""

    def __init__(self, name: str, holdback_c: float = HOLDBACK_C) -> None:
        self.name = name
        self.holdback_c = holdback_c
        self.setpoint_c: float | None = None
        self._ramp: RampGenerator | None = None
        self._key: tuple[float, float | None] | None = None

    def update(self, measured_c: float | None, target_c: float, ramp_c_per_min: float | None,
               dt_s: float, hold: bool = False) -> float:
        """The setpoint (C) to write now for `target_c` reached at `ramp_c_per_min` (None: a
        step). `hold` (a paused run) keeps the setpoint where it is."""
        if hold and self.setpoint_c is not None:
            return self.setpoint_c
        if self._ramp is None or self._key != (target_c, ramp_c_per_min):
            self._start(measured_c, target_c, ramp_c_per_min)
        assert self._ramp is not None
        self.setpoint_c = self._ramp.update(max(0.0, dt_s), measured_c)
        return self.setpoint_c

    def _start(self, measured_c: float | None, target_c: float,
               ramp_c_per_min: float | None) -> None:
        """A new target: ramp from the setpoint already written, else from the platen."""
        rate = ramp_c_per_min if ramp_c_per_min else math.inf
        start_c = self.setpoint_c if self.setpoint_c is not None else measured_c
        self._ramp = RampGenerator(rate, holdback_band_c=self.holdback_c)
        self._ramp.start(target_c if start_c is None else start_c, target_c)
        self._key = (target_c, ramp_c_per_min)

    def off(self) -> None:
        """No target (or a trip): the controller gets its safe setpoint; forget the ramp."""
        self.setpoint_c = None
        self._ramp = None
        self._key = None
