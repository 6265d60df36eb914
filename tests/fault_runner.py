"""Runs one fault scenario (`fault_scenarios.py`) end to end and measures what the press did.

The daemon runs the recipe on the simulated press in virtual time; at the scenario's moment the
fault is injected; the runner ticks until the supervisor trips, then checks what a trip must do:
SAFE_COMMANDS and safe GPIO levels in the trip's own tick, the fault latched for the ticks after
it, a reset refused while the fault is present and accepted once it is cleared, the run ended
`faulted` in the journal, and a `fault` event recorded. It only measures and collects: the test
asserts on the result, the benchmark prints it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.config.model import OutputConfig
from firmware.daemon import Daemon
from firmware.hal.outputs import SAFE_COMMANDS
from firmware.hal.types import PressureReading, TempReading
from firmware.run import journal as jr
from firmware.run.commands import Reply
from firmware.sim.press import SimPress
from tests import fault_scenarios as fs
from tests.fault_scenarios import Moment, Scenario, Special
from tests.helpers import sim_daemon

SETUP_MAX_S = 3600.0  # the latest moment (the release) comes ~2900 s into RECIPE
LATCH_TICKS = 20  # after the trip, this many ticks must stay SAFE and latched without a reset
CLEAR_MAX_S = 240.0  # after clearing, a reset must be accepted within this (a welded SSR's heat
#                      soak must first stop rising over a full runaway window)
RESET_EVERY_S = 1.0  # how often the runner retries the reset once the fault is cleared
GIVE_UP_FACTOR = 2.0  # wait this many bounds (and at least GIVE_UP_MIN_S) before "not caught"
GIVE_UP_MIN_S = 30.0

TickFn = Callable[[float], None]


@dataclass
class FaultRun:
    """What one scenario did; times are virtual seconds, temperatures and pressures true values."""

    scenario: Scenario
    bound_s: float
    inject_t_s: float | None = None
    trip_t_s: float | None = None
    codes: tuple[str, ...] = ()
    safe_tick_lag: int | None = None  # ticks from the trip until outputs and pins were safe
    latch_problems: list[str] = field(default_factory=list)
    peak_temp_c: float = -math.inf
    peak_line_mpa: float = -math.inf
    reset_while_present: Reply | None = None
    reset_after_clear: Reply | None = None
    clear_to_reset_s: float | None = None
    journal_outcome: str | None = None
    journal_fault_events: int = 0
    published_fault_events: int = 0
    false_trip: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def detect_s(self) -> float | None:
        """Injection to trip (s), or None when nothing tripped."""
        if self.inject_t_s is None or self.trip_t_s is None:
            return None
        return self.trip_t_s - self.inject_t_s

    @property
    def expected_code(self) -> bool:
        """The trip carried one of the scenario's expected codes."""
        return bool({c.value for c in self.scenario.expect} & set(self.codes))

    @property
    def caught(self) -> bool:
        """Tripped with an expected code within the bound."""
        d = self.detect_s
        return d is not None and self.expected_code and d <= self.bound_s


def unsafe_pins(press: SimPress) -> list[str]:
    """Every output whose GPIO level is not its safe state (empty when all are safe)."""
    cfg, level = press.cfg, press.pin_factory.level
    found = [f"ssr {z.name} on" for z in cfg.zones if z.ssr_pin is not None
             and level(z.ssr_pin) == (1.0 if z.ssr_active_high else 0.0)]
    hyd = cfg.hydraulics
    if hyd is None:  # a manual press: the software drives no pump or valve
        return found
    outs: list[tuple[str, OutputConfig | None]] = [
        ("pump", hyd.pump), ("advance valve", hyd.advance_valve),
        ("press valve", hyd.press_valve), ("release valve", hyd.release_valve)]
    for name, out in outs:
        if out is None:
            continue
        energised = level(out.pin) == (1.0 if out.active_high else 0.0)
        if energised != out.safe_energised:
            found.append(f"{name} {'energised' if energised else 'de-energised'}")
    release = hyd.release_valve
    if (level(release.pin) == (1.0 if release.active_high else 0.0)) == release.normally_open:
        found.append("release valve closed")
    if hyd.proportional_valve is not None and level(hyd.proportional_valve.pin) != 0.0:
        found.append("proportional valve not at 0")
    return found


