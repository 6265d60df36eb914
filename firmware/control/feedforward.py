"""Holding-power model of a heater zone: the duty that holds a temperature, learnt while holding.

A platen at temperature T loses `UA (T - Ta) (1 + (T - Ta)/300)` watts (reference/plant.md: the
second factor stands in for radiation). Holding T needs that much heater power, so the duty is
`loss / heater_w`. Handing that to the PID as feed-forward leaves the integral only a small trim,
so a setpoint change or a ramp does not wait for an integral to charge up, or overshoot while it
unwinds. (On a full-power step from cold it adds overshoot instead: see pid.py.)

UA starts as an estimate from config and is LEARNT online: whenever the zone is settled (within
1 C of a constant setpoint and moving slower than 0.1 C/s, control.md's criterion, for a dwell),
the measured duty is the holding duty, so it gives a sample of UA; samples enter an exponentially
weighted average with a time constant long enough to average over SSR windows and limit cycles.
Plain class: the caller passes each reading, setpoint, applied duty and time step.

With a heat capacity given, `duty(temp_c, rate_c_per_s)` adds the power that heats the zone at a
ramp's rate, C dT/dt: the PID's integral then does not have to carry it through the ramp and
give it back as overshoot when the ramp ends. (The autotuner's k' gives C ~ heater_w / k'.)

Example::

    model = HoldingPowerModel(heater_w=2000.0, ua_w_per_k=2.5, ambient_c=25.0)
    pid = PID(gains, feedforward=model.duty)
    ...
    duty = pid.update(temp_c, setpoint_c, dt_s)
    model.observe(temp_c, setpoint_c, duty, dt_s)
"""

from __future__ import annotations

import math

# plant.md's loss law: (1 + rise/300 K) stands in for radiation from a bare platen.
RADIATION_SCALE_K = 300.0

# control.md (Klipper): "settled" means within 1 C of the setpoint ...
SETTLED_BAND_C = 1.0
# ... and moving slower than 0.1 C/s.
SETTLED_SLOPE_C_PER_S = 0.1

# After settling, the PID integral and ~20 s of conduction lag are still catching up with the
# heat stored during the approach; wait about six lag times before trusting the duty.
SETTLE_DWELL_S = 120.0

# Filter on the measured slope: one 0.25 C quantisation step at 4 Hz is a 1 C/s raw slope,
# which must not read as "unsettled"; over 10 s it is 0.025 C/s.
SLOPE_TAU_S = 10.0

# Time constant of the learning average: long enough to average SSR windows and a PID limit
# cycle of a few minutes, short enough to learn within a typical 30-60 min hold.
DEFAULT_LEARN_TAU_S = 600.0

# Below this rise above ambient the loss is small against duty noise, so UA is not learnt.
MIN_LEARN_RISE_K = 30.0

# A learnt UA stays within these factors of the configured estimate: a cold die on the platen or
# an open door would otherwise teach a wild value that then drives the feed-forward.
UA_LEARN_MIN_FACTOR = 0.25
UA_LEARN_MAX_FACTOR = 4.0


def loss_factor(rise_k: float) -> float:
    """rise x (1 + rise/300): loss per unit UA, in K, per plant.md (0 at or below ambient)."""
    rise_k = max(rise_k, 0.0)
    return rise_k * (1.0 + rise_k / RADIATION_SCALE_K)


def incremental_gain_c_per_duty(temp_c: float, ambient_c: float, hold_duty: float) -> float:
    """Steady-state dT/du at temp_c under the loss law, from the duty that holds temp_c (C/duty).

    The loss grows faster than linearly, so the gain for a small change is below (T - Ta) / duty.
    """
    rise_k = temp_c - ambient_c
    scale = (1.0 + rise_k / RADIATION_SCALE_K) / (1.0 + 2.0 * rise_k / RADIATION_SCALE_K)
    return rise_k * scale / hold_duty


