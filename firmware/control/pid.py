"""PID control law for one heater zone: a plain class with no I/O and no clock.

A heated platen is lag-dominant and nearly integrating (reference/plant.md): a kilogram of steel,
2 kW, ~20 s from heater to thermocouple, read in 0.25 C steps. What matters most is how the loop
leaves saturation after a long full-power heat-up, because every degree of overshoot is a degree
nearer the melting point of the cell being pressed. So this law has:

- conditional integration: the integral only moves when the output is not saturated, or when the
  move brings the output back out of saturation; and it never holds more than the output range;
- derivative on the (filtered) measurement, so a setpoint step gives no derivative kick and a
  single 0.25 C quantisation step gives a small, smoothed nudge instead of a spike;
- setpoint weighting `b` on the proportional term (b < 1 softens the reaction to a setpoint step
  without slowing the rejection of disturbances);
- feed-forward (the holding power) added before saturation, so the integral only trims the model;
- bumpless start and transfer (`reset(measured, output)`), and bumpless gain changes.

Time is passed in: `update(measured, setpoint, dt_s)`. Units: temperatures in C, output in duty
(0..1 by default), so kp is duty per C, ki duty per (C s), kd duty s per C.

How to combine it (simulated steel platen, plant.md, noise and quantisation on; SIMC gains from
`autotune`): a full-power step 25 -> 180 C without feed-forward overshoots the platen by 0.02 C;
with holding feed-forward by ~2 C, since the feed-forward holds the output up while the lagging
reading closes in. A 10 C/min ramp with the ramp-rate feed-forward and `RampGenerator.expected_c`
as the setpoint overshoots by 0.03 C (3 C when the ramp itself is the setpoint). So: ramp with
feed-forward, or step without it.

Example::

    pid = PID(PidGains.from_standard(kc=0.05, ti_s=180.0), feedforward=model.duty)
    pid.reset(measured=temp_c, output=duty_now)        # take over without a bump
    duty = pid.update(temp_c, setpoint_c, dt_s=0.25)   # every tick
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

# Time constant of the first-order filter on the measured slope used by the derivative term.
# A MAX31855 moves in 0.25 C steps; read at 4 Hz, one step is 1 C/s of raw slope. Filtered over
# 5 s it is 0.05 C/s, and 5 s is still short against the ~20 s heater-to-thermocouple lag.
DEFAULT_DERIVATIVE_TAU_S = 5.0

# Default output range: a heater duty for a time-proportioned SSR.
DEFAULT_OUT_MIN = 0.0
DEFAULT_OUT_MAX = 1.0

Feedforward = Callable[[float], float]
"""A feed-forward model: setpoint in C -> output (duty) needed to hold it."""


@dataclass(frozen=True)
class PidGains:
    """Parallel-form gains: output = kp * e + ki * integral(e dt) - kd * d(measured)/dt.

    Units: `kp` duty per C, `ki` duty per (C s), `kd` duty s per C. All must be >= 0 (a heater
    zone is direct-acting: more duty, more temperature).
    """

    kp: float
    ki: float = 0.0
    kd: float = 0.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"PID gain {name} must be finite and >= 0, got {value}")

    @classmethod
    def from_standard(cls, kc: float, ti_s: float = math.inf, td_s: float = 0.0) -> PidGains:
        """Gains from the standard (ISA) form kc * (e + integral(e)/ti_s + td_s * de/dt).

        Tuning rules (SIMC, Ziegler-Nichols) give kc, ti_s and td_s; `ti_s=inf` means no integral.
        """
        ki = 0.0 if math.isinf(ti_s) else kc / ti_s
        return cls(kp=kc, ki=ki, kd=kc * td_s)

    @property
    def ti_s(self) -> float:
        """Integral time kp/ki in s (inf without integral action)."""
        return math.inf if self.ki == 0.0 else self.kp / self.ki

    @property
    def td_s(self) -> float:
        """Derivative time kd/kp in s (0 without proportional action)."""
        return 0.0 if self.kp == 0.0 else self.kd / self.kp

    def to_dict(self) -> dict[str, float]:
        """Plain dict for JSON storage."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> PidGains:
        """Inverse of `to_dict`; missing ki/kd default to 0."""
        return cls(
            kp=float(data["kp"]), ki=float(data.get("ki", 0.0)), kd=float(data.get("kd", 0.0))
        )


