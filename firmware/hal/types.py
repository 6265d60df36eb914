"""Readings and faults as plain values: what crosses the hardware boundary into the loop.

A read never raises into the loop and never returns None or a bare 0: it returns a reading with
its time and raw value, or a `SensorFault` saying what went wrong.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FaultKind(enum.Enum):
    """Why a sensor read produced no valid value."""

    TC_OPEN = "thermocouple open"
    TC_SHORT_GND = "thermocouple short to GND"
    TC_SHORT_VCC = "thermocouple short to VCC"
    TC_FAULTY = "faulty thermocouple reading"
    BUS_ERROR = "sensor bus error"
    NOT_READY = "conversion not ready before deadline"
    WIRING = "transducer wiring fault"


@dataclass(frozen=True, slots=True)
class SensorFault:
    """A failed read: the time it was attempted, the kind and a human detail."""

    time_s: float
    kind: FaultKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TempReading:
    """One thermocouple read: hot junction (NIST-corrected) and cold junction, in C."""

    time_s: float
    temp_c: float
    cold_junction_c: float
    raw_temp_c: float  # the MAX31855's own linearised value, before NIST correction


@dataclass(frozen=True, slots=True)
class PressureReading:
    """One line-pressure read, gauge MPa, with the electrical value behind it."""

    time_s: float
    pressure_mpa: float
    signal: float  # volts (ratiometric) or milliamps (4-20 mA) at the transducer
    raw_counts: int


TempResult = TempReading | SensorFault
PressureResult = PressureReading | SensorFault
