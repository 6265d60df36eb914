"""What the supervisor needs to know about the loop besides the sensors, passed in every tick.

The supervisor has no clock, no I/O and no reference to the controllers: the loop hands it this
small frozen record, built from state it already has. Everything here describes the tick that
has just ended, above all `last_outputs`, the commands actually applied last tick (after any
safe override), because what the hardware was told to do is what the sensors now answer to.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from firmware.hal.outputs import SAFE_COMMANDS, OutputCommands


class RunMode(enum.Enum):
    """The run state machine's mode, as far as safety policy cares."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"


class PressurePhase(enum.Enum):
    """The pressure controller's phase. APPROACH: closing the gap, no load yet; RAMP: raising
    pressure on the sample; HOLD: holding a target with top-ups; RELEASE: letting pressure out.
    """

    IDLE = "idle"
    APPROACH = "approach"
    RAMP = "ramp"
    HOLD = "hold"
    RELEASE = "release"


# Phases in which the ram is moving or loaded under control: hydraulics are active.
ACTIVE_PHASES = frozenset({PressurePhase.APPROACH, PressurePhase.RAMP, PressurePhase.HOLD})


@dataclass(frozen=True)
class SupervisorContext:
    """The loop's state for one `Supervisor.check`.

    - `last_outputs`: commands applied during the tick that just ended (SAFE after a trip).
    - `mode`: run mode; `run_in_progress`: a run is open (running or paused, journal open).
    - `material_limit_c`: the running recipe's lowest material limit, or None outside a run.
    - `zone_setpoints_c`: each zone's current temperature setpoint (C); zones with equal
      setpoints should read alike once steady. Empty when no setpoints are active.
    - `pressure_phase`, `hold_target_mpa`: the pressure controller's phase and, in HOLD, the
      line pressure (MPa) it is holding.
    - `recipe_max_force_kn`: the force that puts the recipe's maximum pressure on its die (kN),
      or None; the runner converts sample MPa to force with the die area it knows.
    - `consecutive_overruns`: the scheduler's current streak of late ticks.
    - `journal_ok`: False once the run journal has failed a write.
    """

    last_outputs: OutputCommands = SAFE_COMMANDS
    mode: RunMode = RunMode.IDLE
    run_in_progress: bool = False
    material_limit_c: float | None = None
    zone_setpoints_c: Mapping[str, float] = field(default_factory=dict)
    pressure_phase: PressurePhase = PressurePhase.IDLE
    hold_target_mpa: float | None = None
    recipe_max_force_kn: float | None = None
    consecutive_overruns: int = 0
    journal_ok: bool = True
    pressure_fault: str | None = None  # the pressure controller's own latched fault (no_rise...)

    def duty(self, zone: str) -> float:
        """Heater duty applied to `zone` last tick, 0..1, clipped as the SSR clips it (NaN is 0)."""
        duty = self.last_outputs.heater_duty.get(zone, 0.0)
        return min(1.0, max(0.0, duty)) if duty == duty else 0.0

    @property
    def pumping_into_cylinder(self) -> bool:
        """Pump on with a feed valve open and the release closed: pressure should be rising."""
        out = self.last_outputs
        return out.pump_on and (out.advance_open or out.press_open) and not out.release_open

    @property
    def hydraulics_commanded(self) -> bool:
        """Anything hydraulic energised or in an active phase (guard policy: always a trip)."""
        out = self.last_outputs
        return (out.pump_on or out.advance_open or out.press_open
                or self.pressure_phase in ACTIVE_PHASES)
