"""One heated zone's temperature control: ramp generator, PID and holding-power feed-forward.

A plain class: `update(measured_c, target_c, ramp_c_per_min, dt_s) -> duty`. It owns the ramp so
that a changed target starts a new ramp from where the setpoint is (bumpless), and it keeps the
last valid measurement so a single fault frame does not disturb the output (the supervisor decides
when a thermocouple is really broken).

Default gains come from SIMC on the integrating-plus-dead-time model the zone's own figures give
(full-power slope = heater_w / heat capacity; dead time = conduction + probe + heater-core lags),
so a 1 kW and a 4 kW press get different gains without tuning; an autotune result replaces them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware.control.feedforward import HoldingPowerModel
from firmware.control.pid import PID, PidGains
from firmware.control.ramp import RampGenerator

SETPOINT_WEIGHT = 1.0  # b < 1 makes a ramp trail by (1 - b) Ti rate: ~7 C at 5 C/min
MIN_DUTY_CHANGE_TARGET_C = 1e-6  # a target that moved less than this is the same target


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


def simc_gains(model: ZoneModel, tauc_s: float | None = None) -> PidGains:
    """SIMC PI for an integrating process: Kc = 1/(k'(tauc+theta)), tauI = 4(tauc+theta).

    PI, not PID: with 0.25 C quantisation a derivative adds switching, not damping."""
    tauc = model.dead_time_s if tauc_s is None else tauc_s
    kc = 1.0 / (model.slope_c_per_s * (tauc + model.dead_time_s))
    return PidGains.from_standard(kc, 4.0 * (tauc + model.dead_time_s))


class ZoneController:
    """Temperature control of one zone; see the module docstring."""

    def __init__(self, model: ZoneModel, gains: PidGains | None = None) -> None:
        self.model = model
        self.feedforward = HoldingPowerModel(model.heater_w, model.ua_w_per_k,
                                             ambient_c=model.ambient_c,
                                             heat_capacity_j_per_k=model.heat_capacity_j_per_k)
        self.pid = PID(gains or simc_gains(model), setpoint_weight=SETPOINT_WEIGHT)
        self.ramp = RampGenerator(math.inf, measurement_lag_s=model.dead_time_s)
        self._target_c: float | None = None
        self._ramped = False
        self._measured_c: float | None = None
        self.duty = 0.0

    @property
    def setpoint_c(self) -> float | None:
        """The ramped setpoint in force (None while the zone is off)."""
        return None if self._target_c is None else self.ramp.setpoint_c

    def off(self) -> float:
        """Heater off; the next target starts a fresh ramp from the measured temperature."""
        self._target_c = None
        self.duty = 0.0
        return 0.0

    def update(self, measured_c: float | None, target_c: float, ramp_c_per_min: float | None,
               dt_s: float, hold: bool = False) -> float:
        """Duty for the next tick. `measured_c` None: reuse the last valid reading."""
        if measured_c is not None:
            self._measured_c = measured_c
        if self._measured_c is None or dt_s <= 0:
            return self.off()
        self._follow_target(target_c, ramp_c_per_min)
        if not hold:
            self.ramp.update(dt_s)
        # A ramp is followed with feed-forward and the lag-delayed setpoint (`expected_c`); a step
        # is taken at full power without feed-forward, whose holding term would otherwise keep
        # the heater on while the lagging reading closes in (about 2 C of overshoot).
        setpoint_c = self.ramp.expected_c
        ff = 0.0
        if self._ramped:
            rate_c_per_s = 0.0 if hold or self.ramp.done else self.ramp.rate_c_per_s
            ff = self.feedforward.duty(setpoint_c, rate_c_per_s)
        self.duty = self.pid.update(self._measured_c, setpoint_c, dt_s, feedforward=ff)
        self.feedforward.observe(self._measured_c, setpoint_c, self.duty, dt_s)
        return self.duty

    def _follow_target(self, target_c: float, ramp_c_per_min: float | None) -> None:
        rate = math.inf if ramp_c_per_min is None else ramp_c_per_min
        self._ramped = math.isfinite(rate)
        if self._target_c is None:
            assert self._measured_c is not None
            self.ramp.rate_c_per_min = rate
            self.ramp.start(self._measured_c, target_c)
            self.pid.reset(measured=self._measured_c, output=self.duty)
        elif abs(target_c - self._target_c) > MIN_DUTY_CHANGE_TARGET_C:
            self.ramp.rate_c_per_min = rate
            self.ramp.start(self.ramp.setpoint_c, target_c)
        self._target_c = target_c
