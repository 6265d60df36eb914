"""Line-pressure transducer and ram position sensor on ADS1115 channels; reads never raise.

Each `read()` returns a reading in SI units with the electrical value behind it, or a
`SensorFault`: bus errors become BUS_ERROR, a conversion that never finishes NOT_READY, and a
signal outside what a healthy sensor can produce WIRING (the supervisor trips on any of them).

Transducer kinds (reference/plant.md):
- ratiometric: 0.5-4.5 V is 10-90 % of the supply, for 0..range_mpa. The supply is measured on
  `supply_channel` when wired (so supply drift cancels), else taken as `supply_v`. Outside 5-95 %
  of supply (0.25-4.75 V at 5 V) the signal is a wiring fault: open signal wire, lost supply or
  ground, or a short.
- current: 4-20 mA through `shunt_ohm` for 0..range_mpa. Below 3.6 mA or above 21 mA is a wiring
  fault (NAMUR NE43): an open loop reads 0 mA, a short to the loop supply reads high.
A result pinned at the ADC's full scale is also reported as WIRING: the true signal is unknown and
may be an over-pressure, so passing on the clipped value would understate it.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.clock import Clock
from firmware.config.model import RamPositionConfig, TransducerConfig
from firmware.hal.ads1115 import (
    ADS1115,
    ConversionTimeoutError,
    check_settings,
    counts_to_voltage,
    is_saturated,
)
from firmware.hal.types import FaultKind, PressureReading, PressureResult, SensorFault

RATIO_ZERO_FRAC = 0.1  # ratiometric output at zero pressure: 0.5 V of 5 V
RATIO_SPAN_FRAC = 0.8  # ratiometric output span: 0.5..4.5 V of 5 V
RATIO_FAULT_LOW_FRAC = 0.05  # below 0.25 V of 5 V no healthy transducer drives the output
RATIO_FAULT_HIGH_FRAC = 0.95  # above 4.75 V of 5 V: shorted to supply or ground lost
SUPPLY_FSR_V = 6.144  # the 5 V supply only fits the widest range (chip powered from 5 V)
SUPPLY_TOLERANCE_FRAC = 0.1  # a supply this far from nominal is a wiring fault, not drift

LOOP_ZERO_MA = 4.0  # current output at zero pressure
LOOP_SPAN_MA = 16.0  # current span: 4..20 mA
NAMUR_LOW_MA = 3.6  # NAMUR NE43: below this the loop is open or the transmitter failed
NAMUR_HIGH_MA = 21.0  # NAMUR NE43: above this the loop is shorted or the transmitter failed
MA_PER_A = 1000.0

RAM_MARGIN_FRAC = 0.05  # a pot never reads beyond its ends by more than this: wiper or end open


@dataclass(frozen=True, slots=True)
class PositionReading:
    """One ram position read: travel from the bottom end in mm, with the wiper voltage behind it."""

    time_s: float
    position_mm: float
    voltage_v: float


PositionResult = PositionReading | SensorFault


SUPPLY_PERIOD_S = 1.0  # how often a ratiometric transducer's supply is re-measured


class PressureTransducer:
    """The line-pressure transducer described by a `TransducerConfig`, read through `adc`.

    Settings are checked here, once, so `read()` has nothing left to raise. The ADC is shared
    with other sensors; its owner closes it.
    """

    def __init__(self, adc: ADS1115, cfg: TransducerConfig, clock: Clock) -> None:
        if cfg.kind not in ("ratiometric", "current"):
            raise ValueError(f"transducer kind must be ratiometric or current, not {cfg.kind!r}")
        check_settings(cfg.channel, cfg.fsr_v, cfg.data_rate_sps)
        if cfg.kind == "ratiometric" and cfg.supply_channel is not None:
            check_settings(cfg.supply_channel, SUPPLY_FSR_V, cfg.data_rate_sps)
        self._adc = adc
        self._cfg = cfg
        self._clock = clock
        self._supply_v = cfg.supply_v
        self._next_supply_s = float("-inf")

    def read(self) -> PressureResult:
        """Pressure (gauge MPa, calibrated) now, or a SensorFault saying why not. Never raises."""
        start_s = self._clock.now()
        try:
            return self._read(start_s)
        except ConversionTimeoutError as exc:
            return SensorFault(start_s, FaultKind.NOT_READY, str(exc))
        except OSError as exc:
            return SensorFault(start_s, FaultKind.BUS_ERROR, str(exc))

    def _read(self, start_s: float) -> PressureResult:
        """Supply (if measured), then signal, then scale and check; bus errors raise."""
        cfg = self._cfg
        supply_v = cfg.supply_v
        if cfg.kind == "ratiometric" and cfg.supply_channel is not None:
            supply_v = self._supply(start_s)
            if abs(supply_v - cfg.supply_v) > SUPPLY_TOLERANCE_FRAC * cfg.supply_v:
                return self._wiring(start_s, f"supply on AIN{cfg.supply_channel} reads "
                                             f"{supply_v:.3f} V, expected {cfg.supply_v:g} V")
        counts = self._adc.read_counts(cfg.channel, cfg.fsr_v, cfg.data_rate_sps)
        if is_saturated(counts):
            return self._wiring(start_s, f"signal on AIN{cfg.channel} at the ADC's full scale "
                                         f"(+-{cfg.fsr_v} V): over range or shorted")
        voltage_v = counts_to_voltage(counts, cfg.fsr_v)
        if cfg.kind == "ratiometric":
            return self._ratiometric(start_s, voltage_v, supply_v, counts)
        return self._current(start_s, voltage_v, counts)

    def _supply(self, now_s: float) -> float:
        """The supply, re-measured every SUPPLY_PERIOD_S: it drifts over seconds, not ticks, and
        a conversion per tick for it would halve the rate the pressure loop can run at."""
        if now_s >= self._next_supply_s:
            self._supply_v = self._adc.read_voltage(self._cfg.supply_channel or 0, SUPPLY_FSR_V,
                                                    self._cfg.data_rate_sps)
            self._next_supply_s = now_s + SUPPLY_PERIOD_S
        return self._supply_v

    def _ratiometric(self, start_s: float, voltage_v: float, supply_v: float,
                     counts: int) -> PressureResult:
        """0.5-4.5 V of a 5 V supply (scaled to the actual supply) -> MPa, or WIRING."""
        ratio = voltage_v / supply_v
        if not RATIO_FAULT_LOW_FRAC <= ratio <= RATIO_FAULT_HIGH_FRAC:
            return self._wiring(start_s, f"ratiometric signal {voltage_v:.3f} V is outside "
                                         f"{RATIO_FAULT_LOW_FRAC * supply_v:.3f}.."
                                         f"{RATIO_FAULT_HIGH_FRAC * supply_v:.3f} V")
        span_frac = (ratio - RATIO_ZERO_FRAC) / RATIO_SPAN_FRAC
        return self._reading(span_frac, voltage_v, counts)

    def _current(self, start_s: float, voltage_v: float, counts: int) -> PressureResult:
        """4-20 mA through the shunt -> MPa, or WIRING outside NAMUR NE43's healthy band."""
        current_ma = voltage_v / self._cfg.shunt_ohm * MA_PER_A
        if not NAMUR_LOW_MA <= current_ma <= NAMUR_HIGH_MA:
            return self._wiring(start_s, f"loop current {current_ma:.2f} mA is outside "
                                         f"{NAMUR_LOW_MA}..{NAMUR_HIGH_MA} mA (NAMUR NE43)")
        span_frac = (current_ma - LOOP_ZERO_MA) / LOOP_SPAN_MA
        return self._reading(span_frac, current_ma, counts)

    def _reading(self, span_frac: float, signal: float, counts: int) -> PressureReading:
        """Span fraction -> calibrated MPa, stamped when the signal conversion finished."""
        cfg = self._cfg
        pressure_mpa = (span_frac * cfg.range_mpa - cfg.zero_offset_mpa) * cfg.span_factor
        return PressureReading(self._clock.now(), pressure_mpa, signal, counts)

    def _wiring(self, start_s: float, detail: str) -> SensorFault:
        """A WIRING fault at `start_s` naming the transducer kind."""
        return SensorFault(start_s, FaultKind.WIRING, f"{self._cfg.kind} transducer: {detail}")


