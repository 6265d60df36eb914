"""Relay autotune (Astrom-Hagglund) for a heater zone, with SIMC and Ziegler-Nichols gains.

The tuner is a control law like the PID: `update(measured_c, dt_s) -> duty`, time passed in, no
I/O. It switches the duty between `bias + d` and `bias - d` whenever the reading crosses the
target +- the hysteresis `e`, so the platen oscillates around the target. From the median of the
measured cycles it takes the amplitude `a` (half the peak-to-peak) and the period `Tu`:

    Ku = 4 d / (pi sqrt(a^2 - e^2))           (relay with hysteresis, describing function)

By the describing function the oscillation sits where the plant's frequency response G(jw) equals
-pi/(4d) (sqrt(a^2 - e^2) + j e): a gain of pi a / (4 d) at a phase lag of pi - asin(e/a), at
w = 2 pi / Tu. Hysteresis moves that point below the true ultimate frequency (Tu reads longer and
Ku lower than the ultimate values by roughly e/a), so the models below are fitted to that point
with its real phase, not to a -180 degree one. `e` is taken as the effective hysteresis of a
quantised reading (`quantum_c`, 0.25 C for a MAX31855), which differs from the requested one.

A platen is lag-dominant and nearly integrating (reference/plant.md), so the model fitted is an
integrating process with dead time, `k' e^(-theta s) / s` (k': C/s per unit duty):

    k' = w pi a / (4 d),  theta = (pi/2 - asin(e/a)) / w

theta comes out close to the sum of the plant's lags; k' is the slope at the oscillation
frequency, which the lags attenuate (10-20 % below the full-power heat-up slope): the gain that
matters for stability. With `ambient_c`, a first-order-plus-dead-time model is fitted too, its
static gain from the holding duty (plant.md's loss law). The bias is set to the mean duty of each
settling cycle (the holding duty), so the measured cycles are symmetric.

Gains (control.md): SIMC PI for the integrating model, Kc = 1 / (k' (tauc + theta)),
tauI = 4 (tauc + theta), with tauc = theta ("tight") and a smoother tauc; Ziegler-Nichols PID
(Kp 0.6 Ku, Ti 0.5 Tu, Td 0.125 Tu, as Klipper) for comparison: it overshoots on heavy platens.

States (`state`)::

    RUNNING --(settle_cycles + cycles complete)--> DONE      (result set)
    RUNNING --(reading > target + max_rise_c | elapsed > max_duration_s
               | invalid reading | abort(reason) | unusable cycles)--> FAILED (failure_reason)

Outside RUNNING `update` returns `out_min` (heater off): hand over to the PID bumplessly.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

from firmware.control.feedforward import incremental_gain_c_per_duty
from firmware.control.pid import PidGains

# MAX31855 resolution: the reading moves in 0.25 C steps, which shifts the real switching points.
DEFAULT_QUANTUM_C = 0.25

# Relay hysteresis: 2 LSBs (1.5 effective), so noise of 0.1 C rms plus a 1-LSB flicker never
# switches the relay back. Against a swing of ~1.2 C (steel platen at 150 C) it reads Ku ~30 % low
# and Tu ~30 % long; the model fit corrects for that, and 0.25 C halves it (Klipper: 5 C, hotends).
DEFAULT_HYSTERESIS_C = 0.5

# The relay swings d = 3/4 of the room either side of the bias: as large as fits (amplitude over
# hysteresis and noise) while leaving the bias room to settle 25 % lower than its first guess.
DEFAULT_RELAY_FRACTION = 0.75

# Never let the reading go more than this above the target: the relay of a steel platen swings
# ~1-3 C, and a cell pressed at 170 C is only ~10 C from lithium's melting point.
DEFAULT_MAX_RISE_C = 5.0

# Give up after this long: heating from ambient on the relay's high output can take ~20 min, then
# seven cycles of ~1.5-3 min each on a steel platen.
DEFAULT_MAX_DURATION_S = 3600.0

# Cycles discarded while the bias settles on the holding duty, then cycles measured (median).
DEFAULT_SETTLE_CYCLES = 2
DEFAULT_CYCLES = 5

# SIMC's smooth setting: tauc = 3 theta halves the tight gain (Kc ~ Ku/(2 pi)), for an
# unmodelled lag or a load (die, sample) that slows the platen.
SIMC_SMOOTH_TAUC_FACTOR = 3.0

ZN_KP_PER_KU = 0.6  # Ziegler-Nichols classic PID (Kp/Ku, Ti/Tu, Td/Tu), as Klipper's
ZN_TI_PER_TU = 0.5
ZN_TD_PER_TU = 0.125


class AutotuneState(Enum):
    """Where the tuner is; see the module docstring for the transitions."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class RelayCycle:
    """One measured oscillation between two switches of the relay to high."""

    period_s: float
    peak_to_peak_c: float
    mean_duty: float