class HoldingPowerModel:
    """Duty needed to hold a temperature, from heater power and a (learnt) loss coefficient UA.

    Args:
        heater_w: heater power at full duty, W.
        ua_w_per_k: first estimate of the zone's loss coefficient, W/K (plant.md: 2-3 W/K for a
            200 x 200 x 30 mm platen), from config; learning is bounded to 0.25x..4x of it.
        learnt_ua_w_per_k: a value learnt before (stored across restarts) to start from.
        ambient_c: ambient temperature, C; update `ambient_c` as it changes (the MAX31855
            cold-junction reading is a fair proxy).
        learn_tau_s: time constant of the learning average, s.
        heat_capacity_j_per_k: heat capacity of the zone (platen + heater), J/K, for the ramp
            term of `duty`; None leaves that term out.
    """

    def __init__(
        self,
        heater_w: float,
        ua_w_per_k: float,
        *,
        ambient_c: float = 25.0,
        learn_tau_s: float = DEFAULT_LEARN_TAU_S,
        heat_capacity_j_per_k: float | None = None,
        learnt_ua_w_per_k: float | None = None,
    ) -> None:
        if not heater_w > 0.0:
            raise ValueError(f"heater_w must be > 0, got {heater_w}")
        if not ua_w_per_k > 0.0:
            raise ValueError(f"ua_w_per_k must be > 0, got {ua_w_per_k}")
        if not learn_tau_s > 0.0:
            raise ValueError(f"learn_tau_s must be > 0, got {learn_tau_s}")
        self.heater_w = heater_w
        self.heat_capacity_j_per_k = heat_capacity_j_per_k
        self.ambient_c = ambient_c
        self._ua_min = ua_w_per_k * UA_LEARN_MIN_FACTOR
        self._ua_max = ua_w_per_k * UA_LEARN_MAX_FACTOR
        start_w_per_k = ua_w_per_k if learnt_ua_w_per_k is None else learnt_ua_w_per_k
        self._ua_w_per_k = self._bounded(start_w_per_k)
        self._learn_tau_s = learn_tau_s
        self._last_c: float | None = None
        self._last_setpoint_c: float | None = None
        self._slope_c_per_s = 0.0
        self._settled_s = 0.0
        self.learnt_s = 0.0
        """Total time spent learning, s: a confidence figure for telemetry."""

    @property
    def ua_w_per_k(self) -> float:
        """Current loss coefficient, W/K (the configured estimate until learning moves it)."""
        return self._ua_w_per_k

    @property
    def settled(self) -> bool:
        """True when the last `observe` found the zone settled for at least the dwell."""
        return self._settled_s >= SETTLE_DWELL_S

    def loss_w(self, temp_c: float) -> float:
        """Heat lost at `temp_c`, W: the power that holds it."""
        return self._ua_w_per_k * loss_factor(temp_c - self.ambient_c)

    def duty(self, temp_c: float, rate_c_per_s: float = 0.0) -> float:
        """Duty (0..1) holding `temp_c`, or moving it at `rate_c_per_s` C/s (with a heat capacity).

        Pass this method to `PID(feedforward=...)` for holding; on a ramp pass
        `feedforward=model.duty(ramp.setpoint_c, ramp.rate_c_per_s)` to `PID.update`.
        """
        power_w = self.loss_w(temp_c)
        if self.heat_capacity_j_per_k is not None:
            power_w += self.heat_capacity_j_per_k * rate_c_per_s
        return min(max(power_w / self.heater_w, 0.0), 1.0)

    def calibrate(self, temp_c: float, hold_duty: float) -> None:
        """Set UA from a measured holding duty at `temp_c` (e.g. the autotuner's `hold_duty`)."""
        rise_k = temp_c - self.ambient_c
        if rise_k < MIN_LEARN_RISE_K:
            raise ValueError(f"{temp_c} C is too near ambient to calibrate UA")
        self._ua_w_per_k = self._bounded(hold_duty * self.heater_w / loss_factor(rise_k))

    def observe(self, measured_c: float, setpoint_c: float, duty: float, dt_s: float) -> bool:
        """Feed one control step; returns True if it updated UA.

        Args:
            measured_c: the reading, C.
            setpoint_c: the setpoint the controller held, C.
            duty: the duty applied over this step (0..1).
            dt_s: length of the step, s (> 0).
        """
        if not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        if not (math.isfinite(measured_c) and math.isfinite(duty)):
            self._last_c, self._settled_s = None, 0.0
            return False
        self._track_settling(measured_c, setpoint_c, dt_s)
        rise_k = measured_c - self.ambient_c
        if not self.settled or rise_k < MIN_LEARN_RISE_K:
            return False
        sample_w_per_k = duty * self.heater_w / loss_factor(rise_k)
        weight = dt_s / (self._learn_tau_s + dt_s)
        self._ua_w_per_k = self._bounded(
            self._ua_w_per_k + (sample_w_per_k - self._ua_w_per_k) * weight
        )
        self.learnt_s += dt_s
        return True

    def _track_settling(self, measured_c: float, setpoint_c: float, dt_s: float) -> None:
        if self._last_c is not None:
            raw_c_per_s = (measured_c - self._last_c) / dt_s
            self._slope_c_per_s += (raw_c_per_s - self._slope_c_per_s) * dt_s / (SLOPE_TAU_S + dt_s)
        self._last_c = measured_c
        near = abs(measured_c - setpoint_c) <= SETTLED_BAND_C
        still = abs(self._slope_c_per_s) < SETTLED_SLOPE_C_PER_S
        holding = setpoint_c == self._last_setpoint_c  # a slow ramp passes the other two tests
        self._last_setpoint_c = setpoint_c
        self._settled_s = self._settled_s + dt_s if (near and still and holding) else 0.0

    def _bounded(self, ua_w_per_k: float) -> float:
        return min(max(ua_w_per_k, self._ua_min), self._ua_max)
