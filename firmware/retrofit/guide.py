"""The manual pressure guide: on a press without pump or valves, pressure steps become prompts.

It stands where the automatic `PressureController` stands in the core (same `update`, `phase`,
`at_target`, `reset`), but drives nothing: every command it returns leaves the (absent) pump off.
Instead it turns the recipe's force target into a band and a hint for the operator at the hand
pump, and tells the core when the pressure is in band, so that step timers only run then:

    target F (kN), band F +- max(band_min_kn, band_fraction x F)

    hint           when
    "pump"         below the band, or drooping into its lowest `top_up_fraction` below F,
                   until F is reached again (hysteresis: the operator tops up to the middle)
    "pump slower"  pumping, but rising faster than rate_warn_factor x the recipe's rate
    "hold"         in band
    "release slowly"  above the band (until back at F), or a release step with load on
    ""             no pressure wanted and the stack unloaded
    "no reading"   the pressure reading is a fault: do nothing until it is back

    phase (what the supervisor is told): RAMP while a pressure is wanted (the guard must stay
    closed), RELEASE while unloading, IDLE otherwise. Never HOLD: hold-decay timing is for a
    pump that tops up in seconds, not for a person.

Hints follow the force smoothed over half a second (what a person reads off a gauge), so noise
does not flicker them; whether the pressure is in band, for the step timers, is judged on every
raw reading, so a timer only ever counts time the reading was really in band. The band's upper
edge stays below half the supervisor's over-pressure margin, so holding in band never trips.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from firmware.config.instruments import ManualConfig
from firmware.control.pressure_parts import HydraulicCommand, Phase, PressureFault
from firmware.run.engine import RELEASED_FORCE_KN

RATE_WINDOW_S = 2.0  # the rise rate is judged over 2 s: a hand stroke is ~1 s, noise averages out
SMOOTHING_S = 0.5  # first-order filter on force before the rate: 0.05 % transducer noise at 10 Hz
KN_PER_MPA_M2 = 1000.0
NO_PUMP = HydraulicCommand()  # everything off, "release open": there is nothing to drive
DEFAULT_TRIP_MARGIN = 0.05  # SafetyConfig.over_pressure_margin_fraction's default


class Hint(enum.Enum):
    """What the operator should do now; the value is what the state payload shows."""

    NONE = ""
    PUMP = "pump"
    PUMP_SLOWER = "pump slower"
    HOLD = "hold"
    RELEASE_SLOWLY = "release slowly"
    NO_READING = "no reading"


@dataclass(frozen=True)
class Band:
    """The force band (kN) the operator must keep the press in, around `target_kn`."""

    target_kn: float
    low_kn: float
    high_kn: float

    def holds(self, force_kn: float | None) -> bool:
        """True when `force_kn` is a valid reading inside the band."""
        return force_kn is not None and self.low_kn <= force_kn <= self.high_kn


class ManualPressureGuide:
    """Band, hint and in-band judgement for a manual press; see the module docstring."""

    def __init__(self, cfg: ManualConfig, ram_area_m2: float,
                 over_pressure_margin_fraction: float = DEFAULT_TRIP_MARGIN) -> None:
        self.cfg = cfg
        self.ram_area_m2 = ram_area_m2
        self.max_over_fraction = over_pressure_margin_fraction / 2.0
        self.phase = Phase.IDLE
        self.fault: PressureFault | None = None  # the controller's stop reasons; a guide has none
        self.band: Band | None = None
        self.hint = Hint.NONE
        self.force_kn: float | None = None
        self.rate_kn_per_s: float | None = None
        self._smoothed_kn: float | None = None
        self._history: deque[tuple[float, float]] = deque()
        self._t_s = 0.0

    # ---- the PressureController surface ----------------------------------------------------
    @property
    def at_target(self) -> bool:
        """True while the measured force is inside the band."""
        return self.band is not None and self.band.holds(self.force_kn)

    def reset(self) -> None:
        """A trip: forget the target and the trend; the operator is told nothing until a run."""
        self.phase, self.band, self.hint = Phase.IDLE, None, Hint.NONE
        self._smoothed_kn, self.rate_kn_per_s = None, None
        self._history.clear()

    def update(self, line_mpa: float | None, target_force_kn: float, rate_kn_per_s: float | None,
               release: bool, dt_s: float, hold: bool = False) -> HydraulicCommand:
        """Judge one tick; `hold` (paused) keeps the last target. Returns "drive nothing"."""
        self._t_s += dt_s
        self.force_kn = None if line_mpa is None else line_mpa * self.ram_area_m2 * KN_PER_MPA_M2
        self._track_rate(dt_s)
        if not hold:
            self.band = None if release else self.band_for(target_force_kn)
        self.phase = self._phase(release and not hold)
        self.hint = self._hint(rate_kn_per_s)
        return NO_PUMP

    # ---- judgement ---------------------------------------------------------------------------
    def band_for(self, target_kn: float) -> Band:
        """The band around a force target (kN)."""
        half = max(self.cfg.band_min_kn, self.cfg.band_fraction * target_kn)
        over = min(half, max(self.cfg.band_min_kn, self.max_over_fraction * target_kn))
        return Band(target_kn, max(0.0, target_kn - half), target_kn + over)

    def in_band(self, force_kn: float | None) -> bool:
        """Whether `force_kn` is inside the current band (False when none is wanted)."""
        return self.band is not None and self.band.holds(force_kn)

    def _phase(self, releasing: bool) -> Phase:
        if self.band is not None:
            return Phase.RAMP
        loaded = self.force_kn is None or self.force_kn >= RELEASED_FORCE_KN
        return Phase.RELEASE if releasing and loaded else Phase.IDLE

    def _hint(self, rate_kn_per_s: float | None) -> Hint:
        force, band, last = self._smoothed_kn, self.band, self.hint
        if band is None:
            if force is not None and force >= RELEASED_FORCE_KN:
                return Hint.RELEASE_SLOWLY
            return Hint.NONE
        if force is None:
            return Hint.NO_READING
        if force > band.high_kn or (last is Hint.RELEASE_SLOWLY and force > band.target_kn):
            return Hint.RELEASE_SLOWLY
        top_up_kn = band.target_kn - self.cfg.top_up_fraction * (band.target_kn - band.low_kn)
        pumping = last in (Hint.PUMP, Hint.PUMP_SLOWER)
        if force < top_up_kn or (pumping and force < band.target_kn):
            return Hint.PUMP_SLOWER if self._too_fast(rate_kn_per_s) else Hint.PUMP
        return Hint.HOLD

    def _too_fast(self, rate_kn_per_s: float | None) -> bool:
        """Rising faster than the recipe allows, by more than the warning factor."""
        if rate_kn_per_s is None or self.rate_kn_per_s is None:
            return False
        if self.force_kn is None or self.force_kn < RELEASED_FORCE_KN:
            return False  # the ram is still travelling: no load, no rate to respect
        return self.rate_kn_per_s > self.cfg.rate_warn_factor * rate_kn_per_s

    def _track_rate(self, dt_s: float) -> None:
        """Smoothed force and its rate of change over the last RATE_WINDOW_S."""
        force = self.force_kn
        if force is None:
            self._smoothed_kn, self.rate_kn_per_s = None, None
            self._history.clear()
            return
        if self._smoothed_kn is None:
            self._smoothed_kn = force
        else:
            self._smoothed_kn += (force - self._smoothed_kn) * dt_s / (SMOOTHING_S + dt_s)
        self._history.append((self._t_s, self._smoothed_kn))
        while self._history and self._t_s - self._history[0][0] > RATE_WINDOW_S:
            self._history.popleft()
        t0, f0 = self._history[0]
        span_s = self._t_s - t0
        self.rate_kn_per_s = (self._smoothed_kn - f0) / span_s if span_s >= RATE_WINDOW_S / 2 \
            else None