class MomentWatch:
    """Says when a run has reached a `Moment` (called after every tick)."""

    def __init__(self, moment: Moment) -> None:
        self.moment = moment
        self._since: float | None = None

    def __call__(self, d: Daemon) -> bool:
        sample, step = d.core.last_sample, d.core.engine.step_index
        if sample is None or d.core.run is None:
            return False
        phase = d.core.pressure.phase.value
        now = d.clock.now()
        if self.moment is Moment.HEAT_RAMP:
            top = sample.temps.get("top")
            return (step == fs.STEP_HEAT and isinstance(top, TempReading)
                    and top.temp_c >= fs.HEAT_RAMP_AT_C)
        if self.moment is Moment.PRESS_RAMP:
            p = sample.pressure
            return (step == fs.STEP_PRESS and phase == "ramp" and isinstance(p, PressureReading)
                    and p.pressure_mpa >= fs.PRESS_RAMP_AT_MPA)
        if self.moment is Moment.RELEASE:
            return step == fs.STEP_RELEASE
        wanted, phase_wanted, after_s = (
            (fs.STEP_HOLD, phase, fs.HOLD_AFTER_S) if self.moment is Moment.HOLD
            else (fs.STEP_CONTACT, "approach", fs.APPROACH_AFTER_S))
        if step != wanted or phase != phase_wanted:
            self._since = None
            return False
        self._since = now if self._since is None else self._since
        return now - self._since >= after_s


class Runner:
    """One scenario on a fresh daemon under `root` (a directory of its own)."""

    def __init__(self, scenario: Scenario, root: Path) -> None:
        self.sc = scenario
        self.root = root
        self.daemon, self.press, self.clock = sim_daemon(root)
        self.run = FaultRun(scenario, scenario.bound(self.daemon.bundle.safety, self.daemon.cfg))
        self.tick_fn: TickFn = self.daemon.tick
        self.run_id: str | None = None
        self._tripped: set[tuple[object, str]] = set()  # (code, subject) of the trip's faults

    # ---- driving ---------------------------------------------------------------------------
    def step(self) -> None:
        """One scheduled tick; the true plant peaks are tracked once the fault is in."""
        self.daemon.scheduler.run_once(self.tick_fn)
        if self.run.inject_t_s is not None:
            truth = self.press.truth()
            temps = [v for k, v in truth.items() if k.startswith("platen_")]
            self.run.peak_temp_c = max(self.run.peak_temp_c, *temps)
            self.run.peak_line_mpa = max(self.run.peak_line_mpa, truth["line_pressure_mpa"])

    def new_faults(self) -> tuple[Any, ...]:
        result = self.daemon.last_result
        return result.verdict.new_faults if result is not None else ()

    def reset(self) -> Reply:
        """Submit a reset and run the tick that applies it."""
        replies: list[Reply] = []
        self.daemon.submit("reset", {}, replies.append)
        self.step()
        return replies[0]

    # ---- the scenario ----------------------------------------------------------------------
    def execute(self) -> FaultRun:
        """Setup, inject, detect, latch, reset, clear, journal: see the module docstring."""
        try:
            if self._setup() and self._detect():
                self._latch()
                self._count_published()
                self._reset_and_clear()
            self._read_journal()
        finally:
            self.daemon.close()
        return self.run

    def _setup(self) -> bool:
        replies: list[Reply] = []
        self.daemon.submit("start", {"recipe_toml": fs.RECIPE, "sample_id": self.sc.name,
                                     "operator": "fault catalogue"}, replies.append)
        watch = MomentWatch(self.sc.moment)
        while not watch(self.daemon):
            self.step()
            if replies and replies[0].status != "accepted":
                self.run.notes.append(f"start refused: {replies[0].reason}")
                return False
            if replies and self.run_id is None:
                self.run_id = replies[0].data["run_id"]
            if self.new_faults():
                self.run.false_trip = self.new_faults()[0].describe()
                return False
            if self.clock.now() > SETUP_MAX_S or (self.daemon.core.run is None and self.run_id):
                self.run.notes.append(f"never reached {self.sc.moment.value}")
                return False
        self._inject()
        return True

    def _inject(self) -> None:
        self.run.inject_t_s = self.clock.now()
        if self.sc.fault is Special.JOURNAL_UNWRITABLE:
            assert self.daemon.journal is not None
            full = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC, a full disk
            os.dup2(full, self.daemon.journal._fd)
            os.close(full)
        elif self.sc.fault is Special.LOOP_OVERRUNS:
            self.tick_fn = self._late_tick
        else:
            self.press.inject(self.sc.fault, self.sc.target, self.sc.value)

    def _late_tick(self, now_s: float) -> None:
        """A hogged tick: it ends OVERRUN_TICK_S after its deadline, whatever it did itself."""
        self.daemon.tick(now_s)
        self.clock.sleep_until(now_s + fs.OVERRUN_TICK_S)

    def _clear(self) -> None:
        if self.sc.fault is Special.LOOP_OVERRUNS:
            self.tick_fn = self.daemon.tick
        elif isinstance(self.sc.fault, Special):
            return
        else:
            self.press.clear(self.sc.fault, self.sc.target)

    def _detect(self) -> bool:
        assert self.run.inject_t_s is not None
        give_up_s = self.run.inject_t_s + max(GIVE_UP_FACTOR * self.run.bound_s, GIVE_UP_MIN_S)
        while not self.new_faults():
            if self.clock.now() > give_up_s:
                self.run.notes.append("no trip")
                return False
            self.step()
        faults = self.new_faults()
        self.run.trip_t_s = faults[0].t_s
        self.run.codes = tuple(f.code.value for f in faults)
        self._tripped = {f.key for f in faults}
        lag = 0
        while not self._outputs_safe():
            lag += 1
            self.step()
            if lag > LATCH_TICKS:
                break
        self.run.safe_tick_lag = lag
        return True

    def _outputs_safe(self) -> bool:
        result = self.daemon.last_result
        return (result is not None and result.commands == SAFE_COMMANDS
                and not unsafe_pins(self.press))

    def _latch(self) -> None:
        for _ in range(LATCH_TICKS):
            self.step()
            result = self.daemon.last_result
            latched = {f.key for f in result.verdict.latched} if result is not None else set()
            if not self._tripped <= latched:
                self.run.latch_problems.append(f"unlatched at {self.clock.now():.1f} s")
            if not self._outputs_safe():
                self.run.latch_problems.append(
                    f"outputs not safe at {self.clock.now():.1f} s: {unsafe_pins(self.press)}")

    def _reset_and_clear(self) -> None:
        if self.sc.refused_while_present:
            self.run.reset_while_present = self.reset()
        self._clear()
        if self.sc.fault is Special.JOURNAL_UNWRITABLE:
            return self._restart()
        cleared_s = self.clock.now()
        while self.clock.now() - cleared_s <= CLEAR_MAX_S:
            reply = self.reset()
            if reply.status == "accepted":
                self.run.reset_after_clear = reply
                self.run.clear_to_reset_s = self.clock.now() - cleared_s
                return None
            self.run.reset_after_clear = reply
            for _ in range(round(RESET_EVERY_S * self.daemon.cfg.loop.tick_hz) - 1):
                self.step()
        return None

    def _restart(self) -> None:
        """An unwritable journal is cleared by restarting hotpressd (it says so when refusing)."""
        self.daemon.close()
        self.daemon, self.press, self.clock = sim_daemon(self.root)
        self.tick_fn = self.daemon.tick
        self.step()
        latched = self.daemon.last_result is not None and self.daemon.last_result.verdict.latched
        self.run.reset_after_clear = Reply("rejected" if latched else "accepted",
                                           "restarted hotpressd")
        self.run.clear_to_reset_s = 0.0

    def _count_published(self) -> None:
        self.run.published_fault_events = sum(
            1 for e in self.daemon.events_seen if e["kind"] == "fault"
            and e["data"].get("code") in {c.value for c in self.sc.expect})

    def _read_journal(self) -> None:
        if self.run_id is None:
            return
        self.run.journal_outcome = jr.summarize(self.root, self.run_id).outcome
        self.run.journal_fault_events = sum(
            1 for r in jr.iter_records(self.root, self.run_id)
            if r.get("type") == "event" and r.get("kind") == "fault")


