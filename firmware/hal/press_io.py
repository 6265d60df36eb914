"""All the sensors and outputs of one press behind two calls: `read()` and `apply()`.

Each sensor is read at its own rate: thermocouples no faster than the MAX31855 converts (the last
reading is reused between polls, its own timestamp showing its age), pressure and switches every
tick. Nothing here raises into the loop: every result is a reading or a `SensorFault`.

Retrofit presses may read zone temperatures, pressure (or force) and ram position from serial
instruments instead (`serial_bus`): they are polled off the loop and `read()` takes their latest
results, each with the time it arrived; setpoints for existing controllers leave through `apply`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware.clock import Clock
from firmware.config.model import PressConfig
from firmware.hal.ads1115 import ADS1115
from firmware.hal.backend import Backend
from firmware.hal.inputs import SwitchInput
from firmware.hal.outputs import OutputCommands, PressOutputs
from firmware.hal.serial_bus import SerialInstruments
from firmware.hal.thermocouple import Thermocouple
from firmware.hal.transducer import (
    PositionReading,
    PositionResult,
    PressureTransducer,
    RamPositionSensor,
)
from firmware.hal.types import (
    PressureReading,
    PressureResult,
    SensorFault,
    TempReading,
    TempResult,
)

POSITION_FSR_V = 4.096  # ram position potentiometer span (<= 3.3 V) fits the 4.096 V range


@dataclass(frozen=True)
class Sample:
    """Everything the loop knows about the press at one tick."""

    time_s: float
    temps: dict[str, TempResult]  # by zone name, plus "sample" when fitted
    pressure: PressureResult
    estop: bool
    guard_open: bool
    position: PositionResult | None = None
    fresh_temps: frozenset[str] = field(default_factory=frozenset)  # zones read this tick


class PressIO:
    """Sensors in, outputs out, for one press; the only object the loop touches hardware through."""

    def __init__(self, cfg: PressConfig, backend: Backend, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self.backend = backend
        # Outputs first: whatever else fails to open, the heaters and pump are already safe.
        self.outputs = PressOutputs(cfg, backend.pin_factory)
        self.serial: SerialInstruments | None = None
        try:
            self.thermocouples = {
                z.name: Thermocouple(backend.spi, backend.chip_select(z.tc_cs_pin), clock, z.name)
                for z in cfg.zones if z.tc_cs_pin is not None
            }
            if cfg.sample_tc_cs_pin is not None:
                self.thermocouples["sample"] = Thermocouple(
                    backend.spi, backend.chip_select(cfg.sample_tc_cs_pin), clock, "sample")
            t, pos = cfg.transducer, cfg.inputs.ram_position
            self.adc = ADS1115(backend.i2c, t.address, clock) if t is not None else None
            self.transducer = (PressureTransducer(self.adc, t, clock)
                               if self.adc is not None and t is not None else None)
            self.position = (RamPositionSensor(self.adc, pos, POSITION_FSR_V,
                                               t.data_rate_sps, clock)
                             if self.adc is not None and t is not None and pos is not None
                             else None)
            self.serial = (SerialInstruments(cfg, backend.open_serial, clock,
                                             threaded=not backend.serial_inline)
                           if cfg.instruments else None)
            self.estop = SwitchInput("estop", cfg.inputs.estop, backend.pin_factory)
            self.guard = (SwitchInput("guard", cfg.inputs.guard, backend.pin_factory)
                          if cfg.inputs.guard is not None else None)
        except Exception:
            self.outputs.close()
            if self.serial is not None:
                self.serial.close()
            raise
        self._temps: dict[str, TempResult] = {}
        self._next_tc_s = float("-inf")
        self._serial_seen_s: dict[str, float] = {}

    def read(self) -> Sample:
        """Read what is due now; reuse the last thermocouple results between their polls."""
        now_s = self.clock.now()
        fresh: frozenset[str] = frozenset()
        if now_s >= self._next_tc_s:
            self._temps = {name: tc.read() for name, tc in self.thermocouples.items()}
            fresh = frozenset(self._temps)
            # Keep to the grid, but never poll again sooner than one period (the conversion time).
            period_s = self.cfg.loop.tc_period_s
            self._next_tc_s += period_s
            if self._next_tc_s <= now_s:
                self._next_tc_s = now_s + period_s
        temps = dict(self._temps)
        if self.serial is not None:
            fresh = fresh | self._read_serial(now_s, temps)
        pressure = self.read_pressure()
        position = self.position.read() if self.position is not None else self._serial_position()
        return Sample(
            time_s=now_s, temps=temps, pressure=pressure,
            estop=self.estop.asserted,
            guard_open=self.guard.asserted if self.guard is not None else False,
            position=position, fresh_temps=fresh,
        )

    def read_pressure(self) -> PressureResult:
        """Only the line pressure: what the inner pressure loop needs between ticks."""
        if self.transducer is not None:
            return self.transducer.read()
        assert self.serial is not None  # the loader allows no press without a pressure source
        result = self.serial.pressure()
        assert isinstance(result, PressureReading | SensorFault)
        return result

    def _read_serial(self, now_s: float, temps: dict[str, TempResult]) -> frozenset[str]:
        """Serial zone temperatures into `temps`; returns the zones with a new result."""
        assert self.serial is not None
        if self.backend.serial_inline:
            self.serial.service(now_s)
        fresh = set()
        for zone, result in self.serial.temps().items():
            assert isinstance(result, TempReading | SensorFault)
            temps[zone] = result
            if result.time_s > self._serial_seen_s.get(zone, float("-inf")):
                self._serial_seen_s[zone] = result.time_s
                fresh.add(zone)
        return frozenset(fresh)

    def _serial_position(self) -> PositionResult | None:
        """The ram position from a serial dial indicator, if one is fitted."""
        result = self.serial.position() if self.serial is not None else None
        assert result is None or isinstance(result, PositionReading | SensorFault)
        return result

    def apply_hydraulics(self, cmd: OutputCommands) -> None:
        """Set pump and valves only (heater SSR windows advance once per tick, in `apply`)."""
        self.outputs.apply_hydraulics(cmd)

    def apply(self, cmd: OutputCommands) -> None:
        """Set the outputs for this tick (states only: nothing here waits; a controller's
        setpoint is handed to its serial line, which writes it on its own time)."""
        self.outputs.apply(cmd)
        if self.serial is not None:
            self.serial.set_setpoints(cmd.controller_setpoints_c)

    def safe(self) -> None:
        """Every output to its safe state now (existing controllers: their safe setpoint)."""
        self.outputs.all_safe()
        if self.serial is not None:
            self.serial.safe()

    def close(self) -> None:
        """Safe state, then release pins and buses."""
        self.outputs.close()
        if self.serial is not None:
            self.serial.close()
        for dev in (self.estop, self.guard):
            if dev is not None:
                dev.close()
        self.backend.close()
