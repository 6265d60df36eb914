"""Serial instruments and manual pressing in the press config (issue 9: retrofitting a press).

A retrofit press keeps what it has: a hand pump, an old PID box per platen, a pressure gauge or
force indicator with a serial output, a digital dial indicator on the ram. Each serial line is a
`[[serial_ports]]` table; each instrument on it an `[[instruments]]` table that says which
protocol it speaks, what it measures and in which unit. Register maps and line formats live here,
in config, because every controller model numbers its registers differently and every indicator
formats its lines its own way: the loader checks them, the hardware layer only follows them.

The units an instrument may report in are converted to SI at the hardware boundary; the tables
below are the only place that knows what a "bar" or a "tf" is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Protocol = Literal["modbus_rtu", "ascii"]
Measures = Literal["temperature", "line_pressure", "force", "position"]

# value_in_si = value * factor + offset, per unit, per measured quantity. SI here means what the
# loop uses: C, MPa (line), kN, mm.
KGF_KN = 9.80665e-3  # one kilogram-force in kN
UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "temperature": {"C": (1.0, 0.0), "F": (5.0 / 9.0, -32.0 * 5.0 / 9.0)},
    "line_pressure": {"MPa": (1.0, 0.0), "kPa": (1e-3, 0.0), "bar": (0.1, 0.0),
                      "psi": (6.894757e-3, 0.0), "kgf/cm2": (0.0980665, 0.0)},
    "force": {"kN": (1.0, 0.0), "N": (1e-3, 0.0), "t": (1000 * KGF_KN, 0.0),
              "kgf": (KGF_KN, 0.0), "lbf": (4.448222e-3, 0.0)},
    "position": {"mm": (1.0, 0.0), "um": (1e-3, 0.0), "in": (25.4, 0.0)},
}
# How indicators spell units on the wire, lower-cased, mapped to the names above.
UNIT_ALIASES = {"c": "C", "degc": "C", "°c": "C", "f": "F", "degf": "F", "mpa": "MPa",
                "kpa": "kPa", "bar": "bar", "psi": "psi", "kgf/cm2": "kgf/cm2", "kg/cm2": "kgf/cm2",
                "kn": "kN", "n": "N", "t": "t", "tf": "t", "kgf": "kgf", "kg": "kgf", "lbf": "lbf",
                "lb": "lbf", "mm": "mm", "um": "um", "µm": "um", "in": "in", "inch": "in"}


def to_si(measures: str, unit: str, value: float) -> float:
    """`value` in `unit` as the loop's unit for `measures` (C, MPa line, kN, mm)."""
    factor, offset = UNITS[measures][unit]
    return value * factor + offset


def from_si(measures: str, unit: str, value: float) -> float:
    """The inverse of `to_si`: a loop value (e.g. a setpoint in C) in the instrument's unit."""
    factor, offset = UNITS[measures][unit]
    return (value - offset) / factor


def canonical_unit(text: str) -> str | None:
    """A unit as written by an instrument ("KN", "kg/cm2", "degC") as a UNITS name, or None."""
    return UNIT_ALIASES.get(text.strip().lower())


@dataclass(frozen=True)
class SerialPortConfig:
    """One serial line: a USB RS-485 adapter, a USB-RS-232 cable or the Pi's UART.

    Several Modbus instruments may share an RS-485 line (they are polled in turn); an ASCII
    instrument owns its line. `url` is a device path or any pyserial URL ("loop://" in tests).
    """

    name: str
    url: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1
    timeout_s: float = 0.2  # the deadline of one transaction or one line
    reconnect_s: float = 2.0  # after a lost port, try to open it again this often


@dataclass(frozen=True)
class RegisterConfig:
    """Where one value sits in a Modbus device, and how it is encoded.

    `address` is the protocol address sent on the wire (0-based). Manuals that number registers
    from 40001 (or from 1) mean address = number - 40001 (or - 1): check one read by hand first.
    """

    address: int
    table: Literal["holding", "input"] = "holding"  # function 03 or 04
    kind: Literal["int16", "uint16", "int32", "uint32", "float32"] = "int16"
    word_order: Literal["big", "little"] = "big"  # 32-bit values: high word first ("big")


@dataclass(frozen=True)
class RegisterWrite:
    """A raw register write (function 06): controller set-up, stop and run commands."""

    address: int
    value: int


@dataclass(frozen=True)
class InstrumentConfig:
    """One serial instrument: what it measures, in which unit, and how to talk to it.

    The engineering value is `raw * scale + offset` in `unit`, where raw is the register's integer
    (Modbus) or the number the pattern captured (ASCII); it is then converted to SI.
    """

    name: str
    protocol: Protocol
    measures: Measures
    port: str  # a [[serial_ports]] name
    unit: str  # the instrument's unit: C/F, MPa/bar/psi/kPa/kgf/cm2, kN/N/t/kgf/lbf, mm/um/in
    period_s: float = 0.25  # how often it is polled (a streaming indicator: how often it sends)
    scale: float = 1.0
    offset: float = 0.0
    full_scale: float | None = None  # in `unit`; required for pressure and force
    valid_min: float | None = None  # readings outside [valid_min, valid_max] (in `unit`) are
    valid_max: float | None = None  # the instrument's own error codes (sensor break, overrange)
    # Modbus RTU
    device_id: int = 1
    pv: RegisterConfig | None = None  # the process value (temperature, pressure, force)
    sp: RegisterConfig | None = None  # temperature controllers: the setpoint we write
    sp_function: Literal["single", "multiple"] = "single"  # write with function 06 or 16
    sp_write_step_c: float = 1.0  # rewrite a ramping setpoint only after it moved this much
    sp_min_interval_s: float = 5.0  # ...and not more often: controller EEPROMs wear out
    safe_setpoint_c: float = 0.0  # written on every trip (the controller clamps to its SP low)
    setup_writes: tuple[RegisterWrite, ...] = ()  # after each (re)connect, e.g. "comms write on"
    safe_writes: tuple[RegisterWrite, ...] = ()  # on a trip, after the safe setpoint (e.g. STOP)
    resume_writes: tuple[RegisterWrite, ...] = ()  # when control resumes after a trip (RUN)
    # ASCII
    pattern: str = ""  # regex with a (?P<value>...) group and optionally (?P<unit>...)
    request: str = ""  # sent before each read; "" when the instrument streams on its own
    example: str = ""  # a line copied from the instrument: checked against `pattern` at load


@dataclass(frozen=True)
class ManualConfig:
    """Manual pressing: the operator pumps, the press shows the band and says what to do.

    The band around a force target F is F +- max(band_min_kn, band_fraction x F): a hand pump's
    stroke resolution sets the floor, the recipe's tolerance the fraction.
    """

    band_fraction: float = 0.02
    band_min_kn: float = 0.3
    timer_in_band_only: bool = True  # step timers stop while the pressure is out of band
    top_up_fraction: float = 0.3  # say "pump" once in the lowest 30 % of the band below target
    rate_warn_factor: float = 2.0  # "pump slower" above the recipe's rate x this
