"""Interlocks and the loop's own health: e-stop, guard, loop overruns, the run journal.

The hard-wired e-stop cuts heaters and pump by itself (DESIGN.md, safety layer 1); this layer
makes the software agree with it, latch, and refuse to carry on until it is released and reset.
"""

from __future__ import annotations

from firmware.safety.context import RunMode
from firmware.safety.faults import Fault, FaultCode, Finding
from firmware.safety.observation import Observation
from firmware.safety.thresholds import GuardPolicy, SafetyConfig


class EstopCheck:
    """ESTOP: the e-stop input is asserted (pressed, or its normally-closed wire broken)."""

    codes = frozenset({FaultCode.ESTOP})

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Trip whenever the input is asserted."""
        if not obs.sample.estop:
            return []
        return [obs.trip(FaultCode.ESTOP, "estop", "e-stop pressed (or its circuit open)")]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the e-stop is released."""
        return "the e-stop is still pressed (or its circuit open)" if obs.sample.estop else None

    def forget(self) -> None:
        """Nothing to forget."""


class GuardCheck:
    """GUARD_OPEN: always a trip while hydraulics are active (pump, a feed valve, an active
    pressure phase, or the platens loaded above `guard_active_pressure_mpa`); otherwise the
    configured policy: `guard_open_when_running` during a running recipe (default trip: the next
    step may press), `guard_open_when_idle` otherwise (default warn: loading a die at idle).
    """

    codes = frozenset({FaultCode.GUARD_OPEN})

    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg

    def _policy(self, obs: Observation) -> tuple[GuardPolicy, str]:
        """What an open guard does now, and the state that decided it."""
        p_mpa = obs.pressure_mpa
        loaded = p_mpa is not None and p_mpa >= self.cfg.guard_active_pressure_mpa
        if obs.ctx.hydraulics_commanded or loaded:
            return GuardPolicy.TRIP, "hydraulics active"
        if obs.ctx.mode is RunMode.RUNNING:
            return self.cfg.guard_open_when_running, "recipe running"
        return self.cfg.guard_open_when_idle, "idle"

    def evaluate(self, obs: Observation) -> list[Finding]:
        """A trip or a warning, by policy, whenever the guard is open."""
        if not obs.sample.guard_open:
            return []
        policy, state = self._policy(obs)
        text = f"guard open while {state}"
        if policy is GuardPolicy.TRIP:
            return [obs.trip(FaultCode.GUARD_OPEN, "guard", text, state=state)]
        return [obs.warn(FaultCode.GUARD_OPEN, "guard", text, state=state)]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the guard is closed."""
        return "the guard is still open" if obs.sample.guard_open else None

    def forget(self) -> None:
        """Nothing to forget."""


class LoopOverrunCheck:
    """LOOP_OVERRUNS: `loop_overrun_streak` consecutive late ticks; one late tick is a warning.

    A loop that cannot keep time reads sensors late and applies outputs late, and every other
    check's bound assumes it does.
    """

    codes = frozenset({FaultCode.LOOP_OVERRUNS})

    def __init__(self, cfg: SafetyConfig) -> None:
        self.cfg = cfg

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Trip on the streak, warn on any overrun."""
        streak = obs.ctx.consecutive_overruns
        if streak <= 0:
            return []
        limit = self.cfg.loop_overrun_streak
        text = f"{streak} late ticks in a row (trip at {limit})"
        if streak >= limit:
            return [obs.trip(FaultCode.LOOP_OVERRUNS, "loop", text, streak=streak, limit=limit)]
        return [obs.warn(FaultCode.LOOP_OVERRUNS, "loop", text, streak=streak, limit=limit)]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the last tick was on time."""
        streak = obs.ctx.consecutive_overruns
        return None if streak == 0 else f"the loop is still overrunning ({streak} in a row)"

    def forget(self) -> None:
        """Nothing to forget."""


class JournalCheck:
    """JOURNAL_UNWRITABLE: a trip during a run (the journal is the record of truth, and a run
    without one cannot be trusted or replayed), a warning at idle (nothing is being recorded;
    the run state machine must refuse to start a run until it is writable).
    """

    codes = frozenset({FaultCode.JOURNAL_UNWRITABLE})

    def evaluate(self, obs: Observation) -> list[Finding]:
        """Trip or warn while the journal reports a failed write."""
        if obs.ctx.journal_ok:
            return []
        if obs.ctx.run_in_progress:
            return [obs.trip(FaultCode.JOURNAL_UNWRITABLE, "journal",
                             "run journal write failed during a run: disk full or read-only?")]
        return [obs.warn(FaultCode.JOURNAL_UNWRITABLE, "journal",
                         "run journal is not writable: no run can start")]

    def clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Clear once the journal writes again."""
        return None if obs.ctx.journal_ok else "the run journal still cannot be written"

    def forget(self) -> None:
        """Nothing to forget."""
