"""Sensor health: stale readings, and bad reads counted the way real MAX31855s need.

A real MAX31855 on a hot press sends a sporadic short-to-GND/VCC frame now and then (about one
in 10,000 reads, reference/plant.md). Tripping on one would stop a two-hour run for nothing, so
one bad read is a warning; a streak (Klipper/Marlin) or too many in a window (kiln-controller)
is a trip. Which code a trip gets says where to look: SENSOR_BUS for SPI/I2C errors (OSError
121, a stuck MISO, a conversion that never finished), TC_FAULT for the thermocouple itself
(open, shorted, faulty frame), TRANSDUCER_WIRING for a transducer signal no healthy sensor gives.
"""

from __future__ import annotations

from collections.abc import Iterator

from firmware.hal.types import FaultKind, SensorFault
from firmware.safety.faults import Fault, FaultCode, Finding
from firmware.safety.history import ReadHealth
from firmware.safety.observation import Observation, rounded
from firmware.safety.thresholds import SafetyConfig

PRESSURE = "pressure"  # subject of the line-pressure transducer's findings
BUS_KINDS = frozenset({FaultKind.BUS_ERROR, FaultKind.NOT_READY})
# A clipped or out-of-range transducer signal while the pump adds energy may be an over-pressure
# the transducer cannot show: trip on the first such read instead of waiting for a streak.
WIRING_WHILE_PUMPING_READS = 1


def fault_code(kind: FaultKind, channel: str) -> FaultCode:
    """The supervisor code for a bad read of `kind` on `channel`."""
    if kind in BUS_KINDS:
        return FaultCode.SENSOR_BUS
    return FaultCode.TRANSDUCER_WIRING if channel == PRESSURE else FaultCode.TC_FAULT


class StaleCheck:
    """STALE_SENSOR: a result older than its bound means the reader has stopped, not the press.

    Thermocouples are polled every `tc_period_s` and reused between polls, so their bound is a
    few poll periods; the transducer is read every tick, so its bound is a few ticks.
    """

    codes = frozenset({FaultCode.STALE_SENSOR})

    def __init__(self, tc_names: tuple[str, ...], cfg: SafetyConfig) -> None:
        self.tc_names = tc_names
        self.cfg = cfg

    def _ages(self, obs: Observation) -> Iterator[tuple[str, float | None, float]]:
        """(subject, age in s or None when there is no result at all, bound in s)."""
        for name in self.tc_names:
            result = obs.sample.temps.get(name)
            age_s = None if result is None else obs.now_s - result.time_s
            yield name, age_s, self.cfg.tc_stale_s
        yield PRESSURE, obs.now_s - obs.sample.pressure.time_s, self.cfg.pressure_stale_s

    def _problem(self, age_s: float | None, bound_s: float) -> str | None:
        if age_s is None:
            return "no reading at all"
        if age_s <= bound_s:
            return None
        return f"last result is {age_s:.2f} s old (bound {bound_s:.2f} s)"

    def evaluate(self, obs: Observation) -> list[Finding]:
        """A trip for every reading past its bound."""
        found: list[Finding] = []
        for subject, age_s, bound_s in self._ages(obs):
            problem = self._problem(age_s, bound_s)
            if problem is not None:
                found.append(obs.trip(FaultCode.STALE_SENSOR, subject, problem,
                                      age_s=rounded(age_s) if age_s is not None else -1.0,
                                      bound_s=rounded(bound_s)))
        return found

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the sensor's latest result is within its bound again."""
        for subject, age_s, bound_s in self._ages(obs):
            if subject == fault.subject:
                return self._problem(age_s, bound_s)
        return None

    def forget(self) -> None:
        """Nothing to forget: staleness is judged afresh every tick."""


class ReadHealthCheck:
    """TC_FAULT / SENSOR_BUS / TRANSDUCER_WIRING from each channel's new reads."""

    codes = frozenset({FaultCode.TC_FAULT, FaultCode.SENSOR_BUS, FaultCode.TRANSDUCER_WIRING})

    def __init__(self, tc_names: tuple[str, ...], cfg: SafetyConfig) -> None:
        self.tc_names = tc_names
        self.cfg = cfg
        window, fraction = cfg.bad_read_window_reads, cfg.bad_read_window_fraction
        self._health = {name: ReadHealth(cfg.tc_bad_consecutive_reads, window, fraction)
                        for name in tc_names}
        self._health[PRESSURE] = ReadHealth(cfg.pressure_bad_consecutive_reads, window, fraction)

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Count each new read once; a bad one is a warning, a bad streak or window a trip."""
        found: list[Finding] = []
        for name in self.tc_names:
            result = obs.sample.temps.get(name)
            if name in obs.new_temps and result is not None:
                found.extend(self._judge(name, result, obs, None))
        if obs.new_pressure:
            result = obs.sample.pressure
            limit = None
            if (isinstance(result, SensorFault) and result.kind is FaultKind.WIRING
                    and obs.ctx.last_outputs.pump_on):
                limit = WIRING_WHILE_PUMPING_READS
            found.extend(self._judge(PRESSURE, result, obs, limit))
        return found

    def _judge(self, channel: str, result: object, obs: Observation,
               limit: int | None) -> list[Finding]:
        """Record one read on `channel`; findings only when it was bad."""
        health = self._health[channel]
        health.record(not isinstance(result, SensorFault))
        if not isinstance(result, SensorFault):
            return []
        code = fault_code(result.kind, channel)
        values = dict(kind=result.kind.value, detail=result.detail,
                      consecutive_bad=health.consecutive_bad,
                      bad_in_window=health.bad_in_window,
                      window_reads=self.cfg.bad_read_window_reads)
        if health.tripped(limit):
            why = (f"{health.consecutive_bad} bad reads in a row" if not health.window_tripped
                   else f"{health.bad_in_window} of the last {self.cfg.bad_read_window_reads} "
                        "reads bad")
            return [obs.trip(code, channel, f"{result.kind.value}: {why}", **values)]
        return [obs.warn(code, channel, f"{result.kind.value}: one bad read, tolerated", **values)]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the channel reads valid now and has given `reset_good_reads` in a row."""
        health = self._health.get(fault.subject)
        if health is None:
            return None
        current = (obs.sample.pressure if fault.subject == PRESSURE
                   else obs.sample.temps.get(fault.subject))
        if current is None or isinstance(current, SensorFault):
            return "still not reading: check the wiring, the connector and the bus"
        need = self.cfg.reset_good_reads
        if health.consecutive_good < need:
            return f"only {health.consecutive_good} good reads in a row so far, need {need}"
        return None

    def forget(self) -> None:
        """Drop the bad-read windows, so an old burst does not re-trip a repaired sensor."""
        for health in self._health.values():
            health.clear()
