"""The daemon's imperative shell: clock, hardware, loop and signals around the tick logic.

Order of one tick: read sensors, let the logic decide, apply outputs. Safety on the way in and
out: every output is driven safe as the hardware is opened, and again on any exit (normal end,
exception, SIGTERM, Ctrl-C) before the pins are released.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Protocol

from firmware.clock import Clock
from firmware.config.model import PressConfig
from firmware.hal.backend import Backend, make_backend
from firmware.hal.outputs import SAFE_COMMANDS, OutputCommands
from firmware.hal.press_io import PressIO, Sample
from firmware.hal.types import SensorFault
from firmware.run.scheduler import Scheduler, request_realtime

LOG_PERIOD_S = 1.0  # one status line a second of press time: readable, and enough to follow a run


class TickLogic(Protocol):
    """What decides the outputs from a sample: manual outputs now, the run engine later."""

    def tick(self, sample: Sample, now_s: float) -> OutputCommands: ...


class ManualOutputs:
    """Outputs held as last set through `set()`: the small API tests and the demo drive."""

    def __init__(self) -> None:
        self.commands = SAFE_COMMANDS

    def set(self, commands: OutputCommands) -> None:
        """Hold `commands` from the next tick on."""
        self.commands = commands

    def tick(self, sample: Sample, now_s: float) -> OutputCommands:
        return self.commands


def format_sample(sample: Sample, ram_area_m2: float) -> str:
    """One human line: every temperature, pressure, force, position and switch."""
    parts = [f"t={sample.time_s:8.1f}s"]
    for name, r in sample.temps.items():
        parts.append(f"{name} {r.kind.name}" if isinstance(r, SensorFault)
                     else f"{name} {r.temp_c:6.2f}C")
    p = sample.pressure
    if isinstance(p, SensorFault):
        parts.append(f"line {p.kind.name}")
    else:
        force_kn = p.pressure_mpa * ram_area_m2 * 1e3
        parts.append(f"line {p.pressure_mpa:6.2f}MPa force {force_kn:6.1f}kN")
    if sample.position is not None and not isinstance(sample.position, SensorFault):
        parts.append(f"ram {sample.position.position_mm:5.2f}mm")
    parts.append("ESTOP" if sample.estop else "estop ok")
    parts.append("GUARD OPEN" if sample.guard_open else "guard closed")
    return "  ".join(parts)


class Daemon:
    """Runs `logic` on the press every tick until stopped; leaves every output safe."""

    def __init__(self, cfg: PressConfig, clock: Clock, logic: TickLogic,
                 backend: Backend | None = None, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.clock = clock
        self.logic = logic
        self.log = log
        self.backend = backend if backend is not None else make_backend(cfg, clock)
        self.io = PressIO(cfg, self.backend, clock)
        self.scheduler = Scheduler(clock, 1.0 / cfg.loop.tick_hz)
        self.last_sample: Sample | None = None
        self._next_log_s = clock.now()

    def tick(self, now_s: float) -> None:
        sample = self.io.read()
        self.last_sample = sample
        try:
            commands = self.logic.tick(sample, now_s)
        except Exception:
            self.io.safe()
            raise
        self.io.apply(commands)
        if now_s >= self._next_log_s:
            self.log(format_sample(sample, self.cfg.ram_area_m2))
            self._next_log_s += LOG_PERIOD_S

    def run(self, duration_s: float | None = None) -> None:
        """Tick until `stop()`, a signal, or `duration_s` of clock time; outputs safe on exit."""
        end_s = None if duration_s is None else self.clock.now() + duration_s
        request_realtime()
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for s in previous:
                signal.signal(s, lambda *_: self.scheduler.stop())
        except ValueError:
            previous = {}  # not the main thread: the caller handles signals
        try:
            while not self.scheduler._stop and (end_s is None or self.clock.now() < end_s):
                self.scheduler.run_once(self.tick)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.close()

    def stop(self) -> None:
        self.scheduler.stop()

    def close(self) -> None:
        """Outputs safe, pins released. Safe to call twice."""
        self.io.close()
