"""Hydraulic checks: over-pressure, pump with no rise, hold decay, rise with the pump off.

Line pressure is the transducer's reading (MPa); ram force is `p * ram area`. Outputs are the
ones applied last tick, so "the pump was running into the cylinder" means it was told to. Every
hydraulic trip is reset only once the line is released (`hydraulic_reset_max_mpa`): the safe
state opens the release valve and stops the pump, so a line still under pressure after that says
the release path or the pump contactor is not doing what it is told.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware.config.model import PressConfig
from firmware.hal.types import SensorFault
from firmware.safety.checks_thermal import ThermalMemory
from firmware.safety.context import PressurePhase
from firmware.safety.faults import Fault, FaultCode, Finding
from firmware.safety.observation import Observation, rounded
from firmware.safety.thresholds import SafetyConfig

# Ram travel that proves the ram is moving during the approach (no pressure yet): ten times a
# 50 mm pot's ADS1115 resolution at 4.096 V full scale, well above wiper noise.
PUMP_MIN_TRAVEL_MM = 0.5
KN_PER_MPA_M2 = 1000.0  # 1 MPa on 1 m^2 is 1 MN = 1000 kN


def released(cfg: SafetyConfig, obs: Observation) -> str | None:
    """None once the line reads at or below `hydraulic_reset_max_mpa`, else why not."""
    p_mpa = obs.pressure_mpa
    if p_mpa is None:
        return "no valid pressure reading to confirm the line is released"
    limit = cfg.hydraulic_reset_max_mpa
    if p_mpa > limit:
        return (f"line still at {p_mpa:.1f} MPa (reset at or below {limit:.1f} MPa): check the "
                "release valve and the pump contactor")
    return None


CONTROLLER_PUMP_FAULTS = frozenset({"no_rise", "run_limit", "approach_timeout"})
TRANSDUCER_ACCURACY_FRAC_OF_SPAN = 0.005  # plant.md: accuracy class typically +-0.5 % of span


class OverPressureCheck:
    """OVER_PRESSURE: line pressure, ram force, or the recipe's sample force above its limit by
    more than `over_pressure_margin_fraction`. Warns half-way into the margin: a hold at the
    recipe's own target sits on its limit, so warning at the limit itself would fire on noise.
    """

    codes = frozenset({FaultCode.OVER_PRESSURE})

    def __init__(self, press: PressConfig, cfg: SafetyConfig) -> None:
        self.press = press
        self.cfg = cfg

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Compare each quantity with its limit; trip above limit x (1 + margin)."""
        p_mpa = obs.pressure_mpa
        if p_mpa is None:
            return []
        force_kn = p_mpa * self.press.ram_area_m2 * KN_PER_MPA_M2
        lim = self.press.limits
        subjects = (("line", p_mpa, lim.max_line_pressure_mpa, "MPa"),
                    ("force", force_kn, lim.max_force_kn, "kN"),
                    ("sample", force_kn, obs.ctx.recipe_max_force_kn, "kN"))
        found: list[Finding] = []
        for subject, value, limit, unit in subjects:
            if limit is None:
                continue
            trip_at = limit * (1.0 + self.cfg.over_pressure_margin_fraction)
            if subject == "sample":
                # A recipe's force can be a few kN, less than the transducer can resolve: the
                # trip sits above its accuracy too, or noise alone would end a gentle recipe.
                trip_at += (TRANSDUCER_ACCURACY_FRAC_OF_SPAN * self.press.pressure_range_mpa
                            * self.press.ram_area_m2 * KN_PER_MPA_M2)
            if value > trip_at:
                found.append(self._finding(obs.trip, subject, value, limit, trip_at, unit))
            elif value >= (limit + trip_at) / 2.0:
                found.append(self._finding(obs.warn, subject, value, limit, trip_at, unit))
        return found

    @staticmethod
    def _finding(make: Callable[..., Finding], subject: str, value: float, limit: float,
                 trip_at: float, unit: str) -> Finding:
        """A trip or warning (`make`) with its text and numbers, built only when found: this
        check runs every tick, and almost every tick finds nothing."""
        values = dict(value=rounded(value), limit=limit, trip_at=rounded(trip_at), unit=unit)
        text = f"{subject} {value:.2f} {unit} against a limit of {limit:g} {unit}"
        return make(FaultCode.OVER_PRESSURE, subject, text, **values)

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the line is released."""
        return released(self.cfg, obs)

    def forget(self) -> None:
        """Nothing: judged afresh every tick."""


class PumpNoRiseCheck:
    """PUMP_NO_RISE: pumping into the cylinder for a window's worth without the pressure rising
    `pump_no_rise_min_rise_mpa` (or, in the approach, the ram moving): a dead pump or motor, a
    broken hose, a release valve stuck open, a blown seal.

    Progress fills at `dt / window` while pumping (window by path and phase: the approach, the
    fast path, the slow metered path) and drains at the same rate while not, so short top-up
    pulses in a long hold never add up to a trip. A rise (or travel) empties it; opening the
    release starts over, because the pressure is then meant to fall.
    """

    codes = frozenset({FaultCode.PUMP_NO_RISE})

    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg
        self._progress = 0.0
        self._pumped_s = 0.0
        self._low_mpa: float | None = None
        self._pos_ref_mm: float | None = None

    def _window_s(self, obs: Observation) -> float:
        if obs.ctx.pressure_phase is PressurePhase.APPROACH:
            return self.cfg.pump_no_rise_approach_window_s
        if obs.ctx.last_outputs.advance_open:
            return self.cfg.pump_no_rise_fast_window_s
        return self.cfg.pump_no_rise_slow_window_s

    def _restart(self) -> None:
        self._progress = self._pumped_s = 0.0
        self._low_mpa = self._pos_ref_mm = None

    def _saw_progress(self, obs: Observation) -> bool:
        """Track the lowest pressure and the ram position; True on a rise or on travel."""
        p_mpa = obs.pressure_mpa
        if p_mpa is not None:
            self._low_mpa = p_mpa if self._low_mpa is None else min(self._low_mpa, p_mpa)
            if p_mpa - self._low_mpa >= self.cfg.pump_no_rise_min_rise_mpa:
                self._low_mpa = p_mpa
                return True
        pos = obs.sample.position  # a PositionReading, a SensorFault, or None when not fitted
        if pos is not None and not isinstance(pos, SensorFault):
            if self._pos_ref_mm is None:
                self._pos_ref_mm = pos.position_mm
            elif abs(pos.position_mm - self._pos_ref_mm) >= PUMP_MIN_TRAVEL_MM:
                self._pos_ref_mm = pos.position_mm
                return True
        return False

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Advance or drain the progress; trip when it reaches 1, or at once when the pressure
        controller itself gave up on pumping (its metered pulses are too short to fill the
        window here, so a dead pump during a slow ramp would otherwise wait for ever)."""
        if obs.ctx.pressure_fault in CONTROLLER_PUMP_FAULTS:
            return [obs.trip(FaultCode.PUMP_NO_RISE, "pump",
                             f"the pressure controller stopped: {obs.ctx.pressure_fault} "
                             "(pumping raised no pressure): pump, motor, hose or a stuck valve?",
                             controller_fault=obs.ctx.pressure_fault)]
        if obs.ctx.last_outputs.release_open:
            self._restart()
            return []
        if self._saw_progress(obs):
            self._progress = self._pumped_s = 0.0
        step = obs.dt_s / self._window_s(obs)
        if obs.ctx.pumping_into_cylinder:
            self._progress += step
            self._pumped_s += obs.dt_s
        else:
            self._progress = max(0.0, self._progress - step)
        if self._progress < 1.0:
            return []
        rise = (obs.pressure_mpa or 0.0) - (self._low_mpa or 0.0)
        return [obs.trip(
            FaultCode.PUMP_NO_RISE, "pump",
            f"pumped {self._pumped_s:.1f} s into the cylinder, pressure rose {rise:.2f} MPa: "
            "pump, motor, hose, seal or a release valve stuck open?",
            pumped_s=rounded(self._pumped_s, 2), rise_mpa=rounded(rise),
            window_s=rounded(self._window_s(obs), 2),
            phase=obs.ctx.pressure_phase.value)]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the pump is off and the line released."""
        if obs.ctx.last_outputs.pump_on:
            return "the pump is still commanded on"
        return released(self.cfg, obs)

    def forget(self) -> None:
        """Start over."""
        self._restart()


class HoldDecayCheck:
    """HOLD_DECAY: in HOLD, the line below target minus its band for longer than a slow top-up
    needs (`hold_decay_dwell_s`): a leak bigger than top-up can serve, or top-up not working.
    Band: `max(hold_band_min_mpa, hold_band_fraction x target)`. Warns as soon as it drops below.
    Not judged while the release valve is open (after a trip the safe state releases on purpose).
    """

    codes = frozenset({FaultCode.HOLD_DECAY})

    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg
        self._below_since_s: float | None = None

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Time spent below the band; trip past the dwell."""
        target, p_mpa = obs.ctx.hold_target_mpa, obs.pressure_mpa
        releasing = obs.ctx.last_outputs.release_open
        holding = obs.ctx.pressure_phase is PressurePhase.HOLD and not releasing
        if not holding or target is None or p_mpa is None:
            self._below_since_s = None
            return []
        band = max(self.cfg.hold_band_min_mpa, self.cfg.hold_band_fraction * target)
        if p_mpa >= target - band:
            self._below_since_s = None
            return []
        if self._below_since_s is None:
            self._below_since_s = obs.now_s - obs.dt_s
        below_s = obs.now_s - self._below_since_s
        values = dict(pressure_mpa=rounded(p_mpa), target_mpa=target, band_mpa=rounded(band),
                      below_s=rounded(below_s, 2), dwell_s=rounded(self.cfg.hold_decay_dwell_s, 2))
        text = f"{p_mpa:.2f} MPa is more than {band:.2f} MPa below the hold target {target:g} MPa"
        if below_s >= self.cfg.hold_decay_dwell_s:
            return [obs.trip(FaultCode.HOLD_DECAY, "line",
                             f"{text} for {below_s:.1f} s: leak beyond what top-up can serve",
                             **values)]
        return [obs.warn(FaultCode.HOLD_DECAY, "line", text, **values)]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the line is released."""
        return released(self.cfg, obs)

    def forget(self) -> None:
        """Start the dwell over."""
        self._below_since_s = None


class LockedRiseCheck:
    """PRESSURE_RISE_LOCKED: the pump commanded off (past its run-down) and the line rising more
    than `locked_band_mpa` + `locked_expansion_mpa_per_k` x the stack's heating since then.

    Heating a locked stack raises its pressure (0.1 mm of growth is ~1 MPa, plant.md): that much
    is allowed. More means a pump that still runs (welded contactor) or a leaking feed valve. With
    the release valve open the line should be falling, so the same rule holds a fortiori.
    """

    codes = frozenset({FaultCode.PRESSURE_RISE_LOCKED})

    def __init__(self, memory: ThermalMemory, cfg: SafetyConfig) -> None:
        self.memory = memory
        self.cfg = cfg
        self._off_since_s: float | None = None
        self._ref_mpa: float | None = None
        self._ref_temps_c: dict[str, float] = {}

    def _heating_k(self, now_s: float) -> float:
        """Largest temperature rise of any zone since the reference (K, never negative)."""
        rises = [0.0]
        for name, ref_c in self._ref_temps_c.items():
            now_c = self.memory.now_c(name, now_s)
            if now_c is not None:
                rises.append(now_c - ref_c)
        return max(rises)

    def _take_reference(self, p_mpa: float, now_s: float) -> None:
        self._ref_mpa = p_mpa
        self._ref_temps_c = {name: t for name in self.memory.temps
                             if (t := self.memory.now_c(name, now_s)) is not None}

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Reference once the pump has run down; trip on a rise beyond the allowance."""
        p_mpa = obs.pressure_mpa
        if obs.ctx.last_outputs.pump_on:
            self.forget()
            return []
        if self._off_since_s is None:
            self._off_since_s = obs.now_s - obs.dt_s
        if obs.now_s - self._off_since_s < self.cfg.locked_settle_s or p_mpa is None:
            return []
        if self._ref_mpa is None:
            self._take_reference(p_mpa, obs.now_s)
            return []
        heating_k = self._heating_k(obs.now_s)
        allowed = self.cfg.locked_band_mpa + self.cfg.locked_expansion_mpa_per_k * heating_k
        rise = p_mpa - self._ref_mpa
        if rise <= allowed:
            return []
        return [obs.trip(
            FaultCode.PRESSURE_RISE_LOCKED, "line",
            f"rose {rise:.2f} MPa with the pump off (allowed {allowed:.2f} MPa for "
            f"{heating_k:.0f} K of heating): pump contactor or a leaking feed valve?",
            rise_mpa=rounded(rise), allowed_mpa=rounded(allowed), heating_k=rounded(heating_k, 1),
            pressure_mpa=rounded(p_mpa))]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the line is released (a still-running pump keeps it up)."""
        return released(self.cfg, obs)

    def forget(self) -> None:
        """Drop the reference; the next pump-off takes a new one."""
        self._off_since_s = self._ref_mpa = None
        self._ref_temps_c = {}
