"""Setpoint ramp generator in C/min, with the holdback of commercial programmers.

A recipe asks for "heat to 150 C at 5 C/min": the controller then follows a moving setpoint
instead of a step, so the platen heats at a rate the sample (and the thermal gradients across the
die) can take, and the PID never winds up against a step it cannot follow.

Holdback: if the measured temperature lags more than a band behind the ramp (heating: below it;
cooling: above it), the ramp pauses until the platen catches up. Without it a ramp faster than
the heater can follow ends with the setpoint far ahead of the platen, which is a step in disguise.

Measurement lag: a thermocouple in a drilled platen reads ~20 s late, so during a ramp it trails
the platen by rate x lag. A PID given the ramp itself sees that as error, charges its integral
and overshoots at the end of the ramp (2-3 C at 5-10 C/min on a simulated steel platen). With
`measurement_lag_s` set (the autotuner's dead_time_s), `expected_c` is the ramp as the sensor
should read it (the ramp through a first-order lag): give that to the PID, and the ramp's own
`setpoint_c` and `rate_c_per_s` to the feed-forward, which then does the heating.
Time is passed in (`update(dt_s)`); nothing here reads a clock.

Example::

    ramp = RampGenerator(rate_c_per_min=5.0, holdback_band_c=3.0, measurement_lag_s=22.0)
    ramp.start(from_c=25.0, to_c=150.0)
    while not ramp.done:
        setpoint_c = ramp.update(dt_s, measured_c=temp_c)
        ff = model.duty(setpoint_c, ramp.rate_c_per_s)
        duty = pid.update(temp_c, ramp.expected_c, dt_s, feedforward=ff)
"""

from __future__ import annotations

import math

SECONDS_PER_MINUTE = 60.0


class RampGenerator:
    """A setpoint that moves from `from_c` to `to_c` at `rate_c_per_min`, optionally held back.

    Args:
        rate_c_per_min: ramp rate magnitude, > 0 (math.inf: a step).
        holdback_band_c: if set, the ramp pauses while the measured value lags `expected_c` by
            more than this (in C); None disables holdback.
        measurement_lag_s: lag of the reading behind the platen, s (0: `expected_c` is the
            setpoint itself).
    """

    def __init__(
        self,
        rate_c_per_min: float,
        *,
        holdback_band_c: float | None = None,
        measurement_lag_s: float = 0.0,
    ) -> None:
        if holdback_band_c is not None and not holdback_band_c > 0.0:
            raise ValueError(f"holdback_band_c must be > 0 or None, got {holdback_band_c}")
        if not measurement_lag_s >= 0.0:
            raise ValueError(f"measurement_lag_s must be >= 0, got {measurement_lag_s}")
        self._band_c = holdback_band_c
        self._lag_s = measurement_lag_s
        self._expected_c = 0.0
        self._from_c: float | None = None
        self.rate_c_per_min = rate_c_per_min
        self._to_c = 0.0
        self._progress_s = 0.0
        self._setpoint_c = 0.0
        self._held = False

    @property
    def rate_c_per_min(self) -> float:
        """Ramp rate magnitude in C/min; may be changed mid-ramp (it applies from then on)."""
        return self._rate_c_per_min

    @rate_c_per_min.setter
    def rate_c_per_min(self, rate_c_per_min: float) -> None:
        if not rate_c_per_min > 0.0:
            raise ValueError(f"rate_c_per_min must be > 0, got {rate_c_per_min}")
        if self._from_c is not None:
            self._restart_from_current()
        self._rate_c_per_min = rate_c_per_min

    def start(self, from_c: float, to_c: float) -> None:
        """Begin a ramp at `from_c` (usually the current setpoint or reading) toward `to_c`."""
        if not (math.isfinite(from_c) and math.isfinite(to_c)):
            raise ValueError(f"ramp ends must be finite, got {from_c} -> {to_c}")
        self._from_c = from_c
        self._to_c = to_c
        self._progress_s = 0.0
        self._setpoint_c = from_c
        self._expected_c = from_c
        self._held = False

    def update(self, dt_s: float, measured_c: float | None = None) -> float:
        """Advance by `dt_s` seconds and return the setpoint in C.

        With holdback configured and `measured_c` given, the ramp does not advance while the
        measurement lags `expected_c` by more than the band; `held` then reads True.
        """
        if self._from_c is None:
            raise RuntimeError("RampGenerator.update() before start()")
        if not dt_s >= 0.0:
            raise ValueError(f"dt_s must be >= 0, got {dt_s}")
        self._held = self._lagging(measured_c)
        if not (self._held or self.done):
            self._progress_s += dt_s
            self._setpoint_c = self._setpoint_at(self._progress_s)
        if self._lag_s == 0.0:
            self._expected_c = self._setpoint_c
        else:
            self._expected_c += (self._setpoint_c - self._expected_c) * dt_s / (self._lag_s + dt_s)
        return self._setpoint_c

    @property
    def setpoint_c(self) -> float:
        """The current setpoint in C (the value the last `update` or `start` gave)."""
        return self._setpoint_c

    @property
    def expected_c(self) -> float:
        """The setpoint as a sensor lagging by `measurement_lag_s` reads it, in C (PID setpoint)."""
        return self._expected_c

    @property
    def rate_c_per_s(self) -> float:
        """Signed rate the setpoint is moving at now, C/s (0 when held or done): feed-forward."""
        if self._from_c is None or self._held or self.done or math.isinf(self._rate_c_per_min):
            return 0.0
        return math.copysign(self._rate_c_per_min / SECONDS_PER_MINUTE, self._to_c - self._from_c)

    @property
    def target_c(self) -> float:
        """Where the ramp ends, in C."""
        return self._to_c

    @property
    def done(self) -> bool:
        """True once the setpoint has reached the target (the platen may still be on its way)."""
        return self._from_c is not None and self._setpoint_c == self._to_c

    @property
    def held(self) -> bool:
        """True when the last `update` paused the ramp by holdback."""
        return self._held

    @property
    def remaining_s(self) -> float:
        """Time left at the ramp rate, in s, not counting future holdback pauses."""
        return abs(self._to_c - self._setpoint_c) / self._rate_c_per_min * SECONDS_PER_MINUTE

    def _setpoint_at(self, progress_s: float) -> float:
        """From + rate x time, computed afresh each call so the rate stays exact over hours."""
        assert self._from_c is not None
        if math.isinf(self._rate_c_per_min):
            return self._to_c
        travel_c = self._rate_c_per_min * progress_s / SECONDS_PER_MINUTE
        if travel_c >= abs(self._to_c - self._from_c):
            return self._to_c
        return self._from_c + math.copysign(travel_c, self._to_c - self._from_c)

    def _lagging(self, measured_c: float | None) -> bool:
        if self._band_c is None or measured_c is None or self.done:
            return False
        heating = self._to_c >= self._setpoint_c
        lag_c = self._expected_c - measured_c if heating else measured_c - self._expected_c
        return lag_c > self._band_c

    def _restart_from_current(self) -> None:
        """Re-anchor at the current setpoint so a rate change applies from now on."""
        self._from_c = self._setpoint_c
        self._progress_s = 0.0
