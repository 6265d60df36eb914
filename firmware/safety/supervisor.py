"""The safety supervisor: runs every tick before outputs are applied, latches every trip.

It is separate from the controllers and knows nothing of them but what the loop passes in
(`SupervisorContext`); it has no I/O and no clock (time is passed in), so it runs the same on a
Pi, in simulation and in tests. It has no switch to turn it off and no per-check flags: the
thresholds in `SafetyConfig` can be tuned within bounds, never disabled.

State of one fault::

    (absent) --check finds it--> LATCHED --reset accepted--> (absent)
                                    |  ^
                                    +--+ reset refused: the condition persists (reason given)

Use, every tick (DESIGN.md "One tick")::

    verdict = supervisor.check(sample, ctx, now_s)
    commands = SAFE_COMMANDS if verdict.outputs_safe_required else controllers.update(...)

A check that raises is itself a fault (SUPERVISOR_ERROR): a blind supervisor must not look like
a quiet one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from firmware.config.model import PressConfig
from firmware.safety.checks_hydraulic import (
    HoldDecayCheck,
    LockedRiseCheck,
    OverPressureCheck,
    PumpNoRiseCheck,
)
from firmware.safety.checks_inputs import EstopCheck, GuardCheck, JournalCheck, LoopOverrunCheck
from firmware.safety.checks_release import ReleaseStuckCheck
from firmware.safety.checks_sensors import ReadHealthCheck, StaleCheck
from firmware.safety.checks_thermal import (
    OverTempCheck,
    PlatenDisagreeCheck,
    RunawayCheck,
    StallCheck,
    ThermalMemory,
)
from firmware.safety.context import SupervisorContext
from firmware.safety.faults import Fault, FaultCode, Finding, FindingKey, SafetyWarning, Verdict
from firmware.safety.observation import Check, Observation
from firmware.safety.thresholds import SafetyConfig

if TYPE_CHECKING:  # the type only: importing press_io would pull in the device drivers
    from firmware.hal.press_io import Sample

SAMPLE_TC = "sample"  # the optional monitor-only thermocouple at the sample (press_io.Sample)
# A warning is reported again only after it has been absent this long, so a reading flickering
# across a warning threshold (a 0.25 C MAX31855 step) is one event, while sporadic fault frames
# (about one per 2,500 s per thermocouple) are each reported.
WARNING_REARM_S = 5.0
NOTHING_FOUND = Verdict()  # a tick with no finding and nothing latched (Verdict is immutable)


def thermocouple_names(press: PressConfig) -> tuple[str, ...]:
    """Every thermocouple the press has: its zones, plus "sample" when one is fitted."""
    names = tuple(z.name for z in press.zones)
    return names + ((SAMPLE_TC,) if press.sample_tc_cs_pin is not None else ())


class Supervisor:
    """Judges each tick's sample against the press limits and the thresholds; latches trips.

    `check()` every tick, `reset()` on an operator's request. Nothing else changes its state.
    """

    def __init__(self, cfg: PressConfig, safety: SafetyConfig) -> None:
        self.cfg = cfg
        self.safety = safety
        tcs = thermocouple_names(cfg)
        self._memory = ThermalMemory(tcs, safety)
        self._checks: tuple[Check, ...] = (
            EstopCheck(), GuardCheck(safety),
            StaleCheck(tcs, safety), ReadHealthCheck(tcs, safety),
            OverTempCheck(cfg, tcs, safety), StallCheck(self._memory, safety),
            RunawayCheck(self._memory, safety), PlatenDisagreeCheck(self._memory, safety),
            OverPressureCheck(cfg, safety), HoldDecayCheck(safety),
            *self._driven_hydraulic_checks(cfg, safety),
            LoopOverrunCheck(safety), JournalCheck(),
        )
        # Each check with the name a SUPERVISOR_ERROR gives it, looked up once, not every tick.
        self._named = tuple((type(chk).__name__, chk) for chk in self._checks)
        self._owner: dict[FaultCode, Check] = {c: chk for chk in self._checks for c in chk.codes}
        self._latched: dict[FindingKey, Fault] = {}
        self._warned_s: dict[FindingKey, float] = {}  # when each warning was last seen
        self._failing: dict[str, str] = {}  # check class name -> error, from the last tick
        self._last_now_s: float | None = None
        self._last_ctx = SupervisorContext()
        self._seen_temp_s: dict[str, float] = {}
        self._seen_pressure_s: float | None = None

    def _driven_hydraulic_checks(self, cfg: PressConfig,
                                 safety: SafetyConfig) -> tuple[Check, ...]:
        """The checks that watch a pump and valves the software drives. A manual press
        (retrofit) has none: its pump is the operator's hand, so a rise "with the pump off" is
        the operator at work, "pumping without a rise" cannot be seen, and its release valve is
        the operator's too. Built from what the press has, not a flag."""
        if cfg.hydraulics is None:
            return ()
        return (PumpNoRiseCheck(safety), LockedRiseCheck(self._memory, safety),
                ReleaseStuckCheck(safety))

    @property
    def latched(self) -> tuple[Fault, ...]:
        """Every latched fault, oldest first."""
        return tuple(self._latched.values())

    def check(self, sample: Sample, ctx: SupervisorContext, now_s: float) -> Verdict:
        """Judge one tick. `now_s`: supervisor time in seconds (the tick's deadline or clock)."""
        obs = self._observe(sample, ctx, now_s)
        findings = self._run("ThermalMemory", obs, self._memory.update)
        for name, check in self._named:
            findings += self._run(name, obs, check.evaluate)
        if not findings and not self._latched:
            return NOTHING_FOUND  # the usual tick; the same answer as the general case below
        faults = [f for f in findings if isinstance(f, Fault)]
        warnings = [w for w in findings if isinstance(w, SafetyWarning)]
        new = [f for f in faults if f.key not in self._latched]
        for fault in new:
            self._latched[fault.key] = fault
        return Verdict(tuple(new), self.latched, self._fresh_warnings(warnings, now_s))

    def reset(self, now_s: float, sample: Sample) -> tuple[bool, str]:
        """Clear every latched fault if, and only if, every one's condition has cleared.

        Returns `(accepted, reason)`. Refused, nothing changes and the reason names each fault
        that persists and why. Judged on `sample` and on the trends seen by `check()` so far.
        """
        if not self._latched:
            return True, "nothing latched"
        obs = Observation(sample, self._last_ctx, now_s)
        refusals = [f"{f.code.value} {f.subject}: {why}" for f in self._latched.values()
                    if (why := self._clearance(f, obs)) is not None]
        if refusals:
            return False, "reset refused: " + "; ".join(refusals)
        cleared = ", ".join(f"{f.code.value} {f.subject}" for f in self._latched.values())
        for check in self._checks:
            check.forget()
        self._latched.clear()
        self._warned_s.clear()
        return True, f"reset: cleared {cleared}"

    def _clearance(self, fault: Fault, obs: Observation) -> str | None:
        """Why `fault` cannot be reset yet, or None."""
        if fault.code is FaultCode.SUPERVISOR_ERROR:
            error = self._failing.get(fault.subject)
            return None if error is None else f"the check still fails: {error}"
        try:
            return self._owner[fault.code].clearance(fault, obs)
        except Exception as err:  # noqa: BLE001 - a broken clearance must refuse, not raise
            return f"could not judge ({type(err).__name__}: {err})"

    def _run(self, name: str, obs: Observation,
             step: Callable[[Observation], list[Finding] | None]) -> list[Finding]:
        """`step(obs)`'s findings (None is none); an exception becomes a SUPERVISOR_ERROR trip
        named for it."""
        try:
            found = step(obs)
        except Exception as err:  # noqa: BLE001 - fail safe, never blind
            self._failing[name] = f"{type(err).__name__}: {err}"
            return [obs.trip(FaultCode.SUPERVISOR_ERROR, name,
                             f"{name} raised {type(err).__name__}: {err}")]
        if self._failing:
            self._failing.pop(name, None)
        return list(found) if found else []

    def _fresh_warnings(self, warnings: list[SafetyWarning],
                        now_s: float) -> tuple[SafetyWarning, ...]:
        """Warnings not seen in the last WARNING_REARM_S and not latched as faults."""
        fresh = tuple(w for w in warnings if w.key not in self._latched
                      and now_s - self._warned_s.get(w.key, -math.inf) > WARNING_REARM_S)
        self._warned_s.update({w.key: now_s for w in warnings})
        return fresh

    def _observe(self, sample: Sample, ctx: SupervisorContext, now_s: float) -> Observation:
        """This tick's observation: elapsed time and which readings are new."""
        dt_s = 0.0 if self._last_now_s is None else max(0.0, now_s - self._last_now_s)
        new_temps = {name for name, result in sample.temps.items()
                     if name in sample.fresh_temps
                     or result.time_s > self._seen_temp_s.get(name, float("-inf"))}
        for name in new_temps:
            self._seen_temp_s[name] = sample.temps[name].time_s
        new_pressure = (self._seen_pressure_s is None
                        or sample.pressure.time_s > self._seen_pressure_s)
        self._seen_pressure_s = sample.pressure.time_s
        self._last_now_s = now_s
        self._last_ctx = ctx
        return Observation(sample, ctx, now_s, dt_s, frozenset(new_temps), new_pressure)