@dataclass(frozen=True)
class RelayPoint:
    """The frequency-response point a relay test measures: G(j omega) = gain at -phase_lag."""

    omega_rad_s: float
    gain_c_per_duty: float
    phase_lag_rad: float

    @classmethod
    def from_relay(
        cls, d: float, amplitude_c: float, hysteresis_c: float, period_s: float
    ) -> RelayPoint:
        """Describing function of a relay of amplitude d and hysteresis e (a > e >= 0)."""
        if not amplitude_c > hysteresis_c:
            raise ValueError(f"oscillation amplitude {amplitude_c:.3g} C is within the hysteresis")
        lead_rad = math.asin(hysteresis_c / amplitude_c)
        gain = math.pi * amplitude_c / (4.0 * d)
        return cls(2.0 * math.pi / period_s, gain, math.pi - lead_rad)

    @property
    def ku(self) -> float:
        """4 d / (pi sqrt(a^2 - e^2)), duty per C: 1 / |Re G| at this point."""
        return 1.0 / (self.gain_c_per_duty * math.cos(math.pi - self.phase_lag_rad))

    def integrating(self) -> tuple[float, float]:
        """(k' C/s per duty, theta s) of k' e^(-theta s)/s through this point."""
        theta_s = (self.phase_lag_rad - math.pi / 2.0) / self.omega_rad_s
        return self.omega_rad_s * self.gain_c_per_duty, theta_s

    def fopdt(self, static_gain_c_per_duty: float) -> tuple[float, float] | None:
        """(tau s, theta s) of K e^(-theta s)/(tau s + 1) through this point; None if impossible."""
        ratio = static_gain_c_per_duty / self.gain_c_per_duty
        if not ratio > 1.0:
            return None
        tau_s = math.sqrt(ratio**2 - 1.0) / self.omega_rad_s
        theta_s = (self.phase_lag_rad - math.atan(self.omega_rad_s * tau_s)) / self.omega_rad_s
        return (tau_s, theta_s) if theta_s > 0.0 else None


def simc_integrating(slope_c_per_s: float, dead_time_s: float, tauc_s: float) -> PidGains:
    """SIMC PI for k' e^(-theta s)/s: Kc = 1/(k' (tauc + theta)), tauI = 4 (tauc + theta)."""
    horizon_s = tauc_s + dead_time_s
    return PidGains.from_standard(kc=1.0 / (slope_c_per_s * horizon_s), ti_s=4.0 * horizon_s)


def ziegler_nichols(ku: float, tu_s: float) -> PidGains:
    """Classic ZN PID from the ultimate gain (duty/C) and period (s)."""
    return PidGains.from_standard(
        kc=ZN_KP_PER_KU * ku, ti_s=ZN_TI_PER_TU * tu_s, td_s=ZN_TD_PER_TU * tu_s
    )


def effective_hysteresis_c(target_c: float, hysteresis_c: float, quantum_c: float) -> float:
    """Half the distance between the true temperatures at which a quantised relay switches.

    The relay switches when the rounded reading reaches the first grid value >= target + e, i.e.
    when the true value is half a step below it (likewise at the bottom).
    """
    if quantum_c <= 0.0:
        return hysteresis_c
    top_c = math.ceil((target_c + hysteresis_c) / quantum_c - 1e-9) * quantum_c - quantum_c / 2
    bottom_c = math.floor((target_c - hysteresis_c) / quantum_c + 1e-9) * quantum_c + quantum_c / 2
    return (top_c - bottom_c) / 2.0


