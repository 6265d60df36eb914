"""The run state machine: a recipe's steps turned into setpoints, tick by tick.

    idle --start--> running <--pause/resume--> paused
    running|paused --(last step done)--> completed
    running|paused --abort--> aborted
    running|paused --fault--> faulted
    (every end returns the engine to idle, with `last_outcome` set)

The engine is pure: `advance(observed, now_s)` returns the targets for this tick and the events
that happened; no clock, no I/O. Setpoints persist from step to step until a step changes them.
Pause holds temperature and pressure where they are and stops the step timers. After any end the
targets are "heaters off, pressure released at a safe rate": a run never leaves a press loaded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from firmware.recipe.model import EndKind, OnTimeout, Recipe, Step, StepKind
from firmware.recipe.plan import Plan
from firmware.run.events import Event

RELEASED_FORCE_KN = 0.5  # below this the stack is unloaded: the ram's weight and friction
FORCE_REACHED_FRAC = 0.01  # a pressure target counts as reached within 1 % of it...
FORCE_REACHED_MIN_KN = 0.2  # ...or this, for small targets where 1 % is below the resolution


class RunState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"


class Outcome(enum.Enum):
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAULTED = "faulted"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Targets:
    """What the controllers should do this tick."""

    temps_c: dict[str, float] = field(default_factory=dict)  # zone -> final setpoint; absent = off
    ramp_c_per_min: float | None = None  # None: as fast as the heaters go
    force_kn: float = 0.0  # 0 with `release` True: unload the stack
    rate_kn_per_s: float | None = None  # None: as fast as the circuit allows
    release: bool = True  # True: no pressure wanted; release at `rate_kn_per_s` (or safely)
    hold_position: bool = False  # paused: keep temperatures and pressure exactly as they are


@dataclass(frozen=True)
class Observed:
    """What the engine needs to know of the press, in process terms."""

    temps_c: dict[str, float | None]  # zone -> last valid reading (None: no valid reading)
    force_kn: float | None  # None: no valid pressure reading
    pressure_at_target: bool = False  # the pressure controller reports it is holding its target


class RunEngine:
    """One press's run: which step, how long in it, what it wants; see the module docstring."""

    def __init__(self, zones: tuple[str, ...]) -> None:
        self.zones = zones
        self.state = RunState.IDLE
        self.recipe: Recipe | None = None
        self.plan: Plan | None = None
        self.run_id: str | None = None
        self.last_outcome: Outcome | None = None
        self.last_reason = ""
        self.step_index = -1
        self._temps: dict[str, float] = {}
        self._ramp: float | None = None
        self._force_kn = 0.0
        self._rate: float | None = None
        self._last_now: float | None = None
        self._step_s = 0.0  # time in this step, paused time excluded
        self._band_since_s: float | None = None  # soak: when every zone came into band
        self._phase = 0  # breathe: half-cycles done; press: 1 once pressure has been applied
        self._phase_s = 0.0  # time in the current breathe half-cycle after reaching its target
        self._reached = False
        self._operator_ok = False
        self._ramp_s: float | None = None  # this step's planned ramp time, from its first tick
        self._breathe_high_kn = 0.0

    # ---- commands --------------------------------------------------------------------------
    def start(self, recipe: Recipe, plan: Plan | None, run_id: str,
              first_step: int = 0) -> list[Event]:
        """Begin `recipe` (validated by the caller) at `first_step`: 0, or the step an
        interrupted run stopped in, with the setpoints the earlier steps left in force."""
        if self.state is not RunState.IDLE:
            raise ValueError(f"a run is already {self.state.value}")
        if not 0 <= first_step < len(recipe.steps):
            raise ValueError(f"the recipe has no step {first_step + 1}")
        self.recipe, self.plan, self.run_id = recipe, plan, run_id
        self.state = RunState.RUNNING
        self.last_outcome = None
        self._temps, self._ramp, self._force_kn, self._rate = {}, None, 0.0, None
        for step in recipe.steps[:first_step]:
            self._carry_setpoints(step)
        events = [Event("run_started", f"run {run_id} started: {recipe.name}",
                        {"run_id": run_id, "recipe": recipe.name, "steps": len(recipe.steps),
                         "first_step": first_step})]
        return events + self._enter_step(first_step)

    def _carry_setpoints(self, step: Step) -> None:
        """What a finished step leaves in force for the next (temperatures, pressure)."""
        if step.temp is not None:
            for zone in self.zones:
                value = step.temp.for_zone(zone)
                if value is not None:
                    self._temps[zone] = value
            self._ramp = step.ramp_c_per_min
        if step.kind is StepKind.RELEASE or (step.kind is StepKind.COOL
                                             and not step.under_pressure):
            self._force_kn = 0.0
        elif step.pressure is not None:
            self._force_kn = step.pressure.force_kn

    def pause(self) -> list[Event]:
        if self.state is not RunState.RUNNING:
            raise ValueError(f"cannot pause: the press is {self.state.value}")
        self.state = RunState.PAUSED
        return [Event("paused", f"paused in step {self.step_index + 1}", self._where())]

    def resume(self) -> list[Event]:
        if self.state is not RunState.PAUSED:
            raise ValueError(f"cannot resume: the press is {self.state.value}")
        self.state = RunState.RUNNING
        return [Event("resumed", f"resumed in step {self.step_index + 1}", self._where())]

    def skip(self) -> list[Event]:
        """End the current step now (also how an operator confirms a wait)."""
        if self.state is RunState.IDLE:
            raise ValueError("cannot skip: no run in progress")
        step = self.current_step
        if step is not None and step.end.kind is EndKind.OPERATOR:
            self._operator_ok = True
            return []
        return [Event("skipped", f"step {self.step_index + 1} skipped", self._where()),
                *self._next_step()]

    def abort(self, reason: str) -> list[Event]:
        if self.state is RunState.IDLE:
            raise ValueError("cannot abort: no run in progress")
        return self._end(Outcome.ABORTED, reason or "aborted by the operator")

    def fault(self, reason: str) -> list[Event]:
        """A safety trip: the run ends `faulted` (the supervisor has already made outputs safe)."""
        if self.state is RunState.IDLE:
            return []
        return self._end(Outcome.FAULTED, reason)

    # ---- the tick --------------------------------------------------------------------------
    def advance(self, obs: Observed, now_s: float) -> tuple[Targets, list[Event]]:
        """Targets for this tick, and what happened since the last one."""
        dt_s = 0.0 if self._last_now is None else max(0.0, now_s - self._last_now)
        self._last_now = now_s
        if self.state is RunState.IDLE:
            return Targets(), []
        if self.state is RunState.PAUSED:
            return self._targets(hold=True), []
        self._step_s += dt_s
        events = self._progress(obs, dt_s)
        if self.state is RunState.IDLE:
            return Targets(), events
        return self._targets(), events

    def _progress(self, obs: Observed, dt_s: float) -> list[Event]:
        step = self.current_step
        assert step is not None
        events: list[Event] = []
        if self._ramp_s is None:
            self._ramp_s = self._planned_ramp_s(step, obs)
        if (step.kind is StepKind.PRESS and self._phase == 0
                and (not step.require_temp_in_band or self._all_in_band(obs, step.band_c))):
            self._apply_pressure(step)
            self._phase = 1
        if step.kind is StepKind.BREATHE:
            events += self._breathe(step, obs, dt_s)
        done, timeout = self._end_reached(step, obs)
        if timeout:
            return events + self._timed_out(step)
        if done:
            events.append(Event("step_done", f"step {self.step_index + 1} ({step.kind.value}) done",
                                self._where()))
            events += self._next_step()
        elif step.end.kind is EndKind.SOAK and self._band_since_s == self._step_s:
            events.append(Event("soak_started", f"in band: soaking {step.end.soak_s:g} s",
                                self._where()))
        return events

    # ---- steps -----------------------------------------------------------------------------
    @property
    def current_step(self) -> Step | None:
        if self.recipe is None or not 0 <= self.step_index < len(self.recipe.steps):
            return None
        return self.recipe.steps[self.step_index]

    def _enter_step(self, index: int) -> list[Event]:
        assert self.recipe is not None
        self.step_index = index
        self._step_s, self._band_since_s, self._phase, self._phase_s = 0.0, None, 0, 0.0
        self._reached = self._operator_ok = False
        self._ramp_s = None
        step = self.recipe.steps[index]
        if step.temp is not None:
            for zone in self.zones:
                value = step.temp.for_zone(zone)
                if value is not None:
                    self._temps[zone] = value
            self._ramp = step.ramp_c_per_min
        releases = step.kind is StepKind.COOL and not step.under_pressure
        if step.kind is StepKind.RELEASE or releases:
            self._force_kn, self._rate = 0.0, self._kn_rate(step)
        elif step.kind is StepKind.BREATHE and step.pressure is not None:
            self._apply_pressure(step)
        self._breathe_high_kn = self._force_kn  # breathe returns to this between releases
        events = [Event("step_started",
                        f"step {index + 1}/{len(self.recipe.steps)}: {step.kind.value}"
                        + (f" ({step.label})" if step.label else ""), self._where())]
        if step.end.kind is EndKind.OPERATOR:
            events.append(Event("waiting_operator", step.end.prompt or "confirm to continue",
                                self._where()))
        return events

    def _apply_pressure(self, step: Step) -> None:
        if step.pressure is not None:
            self._force_kn, self._rate = step.pressure.force_kn, self._kn_rate(step)

    def _kn_rate(self, step: Step) -> float | None:
        """The step's pressure rate (MPa/s on the sample) as kN/s for this die."""
        if step.pressure_rate_mpa_per_s is None or self.recipe is None:
            return None
        geo = self.recipe.geometry
        return None if geo is None else step.pressure_rate_mpa_per_s * geo.area_m2 * 1e3

    def _next_step(self) -> list[Event]:
        assert self.recipe is not None
        if self.step_index + 1 >= len(self.recipe.steps):
            return self._end(Outcome.COMPLETED, "every step done")
        return self._enter_step(self.step_index + 1)

    def _end(self, outcome: Outcome, reason: str) -> list[Event]:
        self.state = RunState.IDLE
        self.last_outcome, self.last_reason = outcome, reason
        data = {**self._where(), "outcome": outcome.value, "reason": reason}
        self.step_index = -1
        return [Event("run_ended", f"run {self.run_id} {outcome.value}: {reason}", data)]

    def _timed_out(self, step: Step) -> list[Event]:
        what = step.end.on_timeout
        ev = Event("timeout", f"step {self.step_index + 1}: target not reached within "
                   f"{step.end.max_wait_s:g} s ({what.value})", self._where())
        if what is OnTimeout.ABORT:
            return [ev, *self._end(Outcome.ABORTED, ev.message)]
        if what is OnTimeout.HOLD:
            self.state = RunState.PAUSED
            self._band_since_s = None
            self._step_s = 0.0
            return [ev, Event("paused", "holding for the operator after a timeout", self._where())]
        return [ev, *self._next_step()]

    # ---- end conditions --------------------------------------------------------------------
    def _planned_ramp_s(self, step: Step, obs: Observed) -> float:
        """How long the step's temperature ramp takes by plan: `max_wait` counts after it, since
        it bounds the wait for the plant to arrive, not the ramp the recipe itself asked for."""
        if step.temp is None or not step.ramp_c_per_min:
            return 0.0
        spans = [abs(t - obs.temps_c[z]) for z, t in self._temps.items()
                 if obs.temps_c.get(z) is not None]
        return max(spans, default=0.0) / step.ramp_c_per_min * 60.0

    def _end_reached(self, step: Step, obs: Observed) -> tuple[bool, bool]:
        """(done, timed_out) for the current step."""
        end = step.end
        waited_s = self._step_s - (self._ramp_s or 0.0)
        waited_too_long = end.max_wait_s is not None and waited_s > end.max_wait_s
        if end.kind is EndKind.TIME:
            return self._step_s >= (end.duration_s or 0.0), False
        if end.kind is EndKind.OPERATOR:
            return self._operator_ok, False
        if end.kind is EndKind.CYCLES:
            assert step.breathe is not None
            return self._phase >= 2 * step.breathe.cycles, False
        if end.kind is EndKind.RELEASED:
            return obs.force_kn is not None and obs.force_kn < RELEASED_FORCE_KN, False
        if end.kind is EndKind.SOAK:
            if self._band_since_s is None:
                if self._all_in_band(obs, step.band_c):
                    self._band_since_s = self._step_s
                else:
                    return False, waited_too_long
            return self._step_s - self._band_since_s >= (end.soak_s or 0.0), False
        reached = self._targets_reached(step, obs)
        return reached, (not reached) and waited_too_long

    def _targets_reached(self, step: Step, obs: Observed) -> bool:
        temps_ok = step.temp is None or self._all_in_band(obs, step.band_c)
        if step.kind is StepKind.COOL:
            temps_ok = all(obs.temps_c.get(z) is not None and obs.temps_c[z] <= t + step.band_c
                           for z, t in self._temps.items())
        force_ok = True
        if step.pressure is not None and step.kind is not StepKind.COOL:
            force_ok = self._phase == 1 and self._force_reached(obs)
        return temps_ok and force_ok

    def _force_reached(self, obs: Observed) -> bool:
        if obs.force_kn is None:
            return False
        tol_kn = max(FORCE_REACHED_MIN_KN, FORCE_REACHED_FRAC * self._force_kn)
        return abs(obs.force_kn - self._force_kn) <= tol_kn

    def _all_in_band(self, obs: Observed, band_c: float) -> bool:
        for zone, target_c in self._temps.items():
            temp_c = obs.temps_c.get(zone)
            if temp_c is None or abs(temp_c - target_c) > band_c:
                return False
        return True

    def _breathe(self, step: Step, obs: Observed, dt_s: float) -> list[Event]:
        """Alternate between the low and the high pressure, dwelling at each once reached."""
        spec = step.breathe
        assert spec is not None and self.recipe is not None
        if self._phase >= 2 * spec.cycles:
            return []
        if not self._force_reached(obs):
            return []
        self._phase_s += dt_s
        if self._phase_s < spec.dwell_s:
            return []
        self._phase += 1
        self._phase_s = 0.0
        going_low = self._phase % 2 == 1 and self._phase < 2 * spec.cycles
        geo = self.recipe.geometry
        low_kn = spec.release_to_mpa * geo.area_m2 * 1e3 if geo else 0.0
        self._force_kn = low_kn if going_low else self._breathe_high_kn
        return [Event("breathe", f"breathe cycle {(self._phase + 1) // 2}/{spec.cycles}: "
                      f"{'release' if going_low else 're-press'}", self._where())]

    # ---- outputs ---------------------------------------------------------------------------
    def _targets(self, hold: bool = False) -> Targets:
        release = self._force_kn <= 0.0
        return Targets(temps_c=dict(self._temps), ramp_c_per_min=self._ramp,
                       force_kn=self._force_kn, rate_kn_per_s=self._rate, release=release,
                       hold_position=hold)

    def _where(self) -> dict[str, object]:
        return {"run_id": self.run_id, "step_index": self.step_index}

    # ---- progress for the operator ---------------------------------------------------------
    @property
    def step_elapsed_s(self) -> float:
        return self._step_s

    def eta(self) -> tuple[float | None, float | None]:
        """(seconds left in this step, seconds left in the run), from the plan's estimates."""
        if self.plan is None or self.current_step is None:
            return None, None
        steps = self.plan.steps
        k = self.step_index
        step_left_s = max(0.0, steps[k].duration_s - self._step_s)
        return step_left_s, step_left_s + sum(s.duration_s for s in steps[k + 1:])
