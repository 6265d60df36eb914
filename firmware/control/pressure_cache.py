"""Memos of the pressure controller's pure per-tick results (pressure.py).

The controller runs 50 times a second, and in a hold nearly every tick asks again for the same
trigger band and hands back the same valve command. Both are pure functions of a few numbers, so
they are remembered until one of those changes: the same floats come out, computed less often.
"""

from __future__ import annotations

from firmware.control.pressure_estimate import PressureEstimator
from firmware.control.pressure_parts import HydraulicCommand, PathModel


class BandMemo:
    """The hold's trigger band (MPa) for a target: the widest of `band_frac` of the target, 0.6
    of the slow path's shortest step and `noise_sigmas` of the estimate's standard error.

    Asked two to four times a tick; it changes only with the target, the tick, the transducer
    noise the estimator has measured, or what the slow path has learnt."""

    def __init__(self, band_frac: float, noise_sigmas: float) -> None:
        self._band_frac, self._noise_sigmas = band_frac, noise_sigmas
        self._key: tuple[float, ...] = ()
        self._band_mpa = 0.0

    def band(self, target_mpa: float, dt_s: float, slow: PathModel,
             est: PressureEstimator) -> float:
        """The band at `target_mpa` (line MPa) with ticks of `dt_s` (s)."""
        key = (target_mpa, dt_s, est.noise_mpa, slow.speed_param, slow.dead_s)
        if key != self._key:
            step = 0.6 * slow.resolution(target_mpa, dt_s)
            self._key, self._band_mpa = key, max(self._band_frac * target_mpa, step,
                                                 self._noise_sigmas * est.sigma(dt_s))
        return self._band_mpa


class CommandMemo:
    """The last valve command, handed back again while the outputs stay as they are (most
    ticks): a frozen HydraulicCommand is not rebuilt field by field 50 times a second."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] = ()
        self._command = HydraulicCommand()

    def command(self, pump_on: bool, path: str | None, dump: bool,
                prop_duty: float | None) -> HydraulicCommand:
        """Pump `pump_on`, the valve `path` open ("fast", "slow", "release"; None: all closed),
        the release open anyway if `dump`, and the proportional relief's duty (None: none)."""
        key = (pump_on, path, dump, prop_duty)
        if key != self._key:
            self._key, self._command = key, HydraulicCommand(
                pump_on, path == "fast", path == "slow", path == "release" or dump, prop_duty)
        return self._command