@dataclass(frozen=True)
class AutotuneResult:
    """What a relay test found, with gains; `to_dict`/`from_dict` store it as JSON.

    Units: ku duty per C; tu_s s; slope_c_per_s_per_duty (k') C/s per unit duty; dead_time_s
    (theta) s; fopdt gain C per unit duty; the fopdt_* fields are None when no ambient was given
    or the model does not fit. hysteresis_c is the effective one used in the formulas.
    """

    target_c: float
    bias_duty: float
    relay_amplitude: float
    hysteresis_c: float
    cycles: int
    amplitude_c: float
    tu_s: float
    ku: float
    slope_c_per_s_per_duty: float
    dead_time_s: float
    hold_duty: float
    simc: PidGains
    simc_smooth: PidGains
    ziegler_nichols: PidGains
    fopdt_gain_c_per_duty: float | None = None
    fopdt_tau_s: float | None = None
    fopdt_dead_time_s: float | None = None

    def simc_gains(self, tauc_s: float) -> PidGains:
        """SIMC PI for any closed-loop time constant tauc_s (larger: slower, less overshoot)."""
        return simc_integrating(self.slope_c_per_s_per_duty, self.dead_time_s, tauc_s)

    def heat_capacity_j_per_k(self, heater_w: float) -> float:
        """heater_w / k': the ramp term of `HoldingPowerModel` (an over-estimate by the lags)."""
        return heater_w / self.slope_c_per_s_per_duty

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict (gains as nested dicts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AutotuneResult:
        """Inverse of `to_dict`; ValueError naming the key on missing or unknown keys."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown autotune result keys: {sorted(unknown)}")
        values = dict(data)
        for key in ("simc", "simc_smooth", "ziegler_nichols"):
            if key not in values:
                raise ValueError(f"autotune result lacks {key!r}")
            values[key] = PidGains.from_dict(values[key])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"incomplete autotune result: {exc}") from exc


class RelayAutotune:
    """Relay test around `target_c`; drive it with `update(measured_c, dt_s)` until not RUNNING.

    Args:
        target_c: temperature to oscillate around, C (tune near the working temperature; start
            near it too, e.g. after a PID heat-up, or the approach runs on the relay's high duty).
        bias_duty: first guess of the holding duty at target_c (e.g. `HoldingPowerModel.duty`);
            replaced by the mean duty of each settling cycle.
        relay_amplitude: d, duty either side of the bias; default 3/4 of the room that the
            output range leaves around bias_duty. The bias is kept within out_min+d..out_max-d.
        hysteresis_c: e, C, requested either side of the target (see `effective_hysteresis_c`).
        quantum_c: resolution of the reading, C (0: continuous).
        max_rise_c: FAILED as soon as the reading exceeds target_c + this, C.
        max_duration_s: FAILED if not DONE within this, s.
        cycles, settle_cycles: cycles measured (median) after those discarded for the bias.
        ambient_c: if given, also fit an FOPDT model, C.
        out_min, out_max: duty limits.
    """

    def __init__(
        self,
        target_c: float,
        bias_duty: float,
        *,
        relay_amplitude: float | None = None,
        hysteresis_c: float = DEFAULT_HYSTERESIS_C,
        quantum_c: float = DEFAULT_QUANTUM_C,
        max_rise_c: float = DEFAULT_MAX_RISE_C,
        max_duration_s: float = DEFAULT_MAX_DURATION_S,
        cycles: int = DEFAULT_CYCLES,
        settle_cycles: int = DEFAULT_SETTLE_CYCLES,
        ambient_c: float | None = None,
        out_min: float = 0.0,
        out_max: float = 1.0,
    ) -> None:
        if not out_min < bias_duty < out_max:
            raise ValueError(f"bias_duty {bias_duty} must be inside {out_min}..{out_max}")
        room = min(bias_duty - out_min, out_max - bias_duty)
        self._d = DEFAULT_RELAY_FRACTION * room if relay_amplitude is None else relay_amplitude
        if not 0.0 < self._d <= (out_max - out_min) / 2.0:
            raise ValueError(f"relay amplitude {self._d} must be > 0 and fit the output range")
        self._e = effective_hysteresis_c(target_c, hysteresis_c, quantum_c)
        if not (self._e > 0.0 and max_rise_c > hysteresis_c and cycles >= 1):
            raise ValueError("need an effective hysteresis > 0 (hysteresis_c > quantum_c/2), "
                             "max_rise_c > hysteresis_c and cycles >= 1")  # fmt: skip
        self.target_c, self._e_requested, self._max_rise_c = target_c, hysteresis_c, max_rise_c
        self._max_duration_s, self._ambient_c = max_duration_s, ambient_c
        self._cycles_wanted, self._settle_cycles = cycles, settle_cycles
        self._out_min, self._out_max = out_min, out_max
        self._bias = self._clamp_bias(bias_duty)
        self._state, self.failure_reason = AutotuneState.RUNNING, ""
        self.result: AutotuneResult | None = None
        self._elapsed_s = self._energy_s = 0.0
        self._duty, self._heating = self._bias + self._d, True
        self._peak_c = math.inf  # extreme of the current half-cycle (a minimum while heating)
        self._last_max_c: float | None = None
        self._last_min_c: float | None = None
        self._last_switch: tuple[float, float] | None = None  # (time_s, energy_s) at switch-up
        self._seen = 0
        self._cycles: list[RelayCycle] = []

    @property
    def state(self) -> AutotuneState:
        """RUNNING, DONE (see `result`) or FAILED (see `failure_reason`)."""
        return self._state

    @property
    def elapsed_s(self) -> float:
        """Time since the start, s (the sum of the dt_s given)."""
        return self._elapsed_s

    def abort(self, reason: str = "aborted") -> None:
        """Stop now (operator abort, safety trip); the state becomes FAILED with `reason`."""
        if self._state is AutotuneState.RUNNING:
            self._fail(reason)

    def update(self, measured_c: float, dt_s: float) -> float:
        """Feed one reading (C) taken dt_s > 0 after the last; return the duty to apply."""
        if not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        if self._state is not AutotuneState.RUNNING:
            return self._out_min
        self._elapsed_s += dt_s
        self._energy_s += self._duty * dt_s
        if not math.isfinite(measured_c):
            return self._fail("invalid temperature reading")
        if measured_c > self.target_c + self._max_rise_c:
            return self._fail(f"{measured_c:.2f} C is over target + {self._max_rise_c} C")
        if self._elapsed_s > self._max_duration_s:
            return self._fail(f"not done within {self._max_duration_s:.0f} s")
        self._track_peak(measured_c)
        if self._heating and measured_c >= self.target_c + self._e_requested:
            self._switch_down()
        elif not self._heating and measured_c <= self.target_c - self._e_requested:
            self._switch_up()
        if self._state is not AutotuneState.RUNNING:
            return self._out_min
        self._duty = self._bias + (self._d if self._heating else -self._d)
        return self._duty

    def _track_peak(self, measured_c: float) -> None:
        """The relay is high on the way down to a minimum, and low on the way up to a maximum."""
        pick = min if self._heating else max
        self._peak_c = pick(self._peak_c, measured_c)

    def _switch_down(self) -> None:
        """Reading crossed target + e: relay low; the minimum just passed is final."""
        if self._last_max_c is not None:
            self._last_min_c = self._peak_c
        self._heating, self._peak_c = False, -math.inf

    def _switch_up(self) -> None:
        """Reading crossed target - e: relay high; the maximum is final, and maybe a cycle."""
        switch = (self._elapsed_s, self._energy_s)
        last = self._last_switch
        if self._last_max_c is not None and self._last_min_c is not None and last is not None:
            period_s = switch[0] - last[0]
            self._on_cycle(RelayCycle(
                period_s=period_s,
                peak_to_peak_c=0.5 * (self._last_max_c + self._peak_c) - self._last_min_c,
                mean_duty=(switch[1] - last[1]) / period_s,
            ))  # fmt: skip
        self._last_max_c, self._last_min_c, self._last_switch = self._peak_c, None, switch
        self._heating, self._peak_c = True, math.inf

    def _on_cycle(self, cycle: RelayCycle) -> None:
        self._seen += 1
        if self._seen <= self._settle_cycles:
            self._bias = self._clamp_bias(cycle.mean_duty)
            return
        self._cycles.append(cycle)
        if len(self._cycles) >= self._cycles_wanted:
            try:
                self.result = self._identify()
            except ValueError as exc:
                self._fail(f"cycles unusable: {exc}")
                return
            self._state = AutotuneState.DONE

    def _identify(self) -> AutotuneResult:
        med = statistics.median
        amplitude_c = med(c.peak_to_peak_c for c in self._cycles) / 2.0
        tu_s = med(c.period_s for c in self._cycles)
        hold = med(c.mean_duty for c in self._cycles)
        point = RelayPoint.from_relay(self._d, amplitude_c, self._e, tu_s)
        k_slope, theta_s = point.integrating()
        fopdt = self._fopdt(point, hold)
        return AutotuneResult(
            target_c=self.target_c, bias_duty=self._bias, relay_amplitude=self._d,
            hysteresis_c=self._e, cycles=len(self._cycles), amplitude_c=amplitude_c, tu_s=tu_s,
            ku=point.ku, slope_c_per_s_per_duty=k_slope, dead_time_s=theta_s, hold_duty=hold,
            simc=simc_integrating(k_slope, theta_s, theta_s),
            simc_smooth=simc_integrating(k_slope, theta_s, SIMC_SMOOTH_TAUC_FACTOR * theta_s),
            ziegler_nichols=ziegler_nichols(point.ku, tu_s),
            fopdt_gain_c_per_duty=fopdt[0], fopdt_tau_s=fopdt[1], fopdt_dead_time_s=fopdt[2],
        )  # fmt: skip

    def _fopdt(self, point: RelayPoint, hold: float) -> tuple[float | None, ...]:
        if self._ambient_c is None or not hold > 0.0 or self.target_c <= self._ambient_c:
            return (None, None, None)
        gain = incremental_gain_c_per_duty(self.target_c, self._ambient_c, hold)
        fit = point.fopdt(gain)
        return (None, None, None) if fit is None else (gain, *fit)

    def _fail(self, reason: str) -> float:
        self._state, self.failure_reason = AutotuneState.FAILED, reason
        self._duty = self._out_min
        return self._out_min

    def _clamp_bias(self, duty: float) -> float:
        return min(max(duty, self._out_min + self._d), self._out_max - self._d)