class RamPositionSensor:
    """A linear potentiometer on the ram: 0..`full_scale_v` V over 0..`range_mm` mm.

    A wiper that is open and floats cannot be seen unless the board has a pull-down on the
    channel; a lost pot end (reading 0 V or the supply) shows as a reading beyond the ends.
    """

    def __init__(self, adc: ADS1115, cfg: RamPositionConfig, fsr_v: float, rate: int,
                 clock: Clock) -> None:
        check_settings(cfg.channel, fsr_v, rate)
        if fsr_v < cfg.full_scale_v * (1.0 + RAM_MARGIN_FRAC):
            raise ValueError(f"fsr_v {fsr_v} V cannot see the pot's {cfg.full_scale_v} V end "
                             f"with its {RAM_MARGIN_FRAC:.0%} margin; choose a wider range")
        self._adc = adc
        self._cfg = cfg
        self._fsr_v = fsr_v
        self._rate_sps = rate
        self._clock = clock

    def read(self) -> PositionResult:
        """Ram position (mm) now, or a SensorFault saying why not. Never raises."""
        start_s = self._clock.now()
        try:
            voltage_v = self._adc.read_voltage(self._cfg.channel, self._fsr_v, self._rate_sps)
        except ConversionTimeoutError as exc:
            return SensorFault(start_s, FaultKind.NOT_READY, str(exc))
        except OSError as exc:
            return SensorFault(start_s, FaultKind.BUS_ERROR, str(exc))
        return self._position(start_s, voltage_v)

    def _position(self, start_s: float, voltage_v: float) -> PositionResult:
        """Wiper volts -> mm, or WIRING when beyond the pot's ends."""
        full_scale_v = self._cfg.full_scale_v
        margin_v = RAM_MARGIN_FRAC * full_scale_v
        if not -margin_v <= voltage_v <= full_scale_v + margin_v:
            return SensorFault(start_s, FaultKind.WIRING, f"ram position pot on AIN"
                               f"{self._cfg.channel} reads {voltage_v:.3f} V, beyond 0.."
                               f"{full_scale_v} V")
        position_mm = voltage_v / full_scale_v * self._cfg.range_mm
        return PositionReading(self._clock.now(), position_mm, voltage_v)