@dataclass(frozen=True)
class PidTerms:
    """The parts of the last output (before saturation) and the output itself, for telemetry."""

    p: float
    i: float
    d: float
    ff: float
    output: float


class PID:
    """PID with conditional integration, derivative on measurement, feed-forward and b-weighting.

    Args:
        gains: kp, ki, kd (see `PidGains`); settable later, bumplessly, through `gains`.
        out_min, out_max: output limits (duty 0..1 by default).
        setpoint_weight: b, 0..1: a setpoint change of dr moves P by kp * b * dr instead of
            kp * dr (the textbook kp * (b * setpoint - measured), in deviation form). 1 is plain
            PID; 0.5 takes most of the overshoot out of a small step at a small cost in speed.
            The integral still brings the reading exactly to the setpoint. Use it for steps, not
            ramps: on a ramp the reading trails by a further (1 - b) * ti_s * rate.
        derivative_tau_s: time constant of the first-order filter on the measured slope (0: none).
        feedforward: optional model setpoint_c -> output, added before saturation; an explicit
            `feedforward=` value passed to `update` overrides it for that call.

    The integral is stored in output units (the I term itself), so changing `ki` never bumps the
    output, and it is bounded to what can ever be useful: never beyond the point where the output
    saturates, i.e. the output range / ki of the classic clamp, shifted by the feed-forward.
    """

    def __init__(
        self,
        gains: PidGains,
        *,
        out_min: float = DEFAULT_OUT_MIN,
        out_max: float = DEFAULT_OUT_MAX,
        setpoint_weight: float = 1.0,
        derivative_tau_s: float = DEFAULT_DERIVATIVE_TAU_S,
        feedforward: Feedforward | None = None,
    ) -> None:
        if not out_min < out_max:
            raise ValueError(f"out_min ({out_min}) must be below out_max ({out_max})")
        if not 0.0 <= setpoint_weight <= 1.0:
            raise ValueError(f"setpoint_weight must be within 0..1, got {setpoint_weight}")
        if not derivative_tau_s >= 0.0:
            raise ValueError(f"derivative_tau_s must be >= 0, got {derivative_tau_s}")
        self._gains = gains
        self.out_min = out_min
        self.out_max = out_max
        self._b = setpoint_weight
        self._tau_s = derivative_tau_s
        self._feedforward = feedforward
        self._terms = PidTerms(0.0, 0.0, 0.0, 0.0, out_min)
        self.reset()

    @property
    def gains(self) -> PidGains:
        """Current gains. Setting new ones is bumpless: the integral absorbs the step in P and D."""
        return self._gains

    @gains.setter
    def gains(self, gains: PidGains) -> None:
        old = self._terms
        self._gains = gains
        if self._last_measured_c is not None and self._last_setpoint_c is not None:
            p_new = gains.kp * (self._last_setpoint_c - self._last_measured_c)
            self._i += (old.p - p_new) + (old.d + gains.kd * self._slope_c_per_s)

    @property
    def terms(self) -> PidTerms:
        """P, I, D, feed-forward and output of the last `update` (for telemetry and tuning)."""
        return self._terms

    @property
    def slope_c_per_s(self) -> float:
        """The filtered measured slope the derivative term acts on, in C/s."""
        return self._slope_c_per_s

    def reset(self, measured: float | None = None, output: float | None = None) -> None:
        """Forget the past; optionally take over bumplessly.

        `reset()` clears the integral and derivative. `reset(measured, output)` prepares a
        bumpless start or transfer (from manual, from the autotuner, from another law): the
        derivative starts from `measured` (in C) and the next `update` returns exactly `output`
        (if within the limits), because the integral is set on that call to make it so.
        """
        self._i = 0.0
        self._slope_c_per_s = 0.0
        self._last_measured_c = measured
        self._last_setpoint_c: float | None = None
        self._pending_output = output

    def update(
        self, measured: float, setpoint: float, dt_s: float, feedforward: float | None = None
    ) -> float:
        """One control step: the output (duty) to apply until the next call.

        Args:
            measured: the process value in C (a valid reading: faults are the caller's to handle).
            setpoint: the target in C.
            dt_s: time since the previous call in s, > 0.
            feedforward: output to add before saturation; if None, the constructor's model of the
                setpoint is used (or 0 without one).

        Raises ValueError on a non-finite input or feed-forward, or dt_s <= 0: a NaN must never
        reach the integral.
        """
        if not (math.isfinite(measured) and math.isfinite(setpoint)):
            raise ValueError(f"PID inputs must be finite: measured {measured}, setpoint {setpoint}")
        if not (dt_s > 0.0 and math.isfinite(dt_s)):
            raise ValueError(f"dt_s must be > 0 and finite, got {dt_s}")
        ff = self._feedforward_for(setpoint, feedforward)
        if not math.isfinite(ff):
            raise ValueError(f"feed-forward must be finite, got {ff}")
        self._update_slope(measured, dt_s)
        self._weight_setpoint_change(setpoint)
        p = self._gains.kp * (setpoint - measured)
        d = -self._gains.kd * self._slope_c_per_s
        if self._pending_output is not None:
            self._i = self._pending_output - (p + d + ff)
            self._pending_output = None
        else:
            self._integrate((setpoint - measured) * dt_s, p + d + ff, ff)
        output = min(max(p + self._i + d + ff, self.out_min), self.out_max)
        self._last_setpoint_c = setpoint
        self._terms = PidTerms(p=p, i=self._i, d=d, ff=ff, output=output)
        return output

    def _weight_setpoint_change(self, setpoint: float) -> None:
        """Setpoint weighting in deviation form: a setpoint change of dr moves P by kp * b * dr.

        The textbook `kp * (b * setpoint - measured)` depends on where zero is on the scale (C
        or K) and leaves an offset of kp (1 - b) setpoint for the integral to hold; taking only
        the change out of the integral gives the same step response with neither problem. The
        shift stops at one output span: a step that big saturates the output anyway, and a
        larger debt would only slow the heat-up while the integral pays it back.
        """
        if self._last_setpoint_c is None or self._b == 1.0:
            return
        span = self.out_max - self.out_min
        shifted = self._i - self._gains.kp * (1.0 - self._b) * (setpoint - self._last_setpoint_c)
        self._i = min(max(shifted, min(self._i, -span)), max(self._i, span))

    def _feedforward_for(self, setpoint: float, feedforward: float | None) -> float:
        if feedforward is not None:
            return feedforward
        return 0.0 if self._feedforward is None else self._feedforward(setpoint)

    def _update_slope(self, measured: float, dt_s: float) -> None:
        """First-order filtered d(measured)/dt: a quantisation step moves it by step/(tau + dt)."""
        if self._last_measured_c is not None:
            raw_c_per_s = (measured - self._last_measured_c) / dt_s
            self._slope_c_per_s += (raw_c_per_s - self._slope_c_per_s) * dt_s / (self._tau_s + dt_s)
        self._last_measured_c = measured

    def _integrate(self, error_c_s: float, rest: float, ff: float) -> None:
        """Conditional integration: move toward saturation only up to its edge, never beyond.

        `rest` is P + D + FF. Rising, the I term stops at min(out_max - rest, out_max - ff): the
        first is the edge of saturation, the second the output range / ki clamp. If it is already
        past that edge it holds; a step the other way (out of saturation) is always taken.
        """
        step = self._gains.ki * error_c_s
        new_i = self._i + step
        if step > 0.0:
            ceiling = self.out_max - max(rest, ff)
            new_i = min(new_i, max(self._i, ceiling))
        elif step < 0.0:
            floor = self.out_min - min(rest, ff)
            new_i = max(new_i, min(self._i, floor))
        self._i = new_i
