"""One heated zone's temperature control: ramp, predictive observer, state feedback, feed-forward.

A plain class: `update(measured_c, target_c, ramp_c_per_min, dt_s, hold) -> duty`, time passed
in, no I/O. It only ever sees the thermocouple reading.

Why not a PID on the reading: a steel platen reads its heat ~20 s late (reference/plant.md), and
at full power that is ~8 C of heat already on its way when the reading is still below target. A PI
tuned for that lag (SIMC) brakes early and creeps in over minutes; a faster one overshoots, and a
lithium cell at 170 C is 10 C from melting. So the law is model-based:

1. `ZoneObserver` (observer.py) runs the zone's physics (heater power, heat capacity, losses, the
   lag to the probe) on the duty actually applied, corrected by every reading. Its
   `predicted_c` is where the reading will settle if the duty from now on just holds it, and
   its `load_duty` is whatever heat the model does not account for (a cold die, a UA error).
2. The duty is the holding power of the setpoint (`HoldingPowerModel`, plus C x rate on a ramp)
   plus the estimated load, plus a proportional trim on setpoint - predicted_c (the `pid`, P only:
   the load estimate is the integral action). From cold the trim saturates the output, so the
   zone heats at full power and brakes only when the heat in flight will carry it to the target:
   the time-optimal heat-up, from the model and the measured response, with no switching logic
   and nothing to hand over. The same law rejects loads: a cold die shows as load as soon as the
   reading bends, and its duty is added at once instead of waiting for an integral to charge.
3. The ramp (`RampGenerator`) owns the setpoint, so a changed target starts a new ramp from where
   the setpoint is (bumpless); the predicted temperature follows it, so the platen tracks a ramp
   (~7 s behind: the heater core) while the reading trails by rate x dead time.

It is only as good as its model: on the reference press a dead time 10 % off adds ~0.2-0.4 C of
overshoot, 20 % ~0.4-1 C. Take the model from a relay autotune (`apply_autotune`): its k' and theta
come within a few % of the real ones, and control is then as good as with the true figures.

A fault frame (measured_c None) reuses the last valid reading: one bad frame must not disturb the
output; the supervisor decides when a thermocouple is really broken.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from firmware.control.autotune import AutotuneResult
from firmware.control.feedforward import HoldingPowerModel
from firmware.control.observer import DEFAULT_TICK_S, LAG_STAGES, ZoneObserver
from firmware.control.pid import PID, PidGains
from firmware.control.ramp import RampGenerator

MIN_DUTY_CHANGE_TARGET_C = 1e-6  # a target that moved less than this is the same target

# Closed-loop time constant of the predicted temperature, as a fraction of the zone's dead time:
# kp = 1 / (k' x fraction x dead time), 0.87 duty/C (2.8 s) on the reference platen. The trim
# acts on the model's prediction, not on the late reading, so it can be this fast: the output
# stays saturated until ~1 C of predicted error, then the platen lands within a heater-core lag.
# On the reference press 1/3 of the lag takes ~10 s longer to settle a heat-up and 1/25 raises the
# steady-state ripple (0.12 -> 0.17 C peak-to-peak) for no gain in speed.
CLOSED_LOOP_LAG_FRACTION = 0.125


@dataclass(frozen=True)
class ZoneModel:
    """What control needs to know of a zone, in physical terms."""

    heater_w: float
    heat_capacity_j_per_k: float  # platen + heater core
    dead_time_s: float  # heater -> thermocouple lag
    ua_w_per_k: float = 2.5
    ambient_c: float = 25.0

    @property
    def slope_c_per_s(self) -> float:
        """Heating rate at full duty with no losses: the integrating gain k'."""
        return self.heater_w / self.heat_capacity_j_per_k

    def lag_stages_s(self) -> tuple[float, ...]:
        """The dead time as the observer's equal first-order stages, s."""
        return (self.dead_time_s / LAG_STAGES,) * LAG_STAGES


def simc_gains(model: ZoneModel, tauc_s: float | None = None) -> PidGains:
    """SIMC PI for an integrating process: Kc = 1/(k'(tauc+theta)), tauI = 4(tauc+theta).

    For a PI on the reading; `ZoneController` uses `predictive_gains`. PI, not PID: with 0.25 C
    quantisation a derivative adds switching, not damping."""
    tauc = model.dead_time_s if tauc_s is None else tauc_s
    kc = 1.0 / (model.slope_c_per_s * (tauc + model.dead_time_s))
    return PidGains.from_standard(kc, 4.0 * (tauc + model.dead_time_s))


def predictive_gains(model: ZoneModel) -> PidGains:
    """P gain on the predicted temperature (see CLOSED_LOOP_LAG_FRACTION); no I, no D."""
    return PidGains(kp=1.0 / (model.slope_c_per_s * CLOSED_LOOP_LAG_FRACTION * model.dead_time_s))


