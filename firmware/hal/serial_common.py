"""What every serial instrument shares: its latest result, its schedule, and readings in SI.

A serial instrument is polled by a bus (`serial_bus.SerialBus`), on its own thread on a real
press, and the loop only ever reads `latest`: a reading stamped with the time it arrived, or a
`SensorFault` saying what went wrong. The assignment of `latest` is a single reference swap, so
the loop never waits on a lock a slow instrument holds; how old `latest` is, is the supervisor's
STALE_SENSOR business, judged from its `time_s`.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Protocol

import serial

try:  # POSIX: a pty or tty that vanished fails in termios calls (flush, reconfigure) first
    from termios import error as TermiosError  # noqa: N812
except ImportError:  # pragma: no cover - not on Linux
    TermiosError = OSError  # type: ignore[misc, assignment]
from firmware.clock import Clock
from firmware.config.instruments import InstrumentConfig, to_si
from firmware.hal.transducer import PositionReading
from firmware.hal.types import FaultKind, PressureReading, SensorFault, TempReading

SerialResult = TempReading | PressureReading | PositionReading | SensorFault
# What a port that is gone raises: pyserial's own error, the OS's, or termios's (not an OSError).
PORT_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, OSError, TermiosError)
NO_SIGNAL = math.nan  # a digital instrument has no cold junction or wiper voltage behind it
KN_PER_MPA_M2 = 1000.0  # 1 MPa on 1 m^2 is 1000 kN


class SerialPort(Protocol):
    """The part of pyserial's `Serial` the instruments use (a simulated port offers the same)."""

    timeout: float | None

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...

    @property
    def in_waiting(self) -> int: ...


class PortLost(Exception):  # noqa: N818 - a condition the bus handles, not a programming error
    """The port itself failed (unplugged adapter, I/O error): the bus closes and reopens it."""


class Instrument(abc.ABC):
    """Base of the serial instruments: the schedule, the latest result, readings in SI.

    Subclasses implement `exchange(port, now_s)`: one poll (and any pending write), setting
    `latest`. They raise `PortLost` only for faults of the port; instrument faults are results.
    """

    def __init__(self, cfg: InstrumentConfig, clock: Clock, ram_area_m2: float) -> None:
        self.cfg = cfg
        self.clock = clock
        self.ram_area_m2 = ram_area_m2
        self.latest: SerialResult = SensorFault(clock.now(), FaultKind.NOT_READY,
                                                f"{cfg.name}: no reading yet")
        self.next_due_s = clock.now()
        self.polls = 0
        self.bad_polls = 0

    @property
    def due(self) -> bool:
        """True when a poll (or a write) is due."""
        return self.clock.now() >= self.next_due_s

    @abc.abstractmethod
    def exchange(self, port: SerialPort, now_s: float) -> None:
        """One poll of the instrument on `port` (subclasses)."""

    def connected(self, port: SerialPort) -> None:
        """Called after the port (re)opens: set-up writes, buffers (subclasses)."""
        del port  # an optional hook: most instruments need no set-up

    def schedule(self, now_s: float) -> None:
        """Next poll one period on, on the grid unless the poll overran it."""
        self.next_due_s += self.cfg.period_s
        if self.next_due_s <= now_s:
            self.next_due_s = now_s + self.cfg.period_s

    def fail(self, kind: FaultKind, detail: str) -> None:
        """Record a failed poll as a fault stamped now."""
        self.polls += 1
        self.bad_polls += 1
        self.latest = SensorFault(self.clock.now(), kind, f"{self.cfg.name}: {detail}")

    def succeed(self, value: float, raw: int = 0, unit: str | None = None) -> None:
        """Record a good poll: `value` in `unit` (default the configured unit) after scaling."""
        self.polls += 1
        cfg = self.cfg
        unit = unit or cfg.unit
        shown = value
        low, high = cfg.valid_min, cfg.valid_max
        if (low is not None and shown < low) or (high is not None and shown > high):
            self.bad_polls += 1
            self.latest = SensorFault(self.clock.now(), out_of_range_kind(cfg),
                                      f"{cfg.name}: reads {shown:g} {unit}, outside "
                                      f"{low}..{high}: sensor break or overrange?")
            return
        self.latest = make_reading(cfg, to_si(cfg.measures, unit, value), value, raw,
                                   self.clock.now(), self.ram_area_m2)

    def status(self) -> dict[str, Any]:
        """Counters for diagnostics (polls and failed polls since start)."""
        return {"polls": self.polls, "bad_polls": self.bad_polls}


def out_of_range_kind(cfg: InstrumentConfig) -> FaultKind:
    """The fault an instrument's own error reading stands for: a thermocouple break on a
    controller, a wiring or overrange fault on a gauge."""
    return FaultKind.TC_FAULTY if cfg.measures == "temperature" else FaultKind.WIRING


def make_reading(cfg: InstrumentConfig, value_si: float, shown: float, raw: int, now_s: float,
                 ram_area_m2: float) -> SerialResult:
    """The loop's reading type for what `cfg` measures; force becomes line pressure (the loop
    works in line pressure and multiplies by the ram area back to force)."""
    if cfg.measures == "temperature":
        return TempReading(now_s, value_si, NO_SIGNAL, value_si)
    if cfg.measures == "position":
        return PositionReading(now_s, value_si, NO_SIGNAL)
    line_mpa = value_si if cfg.measures == "line_pressure" else (
        value_si / (ram_area_m2 * KN_PER_MPA_M2))
    return PressureReading(now_s, line_mpa, shown, raw)