def run_scenario(scenario: Scenario, root: Path) -> FaultRun:
    """Run `scenario` on a fresh simulated press journaling under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    return Runner(scenario, root).execute()


@dataclass
class CleanRun:
    """A fault-free run: every trip is a false trip; warnings are counted by code."""

    outcome: str | None = None
    false_trips: list[str] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)
    virtual_s: float = 0.0
    peak_temp_c: float = -math.inf


def run_clean(root: Path, duration_s: float = fs.CLEAN_RUN_S) -> CleanRun:
    """`CLEAN_RECIPE` on the healthy simulated press (its default noise and sporadic frames),
    then idle until `duration_s` of virtual time has passed."""
    root.mkdir(parents=True, exist_ok=True)
    daemon, press, clock = sim_daemon(root)
    out = CleanRun()
    replies: list[Reply] = []
    daemon.submit("start", {"recipe_toml": fs.CLEAN_RECIPE, "sample_id": "clean",
                            "operator": "fault catalogue"}, replies.append)
    try:
        while clock.now() < duration_s:
            daemon.scheduler.run_once(daemon.tick)
            verdict = daemon.last_result.verdict if daemon.last_result else None
            if verdict is None:
                continue
            out.false_trips += [f.describe() for f in verdict.new_faults]
            for w in verdict.warnings:
                out.warnings[w.code.value] = out.warnings.get(w.code.value, 0) + 1
            if daemon.scheduler.ticks % 10 == 0:
                truth = press.truth()
                out.peak_temp_c = max(out.peak_temp_c, truth["platen_top_c"],
                                      truth["platen_bottom_c"])
        out.virtual_s = clock.now()
    finally:
        daemon.close()
    if replies and replies[0].status == "accepted":
        out.outcome = jr.summarize(root, replies[0].data["run_id"]).outcome
    return out
