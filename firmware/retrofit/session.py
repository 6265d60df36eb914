"""What the core keeps for a manual press beyond the guide: the gated engine clock, the view.

Step timers run only while the pressure is in band (`ManualConfig.timer_in_band_only`): the core
hands the run engine a clock that stands still while a pressure is wanted and the reading is
out of band, so a 20-minute hold is 20 minutes in band, however often the operator had to top
up. And while the reading is in band, the engine is shown the target itself: on a manual press
the band (not the automatic controller's 1 %) decides that a pressure target is reached.
"""

from __future__ import annotations

from typing import Any

from firmware.config.instruments import ManualConfig
from firmware.retrofit.guide import ManualPressureGuide

KN_PER_MPA_M2 = 1000.0


class ManualSession:
    """The engine clock and the operator's view of one manual press."""

    def __init__(self, guide: ManualPressureGuide, cfg: ManualConfig) -> None:
        self.guide = guide
        self.cfg = cfg
        self.paused_s = 0.0  # time the engine's step timers have been held, in total
        self.timer_running = True
        self.in_band = False
        self._last_now_s: float | None = None

    def engine_now(self, now_s: float, force_kn: float | None, running: bool) -> float:
        """The time to give the run engine: press time less every out-of-band interval."""
        dt_s = 0.0 if self._last_now_s is None else max(0.0, now_s - self._last_now_s)
        self._last_now_s = now_s
        self.in_band = self.guide.in_band(force_kn)
        gated = self.cfg.timer_in_band_only and running and self.guide.band is not None
        self.timer_running = not gated or self.in_band
        if not self.timer_running:
            self.paused_s += dt_s
        return now_s - self.paused_s

    def engine_force(self, force_kn: float | None) -> float | None:
        """The force the engine judges targets by: the target itself while in band."""
        band = self.guide.band
        return band.target_kn if band is not None and band.holds(force_kn) else force_kn

    def view(self, die_area_m2: float | None, ram_area_m2: float) -> dict[str, Any]:
        """What the operator sees (state payload and telemetry): the band in sample MPa (when the
        die is known), in kN and in line MPa (the gauge on the press), and the hint."""
        band = self.guide.band
        kn = None if band is None else [round(band.low_kn, 3), round(band.high_kn, 3)]
        sample = line = None
        if kn is not None:
            line = [round(f / (ram_area_m2 * KN_PER_MPA_M2), 4) for f in kn]
            if die_area_m2:
                sample = [round(f / (die_area_m2 * KN_PER_MPA_M2), 2) for f in kn]
        return {"hold_band_mpa": sample, "hold_band_kn": kn, "hold_band_line_mpa": line,
                "operator_hint": self.guide.hint.value, "pressure_in_band": self.in_band,
                "step_timer_running": self.timer_running}
