"""The safety supervisor: limits, runaway, sensor faults, interlocks and the loop's own health.

Separate from the controllers, run every tick before outputs are applied, no I/O, no clock, no
off switch. See `supervisor.py` for the tick and the reset, `thresholds.py` for every default
and why, `config.py` for the `[safety]` table.
"""

from firmware.safety.config import parse_safety_config
from firmware.safety.context import PressurePhase, RunMode, SupervisorContext
from firmware.safety.faults import Fault, FaultCode, SafetyWarning, Verdict
from firmware.safety.supervisor import Supervisor
from firmware.safety.thresholds import GuardPolicy, SafetyConfig, ZoneSafety, derive_safety_config

__all__ = [
    "Fault",
    "FaultCode",
    "GuardPolicy",
    "PressurePhase",
    "RunMode",
    "SafetyConfig",
    "SafetyWarning",
    "Supervisor",
    "SupervisorContext",
    "Verdict",
    "ZoneSafety",
    "derive_safety_config",
    "parse_safety_config",
]
