"""One tick as the checks see it, and the small interface every check implements.

The supervisor builds an `Observation` once per tick (which readings are valid, which are new
since the last tick, how much time passed) so each check stays a few lines of judgement.
A check is a plain object with three methods:

- `evaluate(obs)`: update its memory and return this tick's findings (trips and warnings);
- `clearance(fault, obs)`: None when the condition behind `fault` has cleared, else the reason a
  reset must be refused (said to the operator as is);
- `forget()`: drop trend memory after an accepted reset, so old evidence cannot re-trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from firmware.hal.types import PressureReading, TempReading
from firmware.safety.context import SupervisorContext
from firmware.safety.faults import Fault, FaultCode, Finding, SafetyWarning

if TYPE_CHECKING:  # the type only: importing press_io would pull in the device drivers
    from firmware.hal.press_io import Sample

Values = float | str | bool


@dataclass(frozen=True)
class Observation:
    """The sample, the loop context, the supervisor time and what is new this tick.

    `dt_s` is the time since the previous check (0 on the first); `new_temps` names the
    thermocouples whose result is newer than the one seen last tick; `new_pressure` likewise.
    """

    sample: Sample
    ctx: SupervisorContext
    now_s: float
    dt_s: float = 0.0
    new_temps: frozenset[str] = frozenset()
    new_pressure: bool = False

    def reading(self, name: str) -> TempReading | None:
        """The valid reading of thermocouple `name`, or None (missing or faulted)."""
        result = self.sample.temps.get(name)
        return result if isinstance(result, TempReading) else None

    def temp_c(self, name: str) -> float | None:
        """Temperature of thermocouple `name` in C, or None when it has no valid reading."""
        reading = self.reading(name)
        return reading.temp_c if reading is not None else None

    @property
    def pressure_mpa(self) -> float | None:
        """Line pressure in MPa, or None when the transducer gave a fault."""
        result = self.sample.pressure
        return result.pressure_mpa if isinstance(result, PressureReading) else None

    def trip(self, code: FaultCode, subject: str, message: str, **values: Values) -> Fault:
        """A trip found this tick."""
        return Fault(code, subject, message, self.now_s, values)

    def warn(self, code: FaultCode, subject: str, message: str,
             **values: Values) -> SafetyWarning:
        """A warning found this tick."""
        return SafetyWarning(code, subject, message, self.now_s, values)


class Check(Protocol):
    """What the supervisor calls on each of its checks (see the module docstring)."""

    codes: frozenset[FaultCode]

    def evaluate(self, obs: Observation) -> list[Finding]: ...

    def clearance(self, fault: Fault, obs: Observation) -> str | None: ...

    def forget(self) -> None: ...


def rounded(value: float, places: int = 3) -> float:
    """A value rounded for the journal: enough to judge, without float noise like 0.30000000004."""
    return round(value, places)