class ZoneController:
    """Temperature control of one zone; see the module docstring.

    Args:
        model: the zone's physics (from config: `firmware.run.core_support.zone_model`).
        gains: gains of the trim on the predicted temperature; default `predictive_gains`.
            Keep ki at 0: the load estimate already integrates, and a second integrator on the
            prediction (e.g. SIMC gains meant for the reading) overshoots by ~2 C.
        tick_s: the loop period the observer's gains are worked out for, s.
    """

    def __init__(self, model: ZoneModel, gains: PidGains | None = None,
                 tick_s: float = DEFAULT_TICK_S) -> None:
        self.model = model
        self.feedforward = HoldingPowerModel(model.heater_w, model.ua_w_per_k,
                                             ambient_c=model.ambient_c,
                                             heat_capacity_j_per_k=model.heat_capacity_j_per_k)
        self.pid = PID(gains or predictive_gains(model))
        self.ramp = RampGenerator(math.inf, measurement_lag_s=model.dead_time_s)
        self._tick_s = tick_s
        self.observer = self._new_observer()
        self._target_c: float | None = None
        self._measured_c: float | None = None
        self.duty = 0.0

    @property
    def setpoint_c(self) -> float | None:
        """The ramped setpoint in force (None while the zone is off)."""
        return None if self._target_c is None else self.ramp.setpoint_c

    @property
    def predicted_c(self) -> float | None:
        """Where the reading is heading at holding duty, C (None before the first reading)."""
        return self.observer.predicted_c if self.observer.started else None

    def off(self, measured_c: float | None = None, dt_s: float | None = None) -> float:
        """Heater off; the next target starts a fresh ramp from the measured temperature.

        Call it every tick while the zone is off (the core does), so the model keeps count of
        the heat still on its way to the probe: with the reading and the tick's dt_s it keeps
        tracking the zone; without them it runs open-loop, one `tick_s` per call.
        """
        step_s = self._tick_s if dt_s is None else dt_s
        if measured_c is not None:
            self._measured_c = measured_c
            if self.observer.started and step_s > 0:
                self.observer.update(measured_c, self.duty, step_s)
        elif step_s > 0:
            self.observer.coast(self.duty, step_s)
        self._target_c = None
        self.duty = 0.0
        return 0.0

    def apply_autotune(self, result: AutotuneResult) -> None:
        """Take the plant as a relay test measured it: k' gives the heat capacity, theta the dead
        time, the holding duty the loss coefficient. Gains follow the new model (bumplessly)."""
        self.model = dataclasses.replace(
            self.model, heat_capacity_j_per_k=result.heat_capacity_j_per_k(self.model.heater_w),
            dead_time_s=result.dead_time_s)
        self.feedforward.heat_capacity_j_per_k = self.model.heat_capacity_j_per_k
        if result.target_c - self.model.ambient_c > 0.0 and result.hold_duty > 0.0:
            self.feedforward.calibrate(result.target_c, result.hold_duty)
        old, self.observer = self.observer, self._new_observer()
        if old.started:
            self.observer.start(old.reading_c)
        self._target_c = None  # the next update starts afresh from the reading
        self.pid.gains = predictive_gains(self.model)

    def update(self, measured_c: float | None, target_c: float, ramp_c_per_min: float | None,
               dt_s: float, hold: bool = False) -> float:
        """Duty (0..1) for the next tick.

        Args:
            measured_c: the reading, C; None (a fault frame) reuses the last valid one.
            target_c: where the zone should go, C.
            ramp_c_per_min: how fast the setpoint moves there; None is a step.
            dt_s: time since the last call, s (the previous duty was applied over it).
            hold: freeze the ramp where it is (a paused recipe).
        """
        if measured_c is not None:
            self._measured_c = measured_c
        if self._measured_c is None or dt_s <= 0:
            return self.off()
        if self._target_c is None:
            self.observer.restart(self._measured_c)
        else:
            self.observer.update(self._measured_c, self.duty, dt_s)
        self._follow_target(target_c, ramp_c_per_min)
        if not hold:
            self.ramp.update(dt_s)
        setpoint_c = self.ramp.setpoint_c
        rate_c_per_s = 0.0 if hold else self.ramp.rate_c_per_s
        ff = self.feedforward.duty(setpoint_c, rate_c_per_s) + self.observer.load_duty
        self.duty = self.pid.update(self.observer.predicted_c, setpoint_c, dt_s, feedforward=ff)
        self.feedforward.observe(self._measured_c, setpoint_c, self.duty, dt_s)
        return self.duty

    def _new_observer(self) -> ZoneObserver:
        return ZoneObserver(self.model.slope_c_per_s, self.model.lag_stages_s(), self._loss_duty,
                            self._tick_s)

    def _loss_duty(self, temp_c: float) -> float:
        return self.feedforward.loss_w(temp_c) / self.model.heater_w

    def _follow_target(self, target_c: float, ramp_c_per_min: float | None) -> None:
        rate = math.inf if ramp_c_per_min is None else ramp_c_per_min
        if self._target_c is None:
            assert self._measured_c is not None
            self.ramp.rate_c_per_min = rate
            self.ramp.start(self._measured_c, target_c)
            self.pid.reset(measured=self.observer.predicted_c)
        elif abs(target_c - self._target_c) > MIN_DUTY_CHANGE_TARGET_C:
            self.ramp.rate_c_per_min = rate
            self.ramp.start(self.ramp.setpoint_c, target_c)
        self._target_c = target_c
