"""What the supervisor finds, as plain values: fault codes, trips, warnings and the tick's verdict.

A `Fault` is a trip: it latches, forces every output safe from the tick it is found, and stays
until an operator reset is accepted. A `SafetyWarning` uses the same codes for the same kind of
finding below its trip threshold (one sporadic thermocouple frame, a platen 5 C short of its
limit, the guard open while idle): it is recorded and published, and changes nothing.
Both carry the numbers behind them (`values`), so the journal and the operator see why.

Findings are keyed by `(code, subject)`: one OVER_TEMP on "top" and one on "bottom" are two
faults; the same OVER_TEMP on "top" found again next tick is the same latched fault.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class FaultCode(enum.Enum):
    """What was found. The value is the stable text used in the journal and on MQTT."""

    OVER_TEMP = "over_temp"  # a thermocouple above its zone, press or material limit
    OVER_PRESSURE = "over_pressure"  # line pressure, ram force or sample force above its trip
    TC_FAULT = "tc_fault"  # a thermocouple open/shorted/faulty too often
    STALE_SENSOR = "stale_sensor"  # a reading older than its bound (a hung reader)
    HEATING_STALL = "heating_stall"  # high duty for the derived window, no rise
    RUNAWAY = "runaway"  # rising while its SSR has been off past the lag: a welded SSR
    WELDED_SSR = "runaway"  # alias of RUNAWAY: the usual cause, the name operators search for
    PLATEN_DISAGREE = "platen_disagree"  # steady platens that should agree, far apart
    PUMP_NO_RISE = "pump_no_rise"  # pump running into the cylinder, pressure not rising
    HOLD_DECAY = "hold_decay"  # pressure below the hold band for longer than top-up needs
    PRESSURE_RISE_LOCKED = "pressure_rise_locked"  # rising with the pump off, beyond expansion
    RELEASE_STUCK = "release_stuck"  # release held open, line not falling: pressure locked in
    TRANSDUCER_WIRING = "transducer_wiring"  # transducer signal out of its live range
    ESTOP = "estop"  # the e-stop input is asserted
    GUARD_OPEN = "guard_open"  # the guard input is asserted
    LOOP_OVERRUNS = "loop_overruns"  # a streak of late ticks: the loop is not keeping time
    SENSOR_BUS = "sensor_bus"  # SPI/I2C errors (OSError 121 and kin) too often
    JOURNAL_UNWRITABLE = "journal_unwritable"  # the run journal cannot be written
    SUPERVISOR_ERROR = "supervisor_error"  # a check raised: a bug, failing safe rather than blind


FindingKey = tuple[FaultCode, str]


def _empty() -> Mapping[str, float | str | bool]:
    return MappingProxyType({})


def _frozen(values: Mapping[str, float | str | bool]) -> Mapping[str, float | str | bool]:
    """A read-only copy, so a finding cannot be edited after the journal has it."""
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class _Finding:
    """What every finding carries: what (`code`, `subject`), why (`message`), the numbers
    behind it, and when. `subject` names the thing: a zone ("top"), "line", "force", "sample",
    "estop". `t_s` is the supervisor time (`now_s` of the tick that found it), in seconds.
    """

    code: FaultCode
    subject: str
    message: str
    t_s: float
    values: Mapping[str, float | str | bool] = field(default_factory=_empty, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen(self.values))

    @property
    def key(self) -> FindingKey:
        """`(code, subject)`: what makes two findings the same one."""
        return (self.code, self.subject)

    def describe(self) -> str:
        """One line for logs and the CLI: `over_temp top: ... (temp_c=301.5, limit_c=300)`."""
        return _describe(self.code, self.subject, self.message, self.values)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready form for the journal and the `event` topic."""
        return _as_dict(self)


@dataclass(frozen=True)
class Fault(_Finding):
    """A trip: latched, every output safe from the tick that found it."""


@dataclass(frozen=True)
class SafetyWarning(_Finding):
    """A finding below its trip: recorded and published, outputs untouched. Not a Python warning.

    The supervisor reports a warning on the tick it appears, not again while it persists, so a
    guard left open at idle is one event, not ten a second.
    """


Finding = Fault | SafetyWarning


def _as_dict(finding: Finding) -> dict[str, object]:
    """`{"code", "subject", "message", "t_s", "values"}` with the code as its stable text."""
    return {"code": finding.code.value, "subject": finding.subject, "message": finding.message,
            "t_s": finding.t_s, "values": dict(finding.values)}


def _describe(code: FaultCode, subject: str, message: str,
              values: Mapping[str, float | str | bool]) -> str:
    """`code subject: message (k=v, ...)` with numbers in their shortest honest form."""
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in values.items())
    head = f"{code.value} {subject}".rstrip()
    return f"{head}: {message}" + (f" ({shown})" if shown else "")


@dataclass(frozen=True)
class Verdict:
    """The supervisor's answer for one tick.

    `outputs_safe_required` is True whenever anything is latched, including on the tick a fault
    is first found: the loop applies SAFE_COMMANDS instead of the controllers' outputs.
    """

    new_faults: tuple[Fault, ...] = ()
    latched: tuple[Fault, ...] = ()
    warnings: tuple[SafetyWarning, ...] = ()

    @property
    def outputs_safe_required(self) -> bool:
        """True while any fault is latched: drive every output safe this tick."""
        return bool(self.latched)

    @property
    def ok(self) -> bool:
        """True when nothing is latched (warnings do not count)."""
        return not self.latched

    def codes(self) -> frozenset[FaultCode]:
        """The codes of every latched fault, for quick tests and status displays."""
        return frozenset(f.code for f in self.latched)
